#include "strata/dir_prefetcher.h"

#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.h"

namespace strata {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t KiB = 1024;

// A memory-only BlockCache over pattern bytes that counts fetches per key.
struct Rig {
  std::mutex mu;
  std::map<std::string, int> gets;
  std::shared_ptr<ManualClock> clock =
      std::make_shared<ManualClock>(std::chrono::system_clock::time_point(1000h));
  std::shared_ptr<BlockCache> cache;

  Rig() {
    BlockCacheOptions o;
    o.memory_bytes = 64ull << 20;
    auto c = BlockCache::Open(
        o, clock,
        [this](const ObjectVersion& v, uint64_t off, std::span<char> dst) -> Result<size_t> {
          {
            std::lock_guard<std::mutex> lock(mu);
            gets[v.key]++;
          }
          size_t n = off >= v.size ? 0 : std::min<uint64_t>(dst.size(), v.size - off);
          for (size_t i = 0; i < n; ++i) dst[i] = testing::PatternByte(off + i);
          return n;
        });
    REQUIRE(c.ok());
    cache = std::move(*c);
  }
  int Gets(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    return gets[key];
  }
  int TotalGets() {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (const auto& [k, c] : gets) n += c;
    return n;
  }
};

ObjectVersion File(const std::string& dir, int i, uint64_t size = 100 * KiB) {
  return ObjectVersion{"mem://t", dir + "/" + std::to_string(i) + ".jpg", "e", size};
}

std::vector<ObjectVersion> Dir(const std::string& dir, int n) {
  std::vector<ObjectVersion> out;
  for (int i = 0; i < n; ++i) out.push_back(File(dir, i));
  out.push_back(ObjectVersion{"mem://t", dir + "/big.bin", "e", 64ull << 20});  // not small
  return out;
}

// What the VFS does on an open: tell the prefetcher, then read the file whole.
void OpenAndRead(Rig& rig, DirPrefetcher& p, const ObjectVersion& f, uint64_t dir,
                 const std::string& dir_name, int n, int* listings) {
  p.NoteOpen(f, dir, [&] {
    ++*listings;
    return Dir(dir_name, n);
  });
  std::vector<char> buf(f.size);
  auto got = rig.cache->Read(f, 0, buf);
  REQUIRE(got.ok());
  REQUIRE(*got == f.size);
  CHECK(buf[f.size - 1] == testing::PatternByte(f.size - 1));
}

TEST_CASE("a directory read file by file warms: its other small files are fetched ahead, once") {
  Rig rig;
  DirPrefetchOptions o;
  o.trigger_files = 3;
  DirPrefetcher p(rig.cache, o, rig.clock);
  int listings = 0;

  // Two opens: nothing happens beyond the two files themselves.
  OpenAndRead(rig, p, File("a", 7), 1, "a", 50, &listings);
  OpenAndRead(rig, p, File("a", 3), 1, "a", 50, &listings);
  p.WaitIdle();
  CHECK(listings == 0);
  CHECK(rig.TotalGets() == 2);

  // The third distinct file warms the directory: the 47 others are fetched,
  // the large object is not.
  OpenAndRead(rig, p, File("a", 9), 1, "a", 50, &listings);
  p.WaitIdle();
  CHECK(listings == 1);
  CHECK(rig.TotalGets() == 50);
  CHECK(rig.Gets("a/big.bin") == 0);
  auto s = p.Stats();
  CHECK(s.dirs_warmed == 1);
  CHECK(s.files_queued == 47);
  CHECK(s.files_fetched == 47);
  CHECK(s.ahead_bytes == 47 * 100 * KiB);

  // Reading every file now costs no request: still one GET per file.
  for (int i = 0; i < 50; ++i) OpenAndRead(rig, p, File("a", i), 1, "a", 50, &listings);
  p.WaitIdle();
  CHECK(rig.TotalGets() == 50);
  for (int i = 0; i < 50; ++i) CHECK(rig.Gets("a/" + std::to_string(i) + ".jpg") == 1);
  s = p.Stats();
  CHECK(s.files_used == 47);
  CHECK(s.ahead_bytes == 0);
  CHECK(listings == 1);
}

TEST_CASE("fetching ahead stops at the byte budget and resumes as files are opened") {
  Rig rig;
  DirPrefetchOptions o;
  o.trigger_files = 1;
  o.threads = 2;
  o.budget_bytes = 10 * 100 * KiB;  // ten files ahead
  DirPrefetcher p(rig.cache, o, rig.clock);
  int listings = 0;
  OpenAndRead(rig, p, File("b", 0), 2, "b", 40, &listings);
  p.WaitIdle();
  CHECK(p.Stats().files_fetched == 10);
  CHECK(p.Stats().ahead_bytes == 10 * 100 * KiB);
  CHECK(rig.TotalGets() == 11);

  // Opening a file fetched ahead frees its share: one more is fetched.
  OpenAndRead(rig, p, File("b", 1), 2, "b", 40, &listings);
  p.WaitIdle();
  CHECK(p.Stats().files_used == 1);
  CHECK(p.Stats().files_fetched == 11);
  CHECK(rig.TotalGets() == 12);
}

TEST_CASE("files fetched ahead and never opened expire from the budget as waste") {
  Rig rig;
  DirPrefetchOptions o;
  o.trigger_files = 1;
  o.budget_bytes = 5 * 100 * KiB;
  o.ahead_expiry = 60s;
  DirPrefetcher p(rig.cache, o, rig.clock);
  int listings = 0;
  OpenAndRead(rig, p, File("c", 0), 3, "c", 20, &listings);
  p.WaitIdle();
  CHECK(p.Stats().files_fetched == 5);
  rig.clock->Advance(61s);
  // Any later open pumps: the five expired, five more are fetched.
  OpenAndRead(rig, p, File("d", 0), 4, "d", 1, &listings);
  p.WaitIdle();
  auto s = p.Stats();
  CHECK(s.files_wasted == 5);
  CHECK(s.files_fetched == 10);
}

TEST_CASE("large files never warm a directory, cached files cost nothing, budget 0 is off") {
  Rig rig;
  DirPrefetchOptions o;
  o.trigger_files = 1;
  {
    DirPrefetcher p(rig.cache, o, rig.clock);
    int listings = 0;
    ObjectVersion big{"mem://t", "e/big.bin", "e", 64ull << 20};
    p.NoteOpen(big, 5, [&] {
      ++listings;
      return Dir("e", 3);
    });
    p.WaitIdle();
    CHECK(listings == 0);
    CHECK(p.Stats().dirs_warmed == 0);

    // Everything already cached: warming fetches nothing.
    for (int i = 0; i < 3; ++i) {
      std::vector<char> buf(100 * KiB);
      REQUIRE(rig.cache->Read(File("e", i), 0, buf).ok());
    }
    OpenAndRead(rig, p, File("e", 0), 5, "e", 3, &listings);
    p.WaitIdle();
    CHECK(listings == 1);
    CHECK(p.Stats().files_fetched == 0);
    CHECK(p.Stats().ahead_bytes == 0);
    CHECK(rig.TotalGets() == 3);
  }
  o.budget_bytes = 0;
  DirPrefetcher off(rig.cache, o, rig.clock);
  int listings = 0;
  OpenAndRead(rig, off, File("f", 0), 6, "f", 10, &listings);
  off.WaitIdle();
  CHECK(listings == 0);
  CHECK(rig.TotalGets() == 4);
}

}  // namespace
}  // namespace strata
