// Clock: the one source of time, injected so tests control it.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>
#include <memory>

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for signatures and mtimes.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for TTLs, timeouts and rates.
  virtual std::chrono::steady_clock::time_point Steady() const = 0;
};

// The real clocks.
std::shared_ptr<Clock> SystemClock();

// A clock that moves only when told to; for tests.
class ManualClock : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start) : now_(start) {}
  std::chrono::system_clock::time_point Now() const override { return now_; }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Advance(std::chrono::nanoseconds d) { now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d); }

 private:
  std::chrono::system_clock::time_point now_;
};

}  // namespace strata
