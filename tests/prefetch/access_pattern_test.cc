#include "strata/access_pattern.h"

#include <catch2/catch.hpp>

#include "traces.h"

namespace strata {
namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

TEST_CASE("every synthetic trace is classified as expected", "[detector]") {
  for (const auto& trace : testing::AllTraces()) {
    INFO(trace.name);
    testing::TraceResult r = testing::RunTrace(trace);
    CHECK(r.final_mode == trace.expected);
    CHECK(r.agreement >= 0.95);
  }
}

TEST_CASE("kernel reordering within the tolerance window keeps a stream", "[detector]") {
  AccessPatternDetector d({}, 64 * MiB);
  auto first = d.Observe(0, 128 * KiB);
  CHECK(first.first_read);
  CHECK(first.pattern == AccessPattern::kSequential);
  // 256 KiB arrives before 128 KiB.
  auto a = d.Observe(256 * KiB, 128 * KiB);
  auto b = d.Observe(128 * KiB, 128 * KiB);
  CHECK(a.continues_stream);
  CHECK(b.continues_stream);
  CHECK(b.stream_high_water == 384 * KiB);
  CHECK(b.stream_run == 2);
}

TEST_CASE("a forward seek inside the prefetched reach keeps the stream", "[detector]") {
  AccessPatternDetector d({}, 1024 * MiB);
  auto first = d.Observe(0, MiB);
  auto far = d.Observe(40 * MiB, MiB);
  CHECK_FALSE(far.continues_stream);
  AccessPatternDetector e({}, 1024 * MiB);
  first = e.Observe(0, MiB);
  e.ExtendReach(first.stream, 64 * MiB);
  auto inside = e.Observe(40 * MiB, MiB);
  CHECK(inside.continues_stream);
  CHECK(inside.stream == first.stream);
}

TEST_CASE("hysteresis: one seek keeps sequential, three switch to random, a run switches back",
          "[detector]") {
  AccessPatternDetector d({}, 1024 * MiB);
  d.Observe(0, MiB);
  d.Observe(MiB, MiB);
  CHECK(d.Observe(500 * MiB, MiB).pattern == AccessPattern::kSequential);  // one seek
  d.Observe(501 * MiB, MiB);
  d.Observe(100 * MiB, 64 * KiB);
  d.Observe(300 * MiB, 64 * KiB);
  CHECK(d.mode() == AccessPattern::kSequential);
  CHECK(d.Observe(700 * MiB, 64 * KiB).pattern == AccessPattern::kRandom);  // third in a row
  // A sequential run must last before the mode flips back.
  uint64_t off = 800 * MiB;
  int reads_to_flip = 0;
  while (d.mode() == AccessPattern::kRandom && reads_to_flip < 20) {
    d.Observe(off, MiB);
    off += MiB;
    ++reads_to_flip;
  }
  CHECK(d.mode() == AccessPattern::kSequential);
  CHECK(reads_to_flip >= 5);  // the seek and at least 4 continuations
}

TEST_CASE("first read: offset 0 sequential, footer random, else the history", "[detector]") {
  const uint64_t size = 100 * MiB;
  {
    AccessPatternDetector d({}, size, AccessPattern::kRandom);
    CHECK(d.Observe(0, 4 * KiB).pattern == AccessPattern::kSequential);
  }
  {
    AccessPatternDetector d({}, size);
    auto r = d.Observe(size - 8, 8);
    CHECK(r.footer);
    CHECK(r.pattern == AccessPattern::kRandom);
  }
  {
    AccessPatternDetector d({}, size);
    auto r = d.Observe(size - 2 * MiB, 64 * KiB);
    CHECK_FALSE(r.footer);
    CHECK(r.pattern == AccessPattern::kSequential);
  }
  {
    AccessPatternDetector d({}, size, AccessPattern::kRandom);
    CHECK(d.Observe(10 * MiB, 64 * KiB).pattern == AccessPattern::kRandom);
  }
}

TEST_CASE("strided reads report their stride; a broken stride falls back to random", "[detector]") {
  AccessPatternDetector d({}, 1024 * MiB);
  AccessDecision r;
  for (uint64_t i = 0; i < 6; ++i) r = d.Observe(i * 8 * MiB, 64 * KiB);
  CHECK(r.pattern == AccessPattern::kStrided);
  CHECK(r.stride == static_cast<int64_t>(8 * MiB));
  r = d.Observe(3 * MiB + 17, 64 * KiB);
  CHECK(r.pattern == AccessPattern::kRandom);
}

TEST_CASE("more streams than slots recycle the least recently used", "[detector]") {
  AccessPatternDetector d({}, 1024 * MiB);
  int slots_seen[AccessPatternDetector::kMaxStreams + 1];
  for (int s = 0; s <= AccessPatternDetector::kMaxStreams; ++s) {
    auto r = d.Observe(static_cast<uint64_t>(s) * 100 * MiB, MiB);
    CHECK(r.new_stream);
    slots_seen[s] = r.stream;
  }
  CHECK(slots_seen[AccessPatternDetector::kMaxStreams] == slots_seen[0]);
  // Stream 1 is still tracked, stream 0 was replaced.
  CHECK(d.Observe(101 * MiB, MiB).continues_stream);
  CHECK_FALSE(d.Observe(MiB, MiB).continues_stream);
}

TEST_CASE("inode history is a bounded LRU", "[detector]") {
  InodeHistory h(2);
  CHECK(h.Get(1) == AccessPattern::kSequential);
  h.Put(1, AccessPattern::kRandom);
  h.Put(2, AccessPattern::kRandom);
  CHECK(h.Get(1) == AccessPattern::kRandom);  // 1 is now the most recent
  h.Put(3, AccessPattern::kStrided);
  CHECK(h.size() == 2);
  CHECK(h.Get(2) == AccessPattern::kSequential);  // evicted
  CHECK(h.Get(1) == AccessPattern::kRandom);
  CHECK(h.Get(3) == AccessPattern::kStrided);
}

}  // namespace
}  // namespace strata
