#include "test_support.h"

#include <algorithm>
#include <thread>

namespace strata::testing {

Result<size_t> CountingFetcher::Fetch(const ObjectVersion& v, uint64_t offset,
                                      std::span<char> dst) {
  if (offset > v.size) return Status::InvalidArgument("fetch past the end");
  const uint64_t n = std::min<uint64_t>(dst.size(), v.size - offset);
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({offset, n});
  }
  uint64_t now = in_flight_.fetch_add(n) + n;
  uint64_t peak = peak_in_flight_.load();
  while (now > peak && !peak_in_flight_.compare_exchange_weak(peak, now)) {
  }
  if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
  for (uint64_t i = 0; i < n; ++i) dst[i] = PatternByte(offset + i);
  in_flight_.fetch_sub(n);
  return static_cast<size_t>(n);
}

std::vector<FetchCall> CountingFetcher::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

uint64_t CountingFetcher::fetched_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (const auto& c : calls_) total += c.length;
  return total;
}

}  // namespace strata::testing
