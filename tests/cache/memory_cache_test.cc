// The block cache without a disk tier: reads, coalescing, single-flight,
// invalidation, eviction.
#include <catch2/catch.hpp>
#include <thread>

#include "cache/block_cache_impl.h"
#include "cache_test_util.h"

namespace strata {
namespace {

using cache::BlockCacheImpl;
using cache_test::Expected;
using cache_test::FakeFetcher;
using cache_test::ReadAll;
using cache_test::Version;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

std::unique_ptr<BlockCacheImpl> MakeCache(FakeFetcher& f, uint64_t memory = 64 * MiB,
                                          uint64_t block = MiB, uint64_t page = 64 * KiB,
                                          const std::string& eviction = "s3fifo") {
  BlockCacheOptions o;
  o.block_size = block;
  o.page_size = page;
  o.memory_bytes = memory;
  o.eviction = eviction;
  auto c = BlockCacheImpl::Create(o, SystemClock(), f.AsFetcher());
  REQUIRE(c.ok());
  return std::move(c).value();
}

TEST_CASE("A second read of a range is served from memory") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v = Version("a", 5 * MiB + 123);
  CHECK(ReadAll(*c, v, 1000, 3 * MiB) == Expected(v, 1000, 3 * MiB));
  size_t calls = f.calls();
  CHECK(calls == 1);  // one contiguous miss, one fetch, across blocks
  CHECK(ReadAll(*c, v, 1000, 3 * MiB) == Expected(v, 1000, 3 * MiB));
  CHECK(f.calls() == calls);
  auto s = c->Stats();
  CHECK(s.memory.hits > 0);
  CHECK(s.memory.hit_bytes >= 3 * MiB);
  CHECK(s.fetches == 1);
}

TEST_CASE("A small random read caches only the pages it touched") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v = Version("a", 10 * MiB);
  CHECK(ReadAll(*c, v, 3 * MiB + 100, 1000) == Expected(v, 3 * MiB + 100, 1000));
  auto log = f.call_log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].offset == 3 * MiB);
  CHECK(log[0].length == 64 * KiB);
  CHECK(c->Stats().memory.used_bytes == 64 * KiB);
  // A read spanning the cached page and its neighbour fetches only the neighbour.
  CHECK(ReadAll(*c, v, 3 * MiB + 60 * KiB, 8 * KiB) == Expected(v, 3 * MiB + 60 * KiB, 8 * KiB));
  log = f.call_log();
  REQUIRE(log.size() == 2);
  CHECK(log[1].offset == 3 * MiB + 64 * KiB);
  CHECK(log[1].length == 64 * KiB);
}

TEST_CASE("Fill of a missing 8 MiB range is one fetch; reads then hit") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v = Version("big", 64 * MiB);
  REQUIRE(c->Fill(v, 4 * MiB, 8 * MiB).ok());
  REQUIRE(f.calls() == 1);
  CHECK(f.call_log()[0].offset == 4 * MiB);
  CHECK(f.call_log()[0].length == 8 * MiB);
  CHECK(c->ResidentPrefix(v, 4 * MiB, 100 * MiB) == 8 * MiB);
  CHECK(c->ResidentPrefix(v, 5 * MiB + 7, 1 * MiB) == 1 * MiB);
  CHECK(c->ResidentPrefix(v, 12 * MiB, MiB) == 0);
  CHECK(ReadAll(*c, v, 6 * MiB, 2 * MiB) == Expected(v, 6 * MiB, 2 * MiB));
  CHECK(f.calls() == 1);
  // A fill overlapping resident pages fetches only the gap, in one call.
  REQUIRE(c->Fill(v, 10 * MiB, 4 * MiB).ok());
  REQUIRE(f.calls() == 2);
  CHECK(f.call_log()[1].offset == 12 * MiB);
  CHECK(f.call_log()[1].length == 2 * MiB);
}

TEST_CASE("Reads clamp to the object size and handle a short last page") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v = Version("odd", MiB + 100);
  CHECK(ReadAll(*c, v, MiB, 4096) == Expected(v, MiB, 100));
  CHECK(ReadAll(*c, v, MiB + 100, 10).empty());
  CHECK(ReadAll(*c, v, 0, 10 * MiB) == Expected(v, 0, MiB + 100));
  CHECK(ReadAll(*c, v, MiB + 50, 50) == Expected(v, MiB + 50, 50));
  CHECK(c->ResidentPrefix(v, 0, 10 * MiB) == MiB + 100);
  CHECK(c->Fill(v, 2 * MiB, MiB).ok());
  auto empty = Version("empty", 0);
  CHECK(ReadAll(*c, empty, 0, 10).empty());
  CHECK(f.calls() == 2);
}

TEST_CASE("Different versions of one key do not share bytes") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v1 = Version("k", MiB, "e1");
  auto v2 = Version("k", MiB, "e2");
  CHECK(ReadAll(*c, v1, 0, MiB) == Expected(v1, 0, MiB));
  CHECK(ReadAll(*c, v2, 0, MiB) == Expected(v2, 0, MiB));
  CHECK(Expected(v1, 0, 64) != Expected(v2, 0, 64));
  CHECK(f.calls() == 2);
}

TEST_CASE("N threads missing the same block cause one fetch") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v = Version("hot", 4 * MiB);
  f.Block();
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::vector<char> buf(MiB);
      auto n = c->Read(v, MiB, buf);
      if (n.ok() && *n == MiB && buf == Expected(v, MiB, MiB)) ++good;
    });
  }
  f.WaitStarted(1);
  // Let every reader reach the in-flight table before the fetch returns.
  for (int i = 0; i < 200 && c->Stats().single_flight_waits < kThreads - 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  f.Unblock();
  for (auto& t : threads) t.join();
  CHECK(good == kThreads);
  CHECK(f.calls() == 1);
  CHECK(c->Stats().single_flight_waits == kThreads - 1);
}

