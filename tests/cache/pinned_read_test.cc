// BlockCache::ReadPinned: the bytes of Read as pinned spans into the page
// buffers, from every source (memory, disk, a fetch, another's fetch), with
// the same statistics, and valid after the pages leave the cache.
#include <atomic>
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
using cache_test::TempDir;
using cache_test::Version;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

BlockCacheOptions MemoryOptions(uint64_t memory = 64 * MiB) {
  BlockCacheOptions o;
  o.block_size = MiB;
  o.page_size = 64 * KiB;
  o.memory_bytes = memory;
  return o;
}

std::unique_ptr<BlockCacheImpl> MakeCache(FakeFetcher& f, const BlockCacheOptions& o) {
  auto c = BlockCacheImpl::Create(o, SystemClock(), f.AsFetcher());
  REQUIRE(c.ok());
  return std::move(c).value();
}

std::vector<char> Flatten(const ReadBuffers& b) {
  std::vector<char> out(b.size());
  b.CopyTo(out);
  return out;
}

ReadBuffers MustReadPinned(BlockCache& c, const ObjectVersion& v, uint64_t off, size_t len) {
  Result<ReadBuffers> r = c.ReadPinned(v, off, len);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// Every tier-visible figure that a read moves.
void CheckSameStats(const BlockCacheStats& a, const BlockCacheStats& b) {
  CHECK(a.memory.hits == b.memory.hits);
  CHECK(a.memory.misses == b.memory.misses);
  CHECK(a.memory.hit_bytes == b.memory.hit_bytes);
  CHECK(a.memory.inserted_bytes == b.memory.inserted_bytes);
  CHECK(a.memory.evictions == b.memory.evictions);
  CHECK(a.memory.used_bytes == b.memory.used_bytes);
  CHECK(a.fetches == b.fetches);
  CHECK(a.fetched_bytes == b.fetched_bytes);
  CHECK(a.single_flight_waits == b.single_flight_waits);
}

TEST_CASE("ReadPinned returns Read's bytes across page and block boundaries") {
  FakeFetcher f;
  auto c = MakeCache(f, MemoryOptions());
  auto v = Version("a", 5 * MiB + 123);
  struct Range {
    uint64_t off, len;
  };
  const Range ranges[] = {
      {0, 1},                         // one byte
      {1000, 3 * MiB},                // across blocks, unaligned ends (a fetch)
      {64 * KiB - 10, 20},            // across one page boundary
      {MiB - 100, 200},               // across a block boundary
      {2 * MiB, MiB},                 // exactly one block, from memory
      {5 * MiB, 123},                 // the short tail page, whole
      {5 * MiB + 100, 64 * KiB},      // past the end: short
      {4 * MiB + 5, 2 * MiB},         // through the end
      {3 * MiB + 64 * KiB, 64 * KiB}  // exactly one page
  };
  for (const auto& r : ranges) {
    INFO("offset " << r.off << " length " << r.len);
    ReadBuffers pinned = MustReadPinned(*c, v, r.off, r.len);
    CHECK(Flatten(pinned) == Expected(v, r.off, r.len));
    CHECK(Flatten(pinned) == ReadAll(*c, v, r.off, r.len));
    // At most one piece per page touched, and every piece is non-empty.
    const uint64_t end = std::min(v.size, r.off + r.len);
    CHECK(pinned.pieces.size() <= (end - 1) / (64 * KiB) - r.off / (64 * KiB) + 1);
    for (auto piece : pinned.pieces) CHECK(!piece.empty());
  }
}

TEST_CASE("ReadPinned at and past the end, and of nothing, is empty") {
  FakeFetcher f;
  auto c = MakeCache(f, MemoryOptions());
  auto v = Version("small", 3 * MiB + 1000);
  CHECK(MustReadPinned(*c, v, v.size, 4096).size() == 0);
  CHECK(MustReadPinned(*c, v, v.size + 5 * MiB, 4096).size() == 0);
  CHECK(MustReadPinned(*c, v, 0, 0).size() == 0);
  CHECK(f.calls() == 0);
  // The last 500 bytes of a 1000-byte tail page.
  ReadBuffers tail = MustReadPinned(*c, v, v.size - 500, MiB);
  CHECK(tail.size() == 500);
  CHECK(tail.pieces.size() == 1);
  CHECK(Flatten(tail) == Expected(v, v.size - 500, 500));
  auto empty = Version("empty", 0);
  CHECK(MustReadPinned(*c, empty, 0, 4096).size() == 0);
}

TEST_CASE("ReadPinned and Read move the same statistics and evict alike") {
  // Two caches small enough to evict, driven by the same reads; recency
  // (NoteRead) decides what survives, so equal hits mean equal recency.
  FakeFetcher fa, fb;
  auto a = MakeCache(fa, MemoryOptions(4 * MiB));
  auto b = MakeCache(fb, MemoryOptions(4 * MiB));
  auto v = Version("cyclic", 12 * MiB + 777);
  for (int epoch = 0; epoch < 3; ++epoch) {
    for (uint64_t off = 0; off < v.size; off += 700 * KiB) {
      const uint64_t len = 300 * KiB + (off % (128 * KiB));
      CHECK(ReadAll(*a, v, off, len) == Expected(v, off, len));
      CHECK(Flatten(MustReadPinned(*b, v, off, len)) == Expected(v, off, len));
      // A re-read of a hot block.
      CHECK(ReadAll(*a, v, MiB, 64 * KiB) == Expected(v, MiB, 64 * KiB));
      CHECK(Flatten(MustReadPinned(*b, v, MiB, 64 * KiB)) == Expected(v, MiB, 64 * KiB));
    }
  }
  CHECK(a->Stats().memory.evictions > 0);
  CHECK(a->Stats().memory.hits > 0);
  CheckSameStats(a->Stats(), b->Stats());
  CHECK(fa.calls() == fb.calls());
}

TEST_CASE("ReadPinned of a missing range shares one fetch with concurrent readers") {
  FakeFetcher f;
  auto c = MakeCache(f, MemoryOptions());
  auto v = Version("hot", 4 * MiB);
  f.Block();
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // Half pinned, half copied: they share the flight either way.
      const uint64_t off = MiB + 1000 * i;
      if (i % 2 == 0) {
        Result<ReadBuffers> r = c->ReadPinned(v, off, MiB);
        if (r.ok() && Flatten(*r) == Expected(v, off, MiB)) ++good;
      } else {
        std::vector<char> buf(MiB);
        auto n = c->Read(v, off, buf);
        if (n.ok() && *n == MiB && buf == Expected(v, off, MiB)) ++good;
      }
    });
  }
  f.WaitStarted(1);
  for (int i = 0; i < 200 && c->Stats().single_flight_waits < kThreads - 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  f.Unblock();
  for (auto& t : threads) t.join();
  CHECK(good == kThreads);
  // The first reader's flight covers [1 MiB, 2 MiB + 64 KiB) at most; the
  // others join it and fetch only the pages past it.
  CHECK(c->Stats().single_flight_waits >= 1);
  CHECK(f.calls() <= 2);
  CHECK(c->Stats().fetched_bytes <= MiB + 64 * KiB * 2);
}

