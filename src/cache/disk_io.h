// DiskIo: the file operations of the disk tier and nothing else — it moves
// bytes; checksums, accounting and eviction live in DiskTier (cf. leveldb's
// Env and CacheLib's navy Device). Tests wrap it to inject faults: failed
// writes (disk full), low free space.
//
// Ownership: shared by the disk tier and whoever made it (tests).
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "strata/status.h"

namespace strata::cache {

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to the total size of `dsts` from `offset` into the spans in
  // order; returns the bytes read (short at end of file).
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<const std::span<char>> dsts) = 0;
};

class DiskIo {
 public:
  virtual ~DiskIo() = default;
  virtual Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) = 0;
  // Creates `path` (which must not exist) holding the concatenation of
  // `parts`. On error nothing is left behind. The buffers must stay unchanged
  // until it returns. Nothing is synced: callers rename the file into place
  // and rely on checksums, not on durability.
  virtual Status WriteNewFile(const std::string& path,
                              const std::vector<std::span<const char>>& parts) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Names in directory `dir` (without "." and "..").
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;
  // Bytes available to unprivileged users on the file system holding `dir`.
  virtual Result<uint64_t> FreeBytes(const std::string& dir) = 0;
};

// How the POSIX DiskIo writes new files.
enum class DiskWrites {
  // O_DIRECT for the leading parts of a file whose address and length are
  // multiples of kDirectAlign (small unaligned ones, such as a block header,
  // go through an aligned copy), buffered from the first part that is
  // neither (an object's short last page, a heap buffer) on: cached pages
  // from a PageArena (page-aligned slots) skip the copy into the kernel's page
  // cache and its later writeback. If the file system refuses O_DIRECT
  // (EINVAL, e.g. some FUSE or overlay file systems), that DiskIo writes
  // buffered from then on.
  kDirect,
  // Plain buffered writes through the page cache.
  kBuffered,
};

// The alignment of address, length and file offset that O_DIRECT is asked for.
inline constexpr size_t kDirectAlign = 4096;

// The real thing: POSIX calls on the local file system. The bytes in the
// files are the same in either mode.
std::shared_ptr<DiskIo> PosixDiskIo(DiskWrites writes = DiskWrites::kDirect);

}  // namespace strata::cache
