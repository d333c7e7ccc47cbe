// MemoryTier: tier 1, the in-process cache of pages, sharded by block id and
// bounded in bytes. Reads copy out of shared, immutable page buffers, so a
// shard's lock is held only for the hash lookup, never during a copy, a fetch
// or disk I/O. Each shard has its own eviction policy and evicts before it
// inserts: usage never exceeds the limit.
//
// Ownership: owned by the BlockCache. Thread safety: all methods may be called
// from any thread. Lock order: a shard lock is a leaf.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cache/cache_key.h"
#include "cache/put_tokens.h"
#include "strata/block_cache.h"
#include "strata/eviction_policy.h"

namespace strata::cache {

// Why pages are inserted: a demand read needs them now; a fill makes them
// resident ahead of a predicted read (readahead).
enum class InsertKind : uint8_t { kDemand, kPredicted };

class MemoryTier {
 public:
  // `predicted_bytes`: unread readahead protected from eviction in each shard
  // (each policy caps it at half its shard).
  static Result<std::unique_ptr<MemoryTier>> Create(Geometry geometry, uint64_t limit_bytes,
                                                    std::string_view policy,
                                                    uint64_t predicted_bytes);

  // Pages [first, last] (indices inside `block`) of version `v`: out[i - first]
  // is set to each resident page (left as is otherwise). Counts hits and
  // misses; leaves recency alone (NoteRead does that). Returns how many pages
  // were found.
  size_t Lookup(const ObjectVersion& v, VersionHash h, uint64_t block, uint32_t first,
                uint32_t last, PageData* out);

  // Whether page `page` of `block` is resident; no statistics, no recency.
  bool Contains(const ObjectVersion& v, VersionHash h, uint64_t block, uint32_t page);

  // Inserts pages of `block` of the token's version, unless the token was
  // invalidated. Pages already resident are kept.
  void Insert(const PutToken& token, uint64_t block,
              const std::vector<std::pair<uint32_t, PageData>>& pages,
              InsertKind kind = InsertKind::kDemand);

  // Tells the policy that bytes [begin, end) (offsets inside `block`) were
  // returned to a reader: a re-read if it touches a page read before and does
  // not just continue the previous read of the block, else a first read.
  void NoteRead(const ObjectVersion& v, VersionHash h, uint64_t block, uint64_t begin,
                uint64_t end);

  // A reader has passed `block` of version `v`: drops it if every page it
  // holds is set in `covered` (the pages another tier holds), so no page
  // leaves the cache; otherwise marks it for ReleaseWritten. Not an eviction:
  // counted as a release.
  enum class DropResult : uint8_t { kAbsent, kDropped, kMarked };
  DropResult DropIfCovered(const ObjectVersion& v, VersionHash h, uint64_t block,
                           const PageMask& covered);
  // After pages of `block` reached another tier (now holding `covered`):
  // drops the block if a reader has passed it (DropIfCovered marked it) and
  // `covered` holds all its pages. Returns whether it was dropped.
  bool ReleaseWritten(const VersionKey& version, uint64_t block, const PageMask& covered);

  // Drops every block of (store, key) whose etag is not keep_etag (empty: all).
  void DropObject(const std::string& store, const std::string& key, const std::string& keep_etag);

  TierStats Stats() const;
  size_t shard_count() const { return shards_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const VersionKey> version;
    uint64_t block = 0;
    std::vector<PageData> pages;  // pages_per_block slots; null: not resident
    uint64_t bytes = 0;
    PageMask read;          // pages returned to a reader since the block was inserted
    uint64_t read_end = 0;  // end (offset in the block) of the latest read
    bool passed = false;    // a reader has passed the block (DropIfCovered)
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<uint64_t, Entry> entries;  // by BlockId; guarded by mu
    std::unique_ptr<EvictionPolicy> policy;       // guarded by mu
    uint64_t used = 0;                            // guarded by mu
    uint64_t limit = 0;
  };

  MemoryTier(Geometry geometry, uint64_t limit_bytes) : geometry_(geometry), limit_(limit_bytes) {}
  Shard& ShardFor(uint64_t id) { return *shards_[id % shards_.size()]; }
  // Removes one entry of a locked shard.
  void RemoveLocked(Shard& shard, std::unordered_map<uint64_t, Entry>::iterator it);
  // Whether `covered` holds every resident page of `entry`.
  static bool Covers(const Entry& entry, const PageMask& covered);

  const Geometry geometry_;
  const uint64_t limit_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, hit_bytes_{0}, inserted_bytes_{0}, evictions_{0},
      releases_{0};
};

}  // namespace strata::cache
