// Test support for the prefetcher: a RangeFetcher over deterministic object
// bytes that counts calls, sizes and bytes in flight, and a small in-memory
// BlockCache (page-granular, single-flight, adjacent misses coalesced) used
// until the real cache module is built here.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "strata/block_cache.h"

namespace strata::testing {

// The byte at `offset` of any test object: varies with the offset so that a
// misplaced range is caught.
inline char PatternByte(uint64_t offset) { return static_cast<char>((offset * 2654435761u) >> 13); }

struct FetchCall {
  uint64_t offset;
  uint64_t length;
};

class CountingFetcher {
 public:
  explicit CountingFetcher(std::chrono::microseconds latency = std::chrono::microseconds(0))
      : latency_(latency) {}

  RangeFetcher AsFetcher() {
    return [this](const ObjectVersion& v, uint64_t offset, std::span<char> dst) {
      return Fetch(v, offset, dst);
    };
  }

  Result<size_t> Fetch(const ObjectVersion& v, uint64_t offset, std::span<char> dst);

  std::vector<FetchCall> calls() const;
  uint64_t fetched_bytes() const;
  uint64_t peak_in_flight_bytes() const { return peak_in_flight_.load(); }

 private:
  std::chrono::microseconds latency_;
  mutable std::mutex mu_;
  std::vector<FetchCall> calls_;  // guarded by mu_
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> peak_in_flight_{0};
};

// Test double for BlockCache: memory only, no eviction, block_size and
// page_size from the options.
class TestBlockCache : public BlockCache {
 public:
  TestBlockCache(BlockCacheOptions options, RangeFetcher fetcher)
      : options_(std::move(options)), fetcher_(std::move(fetcher)) {}

  Result<size_t> Read(const ObjectVersion& version, uint64_t offset, std::span<char> dst) override;
  Status Fill(const ObjectVersion& version, uint64_t offset, uint64_t length) override;
  uint64_t ResidentPrefix(const ObjectVersion& version, uint64_t offset, uint64_t length) override;
  void Invalidate(const std::string& store, const std::string& key,
                  const std::string& keep_etag) override;
  BlockCacheStats Stats() const override;
  const BlockCacheOptions& options() const override { return options_; }

 private:
  enum class Page : uint8_t { kAbsent, kFetching, kPresent };
  struct Object {
    std::vector<Page> pages;
    std::map<uint64_t, std::vector<char>> data;  // page index -> bytes, only fetched pages
  };
  Object& ObjectFor(const ObjectVersion& v);  // mu_ held
  Status MakeResident(const ObjectVersion& version, uint64_t offset, uint64_t length);

  BlockCacheOptions options_;
  RangeFetcher fetcher_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Object> objects_;  // guarded by mu_
  uint64_t fetches_ = 0;                   // guarded by mu_
  uint64_t fetched_bytes_ = 0;             // guarded by mu_
  uint64_t waits_ = 0;                     // guarded by mu_
};

}  // namespace strata::testing
