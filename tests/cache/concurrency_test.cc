// Many threads reading, filling and invalidating at once over a small cache:
// every read returns the bytes of the version it asked for, and the limits
// hold.
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "cache/block_cache_impl.h"
#include "cache_test_util.h"

namespace strata {
namespace {

using cache_test::Expected;
using cache_test::FakeFetcher;
using cache_test::TempDir;
using cache_test::Version;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

void Stress(const std::string& disk_dir) {
  FakeFetcher f;
  BlockCacheOptions o;
  o.block_size = 256 * KiB;
  o.page_size = 16 * KiB;
  o.memory_bytes = 2 * MiB;
  o.disk_dir = disk_dir;
  o.disk_bytes = 4 * MiB;
  o.disk_free_floor_bytes = 0;
  auto c = cache::BlockCacheImpl::Create(o, SystemClock(), f.AsFetcher()).value();
  const std::vector<ObjectVersion> versions = {
      Version("a", 3 * MiB + 17, "1"), Version("a", 2 * MiB + 5, "2"), Version("b", 5 * MiB, "1"),
      Version("c", 100 * KiB, "1")};
  std::atomic<int> bad{0};
  std::atomic<uint64_t> max_memory{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<char> buf;
      for (int i = 0; i < 250; ++i) {
        const ObjectVersion& v = versions[rng() % versions.size()];
        uint64_t off = rng() % (v.size + 1000);
        uint64_t len = 1 + rng() % (400 * KiB);
        switch (rng() % 10) {
          case 0:
            c->Invalidate(v.store, v.key, rng() % 2 ? v.etag : "");
            break;
          case 1:
          case 2:
            if (!c->Fill(v, off, len).ok()) ++bad;
            break;
          default: {
            buf.assign(len, 0);
            auto n = c->Read(v, off, buf);
            buf.resize(n.ok() ? *n : 0);
            if (!n.ok() || buf != Expected(v, off, len)) ++bad;
          }
        }
        uint64_t used = c->Stats().memory.used_bytes;
        uint64_t seen = max_memory.load();
        while (used > seen && !max_memory.compare_exchange_weak(seen, used)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  c->WaitForWrites();
  CHECK(bad == 0);
  CHECK(max_memory <= 2 * MiB);
  auto s = c->Stats();
  CHECK(s.disk.used_bytes <= 4 * MiB);
  CHECK(s.disk.checksum_failures == 0);
  CHECK(s.fills_in_flight == 0);
}

TEST_CASE("Concurrent reads, fills and invalidations over the memory tier") { Stress(""); }

TEST_CASE("Concurrent reads, fills and invalidations over both tiers") {
  TempDir dir;
  Stress(dir.path());
}

}  // namespace
}  // namespace strata