TEST_CASE("A failed fetch fails ReadPinned; the next one retries") {
  FakeFetcher f;
  auto c = MakeCache(f, MemoryOptions());
  auto v = Version("bad", MiB);
  f.set_fail(true);
  Result<ReadBuffers> r = c->ReadPinned(v, 0, 1000);
  REQUIRE(!r.ok());
  CHECK(r.status().code() == Code::kIoError);
  CHECK(c->Stats().memory.used_bytes == 0);
  f.set_fail(false);
  CHECK(Flatten(MustReadPinned(*c, v, 0, 1000)) == Expected(v, 0, 1000));
}

TEST_CASE("ReadPinned serves the disk tier without fetching") {
  TempDir dir;
  BlockCacheOptions o = MemoryOptions(32 * MiB);
  o.disk_dir = dir.path();
  o.disk_bytes = 64 * MiB;
  o.disk_free_floor_bytes = 0;
  auto v = Version("disk", 6 * MiB + 4321);
  {
    FakeFetcher f;
    auto c = MakeCache(f, o);
    REQUIRE(ReadAll(*c, v, 0, v.size) == Expected(v, 0, v.size));
  }  // the destructor writes the backlog out
  FakeFetcher f;
  auto c = MakeCache(f, o);
  CHECK(c->Stats().memory.used_bytes == 0);
  ReadBuffers pinned = MustReadPinned(*c, v, MiB / 2, 5 * MiB);
  CHECK(Flatten(pinned) == Expected(v, MiB / 2, 5 * MiB));
  CHECK(Flatten(MustReadPinned(*c, v, 6 * MiB, MiB)) == Expected(v, 6 * MiB, MiB));
  CHECK(f.calls() == 0);
  CHECK(c->Stats().disk.hits == 80 + 1);
  // Promoted: the same range again comes from memory.
  const uint64_t memory_hits = c->Stats().memory.hits;
  CHECK(Flatten(MustReadPinned(*c, v, MiB / 2, 5 * MiB)) == Expected(v, MiB / 2, 5 * MiB));
  CHECK(c->Stats().memory.hits == memory_hits + 80);
}

