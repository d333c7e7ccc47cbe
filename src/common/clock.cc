#include "strata/clock.h"

namespace strata {
namespace {

class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace

std::shared_ptr<Clock> SystemClock() { return std::make_shared<RealClock>(); }

}  // namespace strata
