// BlockCache: strata's tiered cache of object bytes (memory, then local disk),
// keyed by object version and block index.
//
// Layout: an object version is cut into blocks of `block_size` bytes (default
// 1 MiB); validity is tracked per page of `page_size` bytes (default 64 KiB)
// inside a block, so a random small read caches only the pages it fetched.
//
// Reads: Read() serves what is cached and fetches the missing pages through
// the RangeFetcher given at Open(), coalescing adjacent missing pages into one
// fetch. Fills are single-flight: concurrent misses on the same page share one
// fetch. Fill() makes a range resident without copying it anywhere; the
// prefetcher uses it from its own threads to read ahead.
//
// Integrity: every page on disk carries an xxHash3 checksum bound to (store,
// key, etag, offset); a page that fails it is dropped, re-fetched and counted.
// A fill that races Invalidate() never re-inserts the stale version.
//
// Ownership: one per mount, owned by the mount context, shared by every
// FileReader. Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "strata/clock.h"
#include "strata/object_store.h"
#include "strata/read_buffers.h"
#include "strata/status.h"

namespace strata {

struct BlockCacheOptions {
  uint64_t block_size = 1 << 20;
  uint64_t page_size = 64 << 10;
  uint64_t memory_bytes = 1ull << 30;           // tier 1 limit
  std::string disk_dir;                         // tier 2 directory; empty: no disk tier
  uint64_t disk_bytes = 10ull << 30;            // tier 2 limit
  uint64_t disk_free_floor_bytes = 1ull << 30;  // keep this much free on the disk
  std::string eviction = "s3fifo";              // eviction policy name
  // Bytes made resident by Fill() and not read yet that the memory tier keeps
  // from eviction (at most half of it): set it to the prefetcher's budget.
  uint64_t predicted_bytes = 1ull << 30;
};

// Fetches bytes [offset, offset + dst.size()) of `version` into dst from the
// store; returns bytes written (short only at the end of the object).
using RangeFetcher = std::function<Result<size_t>(const ObjectVersion& version, uint64_t offset,
                                                  std::span<char> dst)>;
// The same into consecutive buffers filled in order as if they were one (a
// scatter read, ObjectStore::GetRangeInto): the cache hands its page buffers
// over and the bytes land there with no staging buffer and no copy.
using ScatterFetcher = std::function<Result<size_t>(const ObjectVersion& version, uint64_t offset,
                                                    std::span<const std::span<char>> dst)>;
// A contiguous fetcher as a scatter one, through one staging buffer per fetch
// (tests and simple stores). Null stays null.
ScatterFetcher AsScatter(RangeFetcher fetcher);

struct TierStats {
  uint64_t hits = 0;    // pages served
  uint64_t misses = 0;  // pages not found
  uint64_t hit_bytes = 0;
  uint64_t inserted_bytes = 0;
  uint64_t evictions = 0;  // blocks evicted
  uint64_t releases = 0;   // memory: passed blocks dropped (see Consumed(); disk copy stays)
  uint64_t checksum_failures = 0;
  uint64_t write_errors = 0;  // disk tier: failed writes (disk full, unwritable)
  uint64_t used_bytes = 0;
  uint64_t limit_bytes = 0;
};

struct BlockCacheStats {
  TierStats memory;
  TierStats disk;
  uint64_t fetches = 0;  // calls to the RangeFetcher
  uint64_t fetched_bytes = 0;
  uint64_t fills_in_flight = 0;
  uint64_t single_flight_waits = 0;  // misses that joined another's fetch
  uint64_t disk_writes_dropped = 0;  // disk copies skipped: write-back backlog full
};

class BlockCache {
 public:
  virtual ~BlockCache() = default;

  // Opens the cache; with a disk tier, loads its index from disk (the cache
  // survives restarts) and takes an exclusive lock on the directory.
  // Errors: the directory cannot be created or is locked by another daemon.
  static Result<std::unique_ptr<BlockCache>> Open(const BlockCacheOptions& options,
                                                  std::shared_ptr<Clock> clock,
                                                  RangeFetcher fetcher);
  // The same with a scatter fetcher (what a mount uses).
  static Result<std::unique_ptr<BlockCache>> Open(const BlockCacheOptions& options,
                                                  std::shared_ptr<Clock> clock,
                                                  ScatterFetcher fetcher);

  // Copies [offset, offset + dst.size()) of `version` into dst, clamped to the
  // object size; fetches only the missing pages. Returns bytes copied.
  virtual Result<size_t> Read(const ObjectVersion& version, uint64_t offset,
                              std::span<char> dst) = 0;

  // The same read without the copy: [offset, offset + size), clamped to the
  // object size, as spans into the cache's immutable page buffers, in order,
  // each pinned (see read_buffers.h): the bytes stay valid after the pages
  // are evicted, released or invalidated. The same statistics, recency,
  // single-flight fetches and errors as Read; short only at the end.
  virtual Result<ReadBuffers> ReadPinned(const ObjectVersion& version, uint64_t offset,
                                         size_t size) = 0;

  // Makes [offset, offset + length) resident, fetching the missing pages in
  // as few fetches as possible. Blocks until done. The range is taken as a
  // predicted read: with "s3fifo", the blocks it inserts into memory wait
  // for their first Read() outside the eviction queues (up to
  // options().predicted_bytes; see eviction_policy.h), and the Fill itself
  // counts as no access.
  virtual Status Fill(const ObjectVersion& version, uint64_t offset, uint64_t length) = 0;

  // How many bytes from `offset` (up to `length`) are resident right now,
  // without fetching or waiting.
  virtual uint64_t ResidentPrefix(const ObjectVersion& version, uint64_t offset,
                                  uint64_t length) = 0;

  // Tells the cache that a sequential reader has consumed [offset, offset +
  // length) and is not expected back soon. With a disk tier, the memory tier
  // drops the blocks wholly inside the range whose pages are all on disk
  // (a block whose disk copy is still queued leaves when the write-back has
  // written it; one whose write was refused stays until eviction): re-reads
  // come from the kernel page cache (tier 0) or the disk
  // tier, and a stream reuses a window's worth of memory instead of parking
  // every block it passes in the process (fresh pages cost a page fault each,
  // which on some virtual machines caps a stream at ~250 MB/s of CPU).
  // Without a disk tier it does nothing: memory is then the only copy.
  virtual void Consumed(const ObjectVersion& version, uint64_t offset, uint64_t length) = 0;

  // Drops every cached version of (store, key) other than `keep_etag` (empty:
  // all); in-flight fills of dropped versions are not inserted.
  virtual void Invalidate(const std::string& store, const std::string& key,
                          const std::string& keep_etag) = 0;

  virtual BlockCacheStats Stats() const = 0;
  virtual const BlockCacheOptions& options() const = 0;
};

}  // namespace strata
