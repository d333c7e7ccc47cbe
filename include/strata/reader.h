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
#include <utility>

#include "strata/object_store.h"
#include "strata/read_buffers.h"
#include "strata/status.h"

namespace strata {

class FileReader {
 public:
  virtual ~FileReader() = default;
  // Reads up to dst.size() bytes at offset into dst; returns the count, which
  // is short only at the end of the file. Stale if the object changed.
  virtual Result<size_t> Read(uint64_t offset, std::span<char> dst) = 0;

  // The same bytes as Read(offset, dst) with dst.size() == size, handed over
  // by reference (see read_buffers.h) so that a reply can be sent without a
  // copy. This default reads into one fresh buffer; a reader backed by the
  // block cache returns the cache's page buffers instead.
  virtual Result<ReadBuffers> ReadPinned(uint64_t offset, size_t size) {
    ReadBuffers out;
    if (size == 0) return out;
    std::shared_ptr<char[]> buffer(new char[size]);
    char* bytes = buffer.get();
    Result<size_t> n = Read(offset, std::span<char>(bytes, size));
    if (!n.ok()) return n.status();
    out.Append(std::span<const char>(bytes, *n), std::move(buffer));
    return out;
  }
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
