// BlockCacheImpl: the BlockCache of strata (contract: strata/block_cache.h).
//
// A read looks up the memory tier, then the disk tier (promoting what it
// finds), then fetches the pages still missing: each contiguous run of
// missing pages becomes one fetch, even across blocks. Fetches are
// single-flight: a page being fetched is registered in the in-flight table
// and later readers of it wait for that fetch and take its buffers, so N
// readers of one missing block cause one fetch. Fetched pages are visible in
// memory as soon as the fetch returns; the disk copy is written in the
// background (WriteBack).
//
// Ownership: see BlockCache. Thread safety: all methods may be called from any
// thread. Lock order: flights_mu_ -> (memory shard | put tokens); the disk
// tier's and write-back's locks are never held with flights_mu_. No lock is
// held during a fetch or disk I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cache/cache_key.h"
#include "cache/disk_io.h"
#include "cache/disk_tier.h"
#include "cache/memory_tier.h"
#include "cache/put_tokens.h"
#include "cache/write_back.h"
#include "strata/block_cache.h"

namespace strata::cache {

// Seams for tests and benchmarks; the defaults are what production uses.
struct CacheInternals {
  std::shared_ptr<DiskIo> disk_io;   // null: POSIX
  uint64_t write_backlog_bytes = 0;  // 0: derived from the options
  std::chrono::milliseconds floor_check_interval{1000};
};

class BlockCacheImpl final : public BlockCache {
 public:
  static Result<std::unique_ptr<BlockCacheImpl>> Create(const BlockCacheOptions& options,
                                                        std::shared_ptr<Clock> clock,
                                                        ScatterFetcher fetcher,
                                                        CacheInternals internals = {});
  // A contiguous fetcher goes through one staging buffer per fetch (tests).
  static Result<std::unique_ptr<BlockCacheImpl>> Create(const BlockCacheOptions& options,
                                                        std::shared_ptr<Clock> clock,
                                                        RangeFetcher fetcher,
                                                        CacheInternals internals = {});
  ~BlockCacheImpl() override;

  Result<size_t> Read(const ObjectVersion& version, uint64_t offset, std::span<char> dst) override;
  Result<ReadBuffers> ReadPinned(const ObjectVersion& version, uint64_t offset,
                                 size_t size) override;
  Status Fill(const ObjectVersion& version, uint64_t offset, uint64_t length) override;
  uint64_t ResidentPrefix(const ObjectVersion& version, uint64_t offset, uint64_t length) override;
  void Consumed(const ObjectVersion& version, uint64_t offset, uint64_t length) override;
  void Invalidate(const std::string& store, const std::string& key,
                  const std::string& keep_etag) override;
  BlockCacheStats Stats() const override;
  const BlockCacheOptions& options() const override { return options_; }

  // Blocks until the disk copies of everything fetched so far are written
  // (or dropped). For tests, benchmarks and an orderly shutdown.
  void WaitForWrites();
  size_t memory_shards() const { return memory_->shard_count(); }
  size_t disk_entries() const { return disk_ ? disk_->entries() : 0; }

 private:
  // A fetch of pages [first_page, first_page + pages.size()) of one version.
  struct Flight {
    std::shared_ptr<const VersionKey> version;
    std::shared_ptr<PutToken> token;
    uint64_t first_page = 0;
    std::vector<PageData> pages;            // filled by the leader before done
    InsertKind kind = InsertKind::kDemand;  // the leader's
    Status status;
    bool done = false;  // guarded by flights_mu_
  };
  struct FlightKey {
    uint64_t version;
    uint64_t page;
    bool operator==(const FlightKey&) const = default;
  };
  struct FlightKeyHash {
    size_t operator()(const FlightKey& k) const {
      return k.version ^ (k.page * 0x9e3779b97f4a7c15ull);
    }
  };
  // Called with each page of the requested range as it becomes available, in
  // no particular order; a sink may keep the page (a reply pins it).
  using PageSink = std::function<void(uint64_t page, const PageData& data)>;

  BlockCacheImpl(const BlockCacheOptions& options, std::shared_ptr<Clock> clock,
                 ScatterFetcher fetcher);
  Status Access(const ObjectVersion& v, VersionHash h, uint64_t offset, uint64_t end,
                InsertKind kind, const PageSink& sink);
  // Looks pages up in memory, then on disk (promoting them); returns the
  // indices of the pages found in neither.
  std::vector<uint64_t> LookupTiers(const ObjectVersion& v, VersionHash h,
                                    const std::vector<uint64_t>& pages, InsertKind kind,
                                    const PageSink& sink);
  // Fetches `pages` (sorted) single-flight. Pages that turned resident
  // meanwhile are returned for another lookup, unless `force`.
  Result<std::vector<uint64_t>> FetchPages(const ObjectVersion& v, VersionHash h,
                                           const std::vector<uint64_t>& pages, bool force,
                                           InsertKind kind, const PageSink& sink);
  void RunFlight(const ObjectVersion& v, Flight& flight);
  // Publishes fetched or promoted pages of one block to memory (and disk).
  void Publish(const std::shared_ptr<PutToken>& token, uint64_t object_size, uint64_t block,
               std::vector<std::pair<uint32_t, PageData>> pages, bool to_disk, InsertKind kind);

  const BlockCacheOptions options_;
  const std::shared_ptr<Clock> clock_;
  const ScatterFetcher fetcher_;
  Geometry geometry_;
  std::shared_ptr<PageArena> arena_;  // buffers of every page this cache creates
  PutTokens tokens_;
  std::unique_ptr<MemoryTier> memory_;
  std::unique_ptr<DiskTier> disk_;         // null without a disk tier
  std::unique_ptr<WriteBack> write_back_;  // destroyed before disk_

  mutable std::mutex flights_mu_;
  std::condition_variable flights_cv_;  // a flight finished
  std::unordered_map<FlightKey, std::shared_ptr<Flight>, FlightKeyHash> flights_;  // guarded

  std::atomic<uint64_t> fetches_{0}, fetched_bytes_{0}, fills_in_flight_{0},
      single_flight_waits_{0};
};

}  // namespace strata::cache
