// Test support for the prefetcher: a RangeFetcher over deterministic object
// bytes that counts calls, sizes and bytes in flight, optionally with a
// latency per call (a remote store's round trip).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <span>
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

}  // namespace strata::testing
