#include "readahead.h"

#include <algorithm>

namespace strata::prefetch {

bool MemoryBudget::TryAcquire(uint64_t n) {
  uint64_t cur = in_use_.load(std::memory_order_relaxed);
  do {
    if (cur + n > limit_) return false;
  } while (!in_use_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  uint64_t now = cur + n;
  uint64_t peak = peak_.load(std::memory_order_relaxed);
  while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return true;
}

void MemoryBudget::Release(uint64_t n) { in_use_.fetch_sub(n, std::memory_order_relaxed); }

void StatsCounters::NoteWindow(uint64_t window) {
  uint64_t peak = window_peak_bytes.load(std::memory_order_relaxed);
  while (window > peak &&
         !window_peak_bytes.compare_exchange_weak(peak, window, std::memory_order_relaxed)) {
  }
}

PrefetchStats PrefetchEnv::Snapshot() const {
  PrefetchStats s;
  for (size_t i = 0; i < s.reads.size(); ++i) {
    s.reads[i] = stats.reads[i].load();
    s.bytes[i] = stats.bytes[i].load();
  }
  s.returned_bytes = stats.returned_bytes.load();
  s.active_streams = active_streams.load();
  s.readahead_parts = stats.readahead_parts.load();
  s.readahead_bytes = stats.readahead_bytes.load();
  s.readahead_hits = stats.readahead_hits.load();
  s.readahead_waits = stats.readahead_waits.load();
  s.readahead_wait_us = stats.readahead_wait_us.load();
  s.readahead_stolen = stats.readahead_stolen.load();
  s.readahead_evicted = stats.readahead_evicted.load();
  s.cancelled_bytes = stats.cancelled_bytes.load();
  s.wasted_bytes = stats.wasted_bytes.load();
  s.part_failures = stats.part_failures.load();
  s.window_grows = stats.window_grows.load();
  s.window_shrinks = stats.window_shrinks.load();
  s.window_peak_bytes = stats.window_peak_bytes.load();
  s.budget_denials = stats.budget_denials.load();
  s.small_file_fills = stats.small_file_fills.load();
  s.footer_fills = stats.footer_fills.load();
  s.initial_fills = stats.initial_fills.load();
  s.budget_in_use = budget.in_use();
  s.budget_peak = budget.peak();
  s.budget_limit = budget.limit();
  BlockCacheStats cache_stats = cache->Stats();
  s.fetches = cache_stats.fetches;
  s.fetched_bytes = cache_stats.fetched_bytes;
  return s;
}

ReadaheadPart::ReadaheadPart(std::shared_ptr<PrefetchEnv> env, ObjectVersion version,
                             uint64_t start, uint64_t end)
    : start(start), end(end), env_(std::move(env)), version_(std::move(version)) {}

ReadaheadPart::~ReadaheadPart() { env_->budget.Release(end - start); }

bool ReadaheadPart::Claim() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kQueued) return false;
  state_ = State::kRunning;
  return true;
}

void ReadaheadPart::Execute() {
  Status status = env_->cache->Fill(version_, start, end - start);
  if (!status.ok()) env_->stats.part_failures.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = status.ok() ? State::kDone : State::kFailed;
  }
  cv_.notify_all();
}

void ReadaheadPart::Run() {
  if (Claim()) Execute();
}

bool ReadaheadPart::WaitOrRun() {
  if (Claim()) {
    env_->stats.readahead_stolen.fetch_add(1, std::memory_order_relaxed);
    Execute();
    return true;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ != State::kRunning) return false;
  cv_.wait(lock, [this] { return state_ != State::kRunning; });
  return true;
}

bool ReadaheadPart::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kQueued) return false;
  state_ = State::kCancelled;
  return true;
}

bool ReadaheadPart::ended() const {
  State s = state();
  return s != State::kQueued && s != State::kRunning;
}

ReadaheadPart::State ReadaheadPart::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

}  // namespace strata::prefetch

namespace strata {

double PrefetchStats::amplification() const {
  return returned_bytes ? static_cast<double>(fetched_bytes) / returned_bytes : 0.0;
}

}  // namespace strata
