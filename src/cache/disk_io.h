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
  // `parts`. On error nothing is left behind.
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

// The real thing: POSIX calls on the local file system.
std::shared_ptr<DiskIo> PosixDiskIo();

}  // namespace strata::cache
