// FileReader: how the filesystem core reads the bytes of one open file.
//
// vfs asks a ReaderFactory for a FileReader at open() and drops it at
// release(). The factory decides the strategy: straight from the store, or
// through the block cache with an access-pattern detector and prefetcher.
// vfs knows nothing of which.
//
// Thread safety: a FileReader may be called from several FUSE threads at once
// (the kernel issues parallel reads on one handle); implementations lock what
// they need. A ReaderFactory is shared by all handles.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "strata/object_store.h"
#include "strata/status.h"

namespace strata {

class FileReader {
 public:
  virtual ~FileReader() = default;
  // Reads up to dst.size() bytes at offset into dst; returns the count, which
  // is short only at the end of the file. Stale if the object changed.
  virtual Result<size_t> Read(uint64_t offset, std::span<char> dst) = 0;
};

class ReaderFactory {
 public:
  virtual ~ReaderFactory() = default;
  // Called at open(); `inode` lets a factory keep per-file history across
  // opens (an access pattern remembered by inode).
  virtual std::unique_ptr<FileReader> Open(uint64_t inode, const ObjectVersion& version) = 0;
};

// Reads straight from the store, no cache: the baseline and the fallback.
std::unique_ptr<ReaderFactory> MakeDirectReaderFactory(std::shared_ptr<ObjectStore> store);

}  // namespace strata