TEST_CASE("Pinned bytes stay valid after Invalidate drops their pages") {
  FakeFetcher f;
  auto c = MakeCache(f, MemoryOptions());
  auto v = Version("gone", 3 * MiB + 10);
  ReadBuffers pinned = MustReadPinned(*c, v, 100, 3 * MiB);
  c->Invalidate(v.store, v.key, "");
  CHECK(c->Stats().memory.used_bytes == 0);
  CHECK(c->ResidentPrefix(v, 0, v.size) == 0);
  // New pages of another object take the recycled arena slots meanwhile.
  auto w = Version("next", 8 * MiB);
  CHECK(ReadAll(*c, w, 0, w.size) == Expected(w, 0, w.size));
  CHECK(Flatten(pinned) == Expected(v, 100, 3 * MiB));
}

TEST_CASE("Pinned bytes stay valid after eviction and after the cache is gone") {
  FakeFetcher f;
  auto c = MakeCache(f, MemoryOptions(2 * MiB));
  auto v = Version("evicted", 16 * MiB);
  ReadBuffers first = MustReadPinned(*c, v, 0, MiB + 5);
  // Stream the rest through a 2 MiB memory tier: block 0 is evicted and its
  // slots would be reused if the pins did not hold them.
  for (uint64_t off = 2 * MiB; off < v.size; off += MiB) {
    CHECK(ReadAll(*c, v, off, MiB) == Expected(v, off, MiB));
  }
  CHECK(c->Stats().memory.evictions > 0);
  CHECK(c->ResidentPrefix(v, 0, MiB) == 0);
  CHECK(Flatten(first) == Expected(v, 0, MiB + 5));
  ReadBuffers last = MustReadPinned(*c, v, 15 * MiB, MiB);
  c.reset();
  CHECK(Flatten(last) == Expected(v, 15 * MiB, MiB));
  CHECK(Flatten(first) == Expected(v, 0, MiB + 5));
}

TEST_CASE("ReadBuffers merges pieces that continue in memory and copies them in order") {
  auto owner = std::make_shared<std::vector<char>>(100);
  for (size_t i = 0; i < owner->size(); ++i) (*owner)[i] = static_cast<char>(i);
  const char* base = owner->data();
  ReadBuffers b;
  b.Append(std::span<const char>(base, 10), owner);
  b.Append(std::span<const char>(base + 10, 20), owner);  // continues: merged
  b.Append(std::span<const char>(base + 50, 0), owner);   // empty: dropped
  b.Append(std::span<const char>(base + 60, 5), owner);   // a gap: a new piece
  REQUIRE(b.pieces.size() == 2);
  CHECK(b.pieces[0].size() == 30);
  CHECK(b.pins.size() == 3);
  CHECK(b.size() == 35);
  std::vector<char> flat = Flatten(b);
  for (size_t i = 0; i < 30; ++i) CHECK(flat[i] == static_cast<char>(i));
  for (size_t i = 0; i < 5; ++i) CHECK(flat[30 + i] == static_cast<char>(60 + i));
}

}  // namespace
}  // namespace strata
