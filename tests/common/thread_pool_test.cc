#include "strata/thread_pool.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using namespace strata;

TEST_CASE("ThreadPool runs every submitted task") {
  std::atomic<int> done{0};
  {
    ThreadPool pool(4);
    for (int i = 0; i < 1000; ++i) pool.Submit([&] { done++; });
    while (done.load() < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(done.load() == 1000);
}
