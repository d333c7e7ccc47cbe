// DiskTier: tier 2, cached blocks in files under a local directory that
// survive unmount, restart and kill -9 (format: disk_format.h).
//
// Open() takes an exclusive flock on <dir>/LOCK (a second daemon fails with a
// clear error), removes temp files a crash left, and rebuilds the index from
// file names alone. Reads verify every page checksum and the header's
// identity; a file that fails is removed and counted, and the caller fetches
// the bytes again. Writes build a new file in <dir>/tmp and rename it into
// place. Usage (committed files plus writes under way) stays at or below the
// limit, and the file system keeps `free_floor_bytes` free: when it has less,
// blocks are evicted until it has more or none are left.
//
// Ownership: owned by the BlockCache. Thread safety: all methods may be called
// from any thread; Write() is called by the write-back writers, never twice at
// once for the same block (it merges with the block's file on disk). mu_ is a
// leaf lock; file data is read and written outside it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cache/cache_key.h"
#include "cache/disk_io.h"
#include "cache/put_tokens.h"
#include "strata/block_cache.h"
#include "strata/eviction_policy.h"

namespace strata::cache {

struct DiskTierOptions {
  std::string dir;
  uint64_t limit_bytes = 0;
  uint64_t free_floor_bytes = 0;
  std::string policy = "s3fifo";
  Geometry geometry;
  std::shared_ptr<PageArena> arena;  // page buffers of reads; null: the heap
};

class DiskTier {
 public:
  static Result<std::unique_ptr<DiskTier>> Open(const DiskTierOptions& options,
                                                std::shared_ptr<DiskIo> io);
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // Reads the resident pages among [first, last] (indices inside `block`) of
  // `v` into out[i - first], verified. Returns how many were read.
  size_t Read(const ObjectVersion& v, VersionHash h, uint64_t block, uint32_t first, uint32_t last,
              PageData* out);

  // Whether the index lists page `page` of `block`; no I/O, no statistics.
  bool Contains(VersionHash h, uint64_t block, uint32_t page);
  // The pages of `block` on disk (empty when none).
  PageMask ResidentPages(VersionHash h, uint64_t block);

  // Stores pages of `block` of the token's version (object of `object_size`
  // bytes), merged with the pages of that block already on disk, unless the
  // token is invalidated first. Failures are counted and logged once.
  void Write(const PutToken& token, uint64_t object_size, uint64_t block,
             const std::vector<std::pair<uint32_t, PageData>>& pages);

  // Drops every block of (store, key) whose etag is not keep_etag (empty: all).
  void DropObject(const std::string& store, const std::string& key, const std::string& keep_etag);

  // Evicts while the file system has less than the free-space floor.
  void EnforceFreeFloor();

  TierStats Stats() const;
  size_t entries() const;

 private:
  struct Entry {
    uint64_t object = 0;
    uint64_t version = 0;
    uint64_t block = 0;
    PageMask mask;
    uint64_t bytes = 0;  // charged against the limit
  };

  DiskTier(const DiskTierOptions& options, std::shared_ptr<DiskIo> io);
  Status LockDirectory();
  Status PrepareLayout();
  Status LoadIndex();
  std::string PathOf(uint64_t id, const Entry& e) const;
  // Reads pages [first, last] ∩ e.mask and verifies them; false (file removed,
  // failure counted) if anything is wrong.
  bool ReadVerified(uint64_t id, const Entry& e, const ObjectVersion& v, VersionHash h,
                    uint32_t first, uint32_t last, PageData* out);
  // Removes a file and its entry if the index still holds exactly `e`.
  void DropIfSame(uint64_t id, const Entry& e);
  void EraseLocked(uint64_t id);  // entry and file; caller holds mu_
  // Evicts until `bytes` more fit under the limit and above the floor.
  bool MakeRoomLocked(uint64_t bytes);
  void WriteFailed(const Status& status);

  const DiskTierOptions options_;
  const std::shared_ptr<DiskIo> io_;
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> index_;  // by BlockId; guarded by mu_
  std::unique_ptr<EvictionPolicy> policy_;     // guarded by mu_
  uint64_t used_ = 0;                          // guarded by mu_
  uint64_t reserved_ = 0;                      // writes under way; guarded by mu_
  uint64_t temp_seq_ = 0;                      // guarded by mu_
  bool warned_write_ = false;                  // guarded by mu_

  std::atomic<uint64_t> hits_{0}, misses_{0}, hit_bytes_{0}, inserted_bytes_{0}, evictions_{0},
      checksum_failures_{0}, write_errors_{0};
};

}  // namespace strata::cache
