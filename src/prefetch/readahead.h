// Building blocks of the prefetcher: the global MemoryBudget, the shared
// counters, and ReadaheadPart, one asynchronous BlockCache::Fill.
//
// Lifetimes: a ReadaheadPart is shared by the reader's window and by the pool
// task that runs it; it returns its bytes to the budget when the last of them
// lets go, i.e. once the fill has ended and the reader has moved past it. A
// part holds the PrefetchEnv (cache, budget, counters) but never the thread
// pool, so a pool worker never ends up destroying its own pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "strata/block_cache.h"
#include "strata/clock.h"
#include "strata/prefetcher.h"

namespace strata::prefetch {

// Bytes of readahead in flight or landed-but-unread, across all handles.
// Thread-safe (lock-free).
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}
  // Charges n bytes if they fit under the limit.
  bool TryAcquire(uint64_t n);
  void Release(uint64_t n);
  uint64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> in_use_{0};
  std::atomic<uint64_t> peak_{0};
};

// PrefetchStats as atomics; Snapshot() fills in the budget and cache figures.
struct StatsCounters {
  std::array<std::atomic<uint64_t>, 3> reads{};
  std::array<std::atomic<uint64_t>, 3> bytes{};
  std::atomic<uint64_t> returned_bytes{0};
  std::atomic<uint64_t> readahead_parts{0};
  std::atomic<uint64_t> readahead_bytes{0};
  std::atomic<uint64_t> readahead_hits{0};
  std::atomic<uint64_t> readahead_waits{0};
  std::atomic<uint64_t> readahead_wait_us{0};
  std::atomic<uint64_t> readahead_stolen{0};
  std::atomic<uint64_t> readahead_evicted{0};
  std::atomic<uint64_t> cancelled_bytes{0};
  std::atomic<uint64_t> wasted_bytes{0};
  std::atomic<uint64_t> part_failures{0};
  std::atomic<uint64_t> window_grows{0};
  std::atomic<uint64_t> window_shrinks{0};
  std::atomic<uint64_t> window_peak_bytes{0};
  std::atomic<uint64_t> budget_denials{0};
  std::atomic<uint64_t> small_file_fills{0};
  std::atomic<uint64_t> footer_fills{0};
  std::atomic<uint64_t> initial_fills{0};

  void NoteWindow(uint64_t window);
};

// What parts and readers share; owned (shared_ptr) by the factory, its readers
// and their parts.
struct PrefetchEnv {
  std::shared_ptr<BlockCache> cache;
  std::shared_ptr<Clock> clock;
  MemoryBudget budget;
  StatsCounters stats;
  // Sequential streams that hold readahead parts and have not reached the
  // end of their object: their windows share PrefetchOptions::max_window.
  std::atomic<uint32_t> active_streams{0};

  PrefetchEnv(std::shared_ptr<BlockCache> c, std::shared_ptr<Clock> k, uint64_t limit)
      : cache(std::move(c)), clock(std::move(k)), budget(limit) {}
  PrefetchStats Snapshot() const;
};

// One readahead fill of [start, end) of a version, charged to the budget at
// construction (the caller has acquired `end - start`) and released at
// destruction. Run() (pool) and WaitOrRun() (reader) race for a queued part:
// whoever claims it runs the fill, the other waits for it.
class ReadaheadPart {
 public:
  enum class State { kQueued, kRunning, kDone, kFailed, kCancelled };

  ReadaheadPart(std::shared_ptr<PrefetchEnv> env, ObjectVersion version, uint64_t start,
                uint64_t end);
  ~ReadaheadPart();
  ReadaheadPart(const ReadaheadPart&) = delete;
  ReadaheadPart& operator=(const ReadaheadPart&) = delete;

  // Pool task: runs the fill unless a reader claimed or cancelled it first.
  void Run();
  // Reader: makes sure the fill has ended, running it on this thread if no
  // worker has started it. Returns true if the part had not landed yet.
  bool WaitOrRun();
  // Drops a part nobody started; returns false if it is running or ended.
  bool Cancel();
  State state() const;
  bool landed() const { return state() == State::kDone; }
  // Neither queued nor running.
  bool ended() const;

  const uint64_t start;
  const uint64_t end;
  // The reader already grew its window because of this part (reader's lock).
  bool grew_window = false;

 private:
  bool Claim();
  void Execute();

  std::shared_ptr<PrefetchEnv> env_;
  ObjectVersion version_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kQueued;  // guarded by mu_
};

}  // namespace strata::prefetch