TEST_CASE("A failed fetch reaches every waiter and caches nothing") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v = Version("bad", MiB);
  f.set_fail(true);
  f.Block();
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      std::vector<char> buf(1000);
      if (!c->Read(v, 0, buf).ok()) ++failed;
    });
  }
  f.WaitStarted(1);
  for (int i = 0; i < 200 && c->Stats().single_flight_waits < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  f.Unblock();
  for (auto& t : threads) t.join();
  CHECK(failed == 4);
  CHECK(f.calls() == 1);
  CHECK(c->Stats().memory.used_bytes == 0);
  f.set_fail(false);
  CHECK(ReadAll(*c, v, 0, 1000) == Expected(v, 0, 1000));  // the next read retries
}

TEST_CASE("A fill racing Invalidate does not insert the stale version") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto old_v = Version("k", 2 * MiB, "old");
  f.Block();
  std::vector<char> buf(MiB);
  Result<size_t> got = size_t{0};
  std::thread reader([&] { got = c->Read(old_v, 0, buf); });
  f.WaitStarted(1);
  c->Invalidate(old_v.store, old_v.key, "new");
  f.Unblock();
  reader.join();
  // The reader still gets the bytes of the version it asked for...
  REQUIRE(got.ok());
  CHECK(buf == Expected(old_v, 0, MiB));
  // ...but they were not cached.
  CHECK(c->Stats().memory.used_bytes == 0);
  CHECK(c->ResidentPrefix(old_v, 0, MiB) == 0);
}

TEST_CASE("Invalidate drops other versions and keeps the named one") {
  FakeFetcher f;
  auto c = MakeCache(f);
  auto v1 = Version("k", MiB, "e1");
  auto v2 = Version("k", MiB, "e2");
  auto other = Version("other", MiB, "e1");
  for (const auto& v : {v1, v2, other}) REQUIRE(c->Fill(v, 0, MiB).ok());
  c->Invalidate(v1.store, v1.key, "e2");
  CHECK(c->ResidentPrefix(v1, 0, MiB) == 0);
  CHECK(c->ResidentPrefix(v2, 0, MiB) == MiB);
  CHECK(c->ResidentPrefix(other, 0, MiB) == MiB);
  c->Invalidate(v1.store, v1.key, "");
  CHECK(c->ResidentPrefix(v2, 0, MiB) == 0);
  CHECK(c->Stats().memory.used_bytes == MiB);
}

TEST_CASE("Memory usage never exceeds the limit") {
  FakeFetcher f;
  auto c = MakeCache(f, 8 * MiB);
  auto v = Version("big", 64 * MiB);
  for (uint64_t off = 0; off < 64 * MiB; off += 700 * KiB) {
    CHECK(ReadAll(*c, v, off, 300 * KiB) == Expected(v, off, 300 * KiB));
    CHECK(c->Stats().memory.used_bytes <= 8 * MiB);
  }
  CHECK(c->Stats().memory.evictions > 0);
  // A single read larger than the whole cache still returns the right bytes.
  CHECK(ReadAll(*c, v, 0, 20 * MiB) == Expected(v, 0, 20 * MiB));
  CHECK(c->Stats().memory.used_bytes <= 8 * MiB);
}

// Cyclic epochs over a data set twice the memory tier, one block per read,
// counted by the fetcher: S3-FIFO keeps a stable share, LRU none.
double CyclicHitRatio(const std::string& eviction, int epoch_to_measure) {
  FakeFetcher f;
  constexpr uint64_t kBlock = 64 * KiB;
  auto c = MakeCache(f, 512 * kBlock, kBlock, 16 * KiB, eviction);
  auto v = Version("dataset", 1024 * kBlock);
  std::vector<char> buf(kBlock);
  double ratio = 0;
  for (int e = 0; e <= epoch_to_measure; ++e) {
    size_t before = f.calls();
    for (uint64_t b = 0; b < 1024; ++b) REQUIRE(c->Read(v, b * kBlock, buf).ok());
    ratio = 1.0 - static_cast<double>(f.calls() - before) / 1024;
  }
  return ratio;
}

TEST_CASE("Cyclic reads of twice the cache: S3-FIFO >= 40% block hits, LRU about 0") {
  for (int epoch = 1; epoch <= 3; ++epoch) {
    INFO("epoch " << epoch);
    CHECK(CyclicHitRatio("s3fifo", epoch) >= 0.40);
    CHECK(CyclicHitRatio("lru", epoch) < 0.05);
  }
}

TEST_CASE("Open rejects bad geometry and unknown policies") {
  FakeFetcher f;
  BlockCacheOptions o;
  o.page_size = 3000;
  CHECK(BlockCache::Open(o, SystemClock(), f.AsFetcher()).status().code() ==
        Code::kInvalidArgument);
  o = BlockCacheOptions{};
  o.eviction = "random";
  CHECK(BlockCache::Open(o, SystemClock(), f.AsFetcher()).status().code() ==
        Code::kInvalidArgument);
  o = BlockCacheOptions{};
  CHECK(BlockCache::Open(o, SystemClock(), RangeFetcher()).status().code() ==
        Code::kInvalidArgument);
  CHECK(BlockCache::Open(o, SystemClock(), ScatterFetcher()).status().code() ==
        Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata
