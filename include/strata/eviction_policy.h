// EvictionPolicy: which cached block to drop next, as a small strategy
// interface (cf. CacheLib navy/block_cache/EvictionPolicy.h).
//
// A tier tells the policy about every entry it holds (OnInsert, OnResize,
// OnAccess, OnRemove) and asks it for a victim (PickVictim) until the new
// bytes fit: the tier evicts before it inserts, so its usage never exceeds its
// limit. Entries are identified by a 64-bit id that the tier keeps unique
// (the hash of the block's key). Sizes are in bytes, because a block may hold
// only some of its pages.
//
// Policies:
//  - "s3fifo" (default): S3-FIFO (Yang et al., SOSP'23): a small probationary
//    FIFO (10% of the bytes), a main FIFO with 2-bit frequency and second
//    chance, and a ghost FIFO of recently evicted ids whose return goes
//    straight to main. One change for ML epochs: while the main queue is not
//    yet full, entries leaving the small queue are kept in main instead of
//    being dropped. A cyclic scan over a data set larger than the cache then
//    keeps a stable part of it (about 45% block hits for twice the cache size)
//    instead of churning through everything as LRU and plain FIFO do.
//    Readahead: an entry inserted ahead of a predicted read (OnInsertPredicted)
//    waits in a protected FIFO, outside small and main, until its first read
//    (OnFirstRead), which counts as its arrival: it then joins small like a
//    demand-read entry. The protected FIFO holds at most `predicted_bytes`;
//    beyond that, or once `capacity_bytes` of newer entries have arrived
//    since it was inserted, its oldest entry joins small unread. Unread
//    readahead counts toward the small queue's share, and main does not grow
//    into the room readahead took at its peak over the last turnover. So
//    readahead larger than the small queue is not evicted before the reader
//    gets to it, and a cyclic scan read through the prefetcher keeps a stable
//    part of the data set: (capacity - readahead) / data set at best, i.e.
//    what it keeps without readahead while the window stays under 10% of the
//    capacity (tests/cache/readahead_eviction_test.cc).
//  - "lru": plain least-recently-used, kept for comparison.
//
// Ownership: owned by one tier (or one shard of a tier).
// Thread safety: none; the owning tier serializes every call under its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "strata/status.h"

namespace strata {

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;

  // A new entry of `bytes` bytes became resident. `id` must not be resident.
  virtual void OnInsert(uint64_t id, uint64_t bytes) = 0;
  // A resident entry grew or shrank (pages were added to a block).
  virtual void OnResize(uint64_t id, uint64_t bytes) = 0;
  // A new entry filled ahead of a predicted read (readahead), not read yet.
  // The default treats it as any other insert.
  virtual void OnInsertPredicted(uint64_t id, uint64_t bytes) { OnInsert(id, bytes); }
  // A resident entry was read again: a read of bytes already read before
  // that does not just continue the previous read (a sequential reader going
  // through a block in several reads references it once).
  virtual void OnAccess(uint64_t id) = 0;
  // A resident entry was read, but not re-read (see OnAccess): the first read
  // after a (predicted or demand) insert, or a continuation. The default
  // treats it as an access, which keeps recency-based policies unchanged.
  virtual void OnFirstRead(uint64_t id) { OnAccess(id); }
  // Chooses the next entry to evict and forgets it; the caller must drop it.
  // nullopt when nothing is resident.
  virtual std::optional<uint64_t> PickVictim() = 0;
  // A resident entry was dropped for another reason (invalidation, checksum
  // failure). Unknown ids are ignored.
  virtual void OnRemove(uint64_t id) = 0;

  virtual uint64_t entries() const = 0;
  virtual const char* name() const = 0;
};

// Makes the policy called `name` ("s3fifo" or "lru") for a tier (or shard)
// holding up to `capacity_bytes`, of which up to `predicted_bytes` (at most
// half the capacity) may be protected readahead. InvalidArgument for an
// unknown name.
Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                           uint64_t capacity_bytes,
                                                           uint64_t predicted_bytes);
// The same with predicted_bytes = capacity_bytes / 2.
Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                           uint64_t capacity_bytes);

}  // namespace strata
