// DirPrefetcher: fetches ahead the small files of directories that readers
// are going through file by file (an ImageFolder under a DataLoader: every
// JPEG read whole, in a shuffled order, by several worker processes).
//
// Per file, strata already fetches a small object in one GET on its first
// read; what is left is the round trip itself, paid by a loader worker that
// sits idle meanwhile. Once `trigger_files` distinct small files of one
// directory have been opened, the directory "warms": its other small files
// (size <= small_file_threshold) are queued and filled into the BlockCache by
// `threads` background threads, so a later open finds its bytes cached and
// the file still costs exactly one GET. Reading one or two files of a large
// directory costs nothing extra.
//
// Bounds: bytes fetched ahead and not yet opened are at most `budget_bytes`
// across all directories; the pump stops there and resumes as files are
// opened. A prefetched file not opened within `ahead_expiry` stops counting
// against the budget and is counted as wasted. At most `max_dirs`
// directories are tracked (the oldest are forgotten). A shuffled epoch over a
// dataset larger than the budget (or the cache) gains less, never more
// requests than one per file while the cache holds what was fetched.
//
// Ownership: one per mount, owned by the mount context and called by the VFS
// on every open. Thread safety: all methods may be called from any thread.
// The destructor drops queued fills and joins running ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "strata/block_cache.h"
#include "strata/clock.h"
#include "strata/object_store.h"

namespace strata {

struct DirPrefetchOptions {
  uint32_t trigger_files = 3;  // distinct small files opened before a directory warms
  uint64_t small_file_threshold = 4ull << 20;
  uint64_t budget_bytes = 1ull << 30;  // fetched ahead and not opened yet; 0: off
  uint32_t threads = 8;                // fills in flight
  uint32_t max_dirs = 4096;
  std::chrono::seconds ahead_expiry{600};
};

struct DirPrefetchStats {
  uint64_t dirs_warmed = 0;
  uint64_t files_queued = 0;
  uint64_t files_fetched = 0;  // fills issued (a file already cached is skipped, not counted)
  uint64_t bytes_fetched = 0;
  uint64_t files_used = 0;    // fetched ahead, then opened
  uint64_t files_wasted = 0;  // fetched ahead, not opened within ahead_expiry
  uint64_t fill_errors = 0;
  uint64_t ahead_bytes = 0;  // now: fetched ahead and not opened
};

class DirPrefetcher {
 public:
  // Lists the small-or-not files of the opened file's directory; called at
  // most once per directory (when it warms), outside any lock.
  using DirLister = std::function<std::vector<ObjectVersion>()>;

  DirPrefetcher(std::shared_ptr<BlockCache> cache, DirPrefetchOptions options,
                std::shared_ptr<Clock> clock);
  ~DirPrefetcher();
  DirPrefetcher(const DirPrefetcher&) = delete;
  DirPrefetcher& operator=(const DirPrefetcher&) = delete;

  // `file` (in directory `dir`, any stable id such as its inode) was opened.
  void NoteOpen(const ObjectVersion& file, uint64_t dir, const DirLister& list_dir);

  // Blocks until nothing is queued or in flight (tests, benchmarks).
  void WaitIdle();

  DirPrefetchStats Stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata
