#include <algorithm>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "strata/prefetcher.h"
#include "test_support.h"
#include "traces.h"

namespace strata {
namespace {

using testing::CountingFetcher;
using testing::PatternByte;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

ObjectVersion Version(const std::string& key, uint64_t size) {
  return ObjectVersion{"test://bucket", key, "etag-1", size};
}

bool BytesMatch(const std::vector<char>& buf, uint64_t offset, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (buf[i] != PatternByte(offset + i)) return false;
  }
  return true;
}

// Parts still fetching when their handle closes hold their memory until they land.
uint64_t BudgetInUseAfterDrain(const CachedReaderFactory& factory) {
  for (int i = 0; i < 200 && factory.Stats().budget_in_use > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return factory.Stats().budget_in_use;
}

// A cache in front of a counting fetcher, and the factory under test.
struct Rig {
  explicit Rig(PrefetchOptions options = {},
               std::chrono::microseconds latency = std::chrono::microseconds(0), size_t threads = 8)
      : fetcher(latency) {
    BlockCacheOptions cache_options;  // memory tier only
    cache_options.memory_bytes = 4ull << 30;
    auto opened = BlockCache::Open(cache_options, SystemClock(), fetcher.AsFetcher());
    REQUIRE(opened.ok());
    cache = std::move(opened).value();
    factory = MakeCachedReaderFactory(cache, std::make_shared<ThreadPool>(threads), options,
                                      SystemClock());
  }

  // Reads [offset, offset + n) through `reader`, checking every byte.
  bool ReadAndCheck(FileReader& reader, uint64_t offset, uint64_t n, uint64_t object_size) {
    std::vector<char> buf(n);
    Result<size_t> got = reader.Read(offset, buf);
    if (!got.ok()) return false;
    const uint64_t expect = offset >= object_size ? 0 : std::min(n, object_size - offset);
    return *got == expect && BytesMatch(buf, offset, expect);
  }

  CountingFetcher fetcher;
  std::shared_ptr<BlockCache> cache;
  std::unique_ptr<CachedReaderFactory> factory;
};

TEST_CASE("a sequential read issues few, large fetches and returns the right bytes", "[prefetch]") {
  // Fetches much slower than the reader, which therefore catches up with them
  // and makes the window grow.
  Rig rig({}, std::chrono::microseconds(3000));
  const uint64_t size = 96 * MiB + 12345;  // not a multiple of any block
  auto v = Version("seq", size);
  auto reader = rig.factory->Open(1, v);
  for (uint64_t off = 0; off < size; off += 128 * KiB) {
    REQUIRE(rig.ReadAndCheck(*reader, off, 128 * KiB, size));
  }
  auto calls = rig.fetcher.calls();
  // Every byte once: the small initial request, a ramp of smaller parts (8 in
  // flight from the start), then parts of window / 8, at most part_size.
  CHECK(rig.fetcher.fetched_bytes() == size);
  CHECK(calls.size() <= size / (8 * MiB) + 16);
  std::sort(calls.begin(), calls.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
  CHECK(calls.front().offset == 0);
  CHECK(calls.front().length == 1 * MiB);
  for (const auto& c : calls) {
    CHECK(c.offset + c.length <= size);
    // At most part_size; the last part also takes a tail shorter than a quarter part.
    const uint64_t most = PrefetchOptions{}.part_size;
    CHECK(c.length <= (c.offset + c.length < size ? most : most + most / 4));
    if (c.offset >= 48 * MiB && c.offset + c.length < size) CHECK(c.length >= 4 * MiB);
  }
  PrefetchStats s = rig.factory->Stats();
  CHECK(s.reads[static_cast<size_t>(AccessPattern::kSequential)] ==
        (size + 128 * KiB - 1) / (128 * KiB));
  CHECK(s.returned_bytes == size);
  CHECK(s.readahead_bytes == size - 1 * MiB);
  CHECK(s.readahead_hits > 0);
  CHECK(s.window_grows > 0);
  CHECK(s.window_peak_bytes > 2 * 8 * MiB);
  CHECK(s.wasted_bytes == 0);
  CHECK(s.amplification() == Approx(1.0));
  reader.reset();
  CHECK(BudgetInUseAfterDrain(*rig.factory) == 0);
}

TEST_CASE("kernel-reordered sequential reads stay one stream", "[prefetch]") {
  Rig rig({}, std::chrono::microseconds(500));
  testing::Trace trace;
  for (const auto& t : testing::AllTraces()) {
    if (t.name.rfind("sequential, kernel-reordered", 0) == 0) trace = t;
  }
  REQUIRE(!trace.reads.empty());
  auto v = Version("reordered", trace.object_size);
  auto reader = rig.factory->Open(2, v);
  for (const auto& r : trace.reads) {
    REQUIRE(rig.ReadAndCheck(*reader, r.offset, r.size, trace.object_size));
  }
  CHECK(rig.fetcher.fetched_bytes() <= trace.object_size + 1 * MiB);
  // Parts are 2 MiB or more (how much more depends on how often the reader
  // catches up with the fetches, i.e. on timing).
  CHECK(rig.fetcher.calls().size() <= trace.object_size / (2 * MiB) + 4);
  CHECK(rig.factory->Stats().reads[static_cast<size_t>(AccessPattern::kRandom)] == 0);
}

TEST_CASE("random 64 KiB reads fetch at most 1.3x the bytes read", "[prefetch]") {
  Rig rig;
  const uint64_t size = 2048 * MiB;
  auto v = Version("random", size);
  std::mt19937_64 rng(11);
  uint64_t read_bytes = 0;
  for (int handle = 0; handle < 4; ++handle) {
    auto reader = rig.factory->Open(3, v);
    for (int i = 0; i < 500; ++i) {
      uint64_t off = (rng() % (size / (64 * KiB))) * 64 * KiB;
      REQUIRE(rig.ReadAndCheck(*reader, off, 64 * KiB, size));
      read_bytes += 64 * KiB;
    }
  }
  INFO("fetched " << rig.fetcher.fetched_bytes() << " for " << read_bytes);
  CHECK(rig.fetcher.fetched_bytes() <= read_bytes * 13 / 10);
  PrefetchStats s = rig.factory->Stats();
  CHECK(s.readahead_parts == 0);
  CHECK(s.reads[static_cast<size_t>(AccessPattern::kRandom)] >= 1990);
}

TEST_CASE("a small file is fetched whole in exactly one fetch", "[prefetch]") {
  Rig rig;
  for (uint64_t size : {100 * KiB, 3 * MiB + 7}) {
    auto v = Version("small" + std::to_string(size), size);
    const size_t before = rig.fetcher.calls().size();
    for (int open = 0; open < 2; ++open) {
      auto reader = rig.factory->Open(10 + size, v);
      for (uint64_t off = 0; off < size; off += 128 * KiB) {
        REQUIRE(rig.ReadAndCheck(*reader, off, 128 * KiB, size));
      }
    }
    auto calls = rig.fetcher.calls();
    REQUIRE(calls.size() == before + 1);
    CHECK(calls.back().offset == 0);
    CHECK(calls.back().length == size);
  }
}

TEST_CASE("a footer read fetches the footer region in one request", "[prefetch]") {
  Rig rig;
  const uint64_t size = 64 * MiB + 100;
  auto v = Version("table.parquet", size);
  auto reader = rig.factory->Open(20, v);
  REQUIRE(rig.ReadAndCheck(*reader, size - 8, 8, size));
  REQUIRE(rig.ReadAndCheck(*reader, size - 64 * KiB, 64 * KiB, size));
  REQUIRE(rig.ReadAndCheck(*reader, size - 700 * KiB, 300 * KiB, size));
  auto calls = rig.fetcher.calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].offset + calls[0].length == size);
  CHECK(calls[0].length <= 1 * MiB + 64 * KiB);  // the region, rounded to cache pages
  CHECK(rig.factory->Stats().footer_fills == 1);
  // Column chunks next: only their pages, no readahead.
  REQUIRE(rig.ReadAndCheck(*reader, 10 * MiB, 256 * KiB, size));
  REQUIRE(rig.ReadAndCheck(*reader, 30 * MiB, 256 * KiB, size));
  CHECK(rig.fetcher.fetched_bytes() - rig.fetcher.calls()[0].length == 512 * KiB);
  CHECK(rig.factory->Stats().readahead_parts == 0);
}

TEST_CASE("a file read randomly starts random on its next open", "[prefetch]") {
  Rig rig;
  const uint64_t size = 256 * MiB;
  auto v = Version("history", size);
  {
    auto reader = rig.factory->Open(30, v);
    for (uint64_t off : {100 * MiB, 10 * MiB, 200 * MiB, 50 * MiB}) {
      REQUIRE(rig.ReadAndCheck(*reader, off, 64 * KiB, size));
    }
  }
  auto before = rig.factory->Stats();
  auto reader = rig.factory->Open(30, v);
  // A short run (3 adjacent reads) of a random file does not start readahead.
  for (uint64_t off = 120 * MiB; off < 120 * MiB + 3 * 64 * KiB; off += 64 * KiB) {
    REQUIRE(rig.ReadAndCheck(*reader, off, 64 * KiB, size));
  }
  auto after = rig.factory->Stats();
  const auto random = static_cast<size_t>(AccessPattern::kRandom);
  CHECK(after.reads[random] - before.reads[random] == 3);
  CHECK(after.readahead_parts == before.readahead_parts);
  // Another inode is unaffected.
  auto other = rig.factory->Open(31, Version("other", size));
  REQUIRE(rig.ReadAndCheck(*other, 120 * MiB, 64 * KiB, size));
  CHECK(rig.factory->Stats().reads[random] == after.reads[random]);
}

TEST_CASE("a seek inside the window keeps the stream, a far seek drops it", "[prefetch]") {
  Rig rig({}, std::chrono::microseconds(500));
  const uint64_t size = 512 * MiB;
  auto v = Version("seek", size);
  auto reader = rig.factory->Open(40, v);
  for (uint64_t off = 0; off < 4 * MiB; off += MiB)
    REQUIRE(rig.ReadAndCheck(*reader, off, MiB, size));
  auto s1 = rig.factory->Stats();
  // 6 MiB ahead: inside the issued window.
  for (uint64_t off = 10 * MiB; off < 12 * MiB; off += MiB) {
    REQUIRE(rig.ReadAndCheck(*reader, off, MiB, size));
  }
  auto s2 = rig.factory->Stats();
  const auto seq = static_cast<size_t>(AccessPattern::kSequential);
  CHECK(s2.reads[seq] - s1.reads[seq] == 2);
  CHECK(s2.readahead_hits + s2.readahead_waits >= s1.readahead_hits + s1.readahead_waits + 2);
  CHECK(s2.wasted_bytes == 0);
  // Far away, then continuing there: the old window's parts are dropped and counted.
  for (uint64_t off = 400 * MiB; off < 404 * MiB; off += MiB) {
    REQUIRE(rig.ReadAndCheck(*reader, off, MiB, size));
  }
  reader.reset();
  auto s3 = rig.factory->Stats();
  CHECK(s3.wasted_bytes + s3.cancelled_bytes > 0);
  CHECK(BudgetInUseAfterDrain(*rig.factory) == 0);
}

TEST_CASE("readahead left unread at close is counted as wasted or cancelled", "[prefetch]") {
  Rig rig({}, std::chrono::microseconds(2000));
  const uint64_t size = 512 * MiB;
  auto reader = rig.factory->Open(45, Version("short-read", size));
  for (uint64_t off = 0; off < 3 * MiB; off += 512 * KiB) {
    REQUIRE(rig.ReadAndCheck(*reader, off, 512 * KiB, size));
  }
  reader.reset();
  PrefetchStats s = rig.factory->Stats();
  // The initial request covered 1 MiB; the reader consumed 2 MiB of readahead.
  CHECK(s.readahead_bytes > 2 * MiB);
  CHECK(s.wasted_bytes + s.cancelled_bytes == s.readahead_bytes - 2 * MiB);
  CHECK(BudgetInUseAfterDrain(*rig.factory) == 0);
  // Cancelled parts were never fetched.
  CHECK(rig.fetcher.fetched_bytes() <= 3 * MiB + s.wasted_bytes);
}

TEST_CASE("64 concurrent sequential readers stay inside the memory budget", "[prefetch]") {
  PrefetchOptions options;
  options.part_size = 1 * MiB;
  options.initial_request = 256 * KiB;
  options.max_window = 8 * MiB;
  options.prefetch_memory = 16 * MiB;
  options.small_file_threshold = 0;
  Rig rig(options, std::chrono::microseconds(300), 16);
  const uint64_t size = 6 * MiB;
  const int readers = 64;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      auto v = Version("many" + std::to_string(r), size);
      auto reader = rig.factory->Open(100 + r, v);
      for (uint64_t off = 0; off < size; off += 128 * KiB) {
        if (!rig.ReadAndCheck(*reader, off, 128 * KiB, size)) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
  PrefetchStats s = rig.factory->Stats();
  CHECK(s.budget_peak <= options.prefetch_memory);
  CHECK(s.budget_peak > 0);
  CHECK(BudgetInUseAfterDrain(*rig.factory) == 0);
  CHECK(s.readahead_parts > 0);
  // What is in flight at the store: the budget plus at most one demand read per reader.
  CHECK(rig.fetcher.peak_in_flight_bytes() <= options.prefetch_memory + readers * 256 * KiB);
  CHECK(rig.fetcher.fetched_bytes() <= readers * size * 11 / 10);
}

TEST_CASE("concurrent sequential streams share the readahead window", "[prefetch]") {
  // Fetches slower than the readers, so every window wants to grow.
  PrefetchOptions options;
  options.max_window = 64 * MiB;  // initial_window stays 16 MiB
  Rig rig(options, std::chrono::microseconds(3000));
  const uint64_t size = 96 * MiB;
  const int streams = 4;
  std::vector<std::unique_ptr<FileReader>> readers;
  for (int r = 0; r < streams; ++r) {
    readers.push_back(rig.factory->Open(200 + r, Version("share" + std::to_string(r), size)));
  }
  // Round robin, one 128 KiB read per stream in turn: all four hold parts at once.
  uint32_t active_mid_way = 0;
  for (uint64_t off = 0; off < size; off += 128 * KiB) {
    for (auto& reader : readers) REQUIRE(rig.ReadAndCheck(*reader, off, 128 * KiB, size));
    if (off == 32 * MiB) active_mid_way = rig.factory->Stats().active_streams;
  }
  PrefetchStats shared = rig.factory->Stats();
  CHECK(active_mid_way == streams);
  // Each window stays at its share, 64 / 4 = 16 MiB, instead of 64 MiB, cut
  // into 2 parts of 8 MiB: the parts one 64 MiB window would have. So the
  // mount keeps about 8 parts in flight, not 32, and the budget holds one
  // window's worth plus, per reader, the part it is in and one it has just
  // passed (whose pool task may not have let go of it yet): at most 4 x (16 +
  // 2 x 8) MiB, against 4 x (64 + 2 x 8) MiB unshared.
  CHECK(shared.window_peak_bytes == 16 * MiB);
  CHECK(shared.budget_peak <= streams * (16 + 2 * 8) * MiB);
  CHECK(rig.fetcher.fetched_bytes() == streams * size);
  const auto calls = rig.fetcher.calls();
  CHECK(calls.size() <= streams * (size / (8 * MiB) + 4));
  for (const auto& c : calls) CHECK(c.length <= 8 * MiB);
  // Read to the end, the four handles stay open but no longer take a share.
  CHECK(rig.factory->Stats().active_streams == 0);

  // Alone, a stream grows past the share again.
  auto alone = rig.factory->Open(300, Version("alone", size));
  for (uint64_t off = 0; off < size; off += 128 * KiB) {
    REQUIRE(rig.ReadAndCheck(*alone, off, 128 * KiB, size));
  }
  CHECK(rig.factory->Stats().window_peak_bytes > 16 * MiB);
  readers.clear();
  alone.reset();
  CHECK(rig.factory->Stats().active_streams == 0);
  CHECK(BudgetInUseAfterDrain(*rig.factory) == 0);
}

TEST_CASE("concurrent reads on one handle return the right bytes, each fetched once",
          "[prefetch]") {
  Rig rig({}, std::chrono::microseconds(200));
  const uint64_t size = 64 * MiB;
  auto v = Version("shared-handle", size);
  auto reader = rig.factory->Open(50, v);
  const int nthreads = 8;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < nthreads; ++t) {
    threads.emplace_back([&, t] {
      // Like the kernel: consecutive 128 KiB requests spread over threads.
      for (uint64_t off = t * 128 * KiB; off < size; off += nthreads * 128 * KiB) {
        if (!rig.ReadAndCheck(*reader, off, 128 * KiB, size)) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
  CHECK(rig.fetcher.fetched_bytes() == size);
  CHECK(rig.fetcher.calls().size() <= size / (8 * MiB) + 16);
}

TEST_CASE("strided reads fetch the next strides ahead", "[prefetch]") {
  Rig rig({}, std::chrono::microseconds(500));
  const uint64_t size = 256 * MiB;
  auto v = Version("strided", size);
  auto reader = rig.factory->Open(60, v);
  for (uint64_t off = 1 * MiB; off + 64 * KiB <= size; off += 4 * MiB) {
    REQUIRE(rig.ReadAndCheck(*reader, off, 64 * KiB, size));
  }
  PrefetchStats s = rig.factory->Stats();
  CHECK(s.reads[static_cast<size_t>(AccessPattern::kStrided)] >= 55);
  CHECK(s.readahead_hits + s.readahead_waits >= 55);
  // Lookahead past the last stride is dropped unused; nothing else is fetched.
  CHECK(rig.fetcher.fetched_bytes() <= (64 + 4) * 64 * KiB);
}

TEST_CASE("reads at and past the end return short counts and fetch nothing past EOF",
          "[prefetch]") {
  Rig rig;
  const uint64_t size = 20 * MiB + 3;
  auto v = Version("eof", size);
  auto reader = rig.factory->Open(70, v);
  REQUIRE(rig.ReadAndCheck(*reader, 0, MiB, size));
  REQUIRE(rig.ReadAndCheck(*reader, size - 100, MiB, size));
  REQUIRE(rig.ReadAndCheck(*reader, size, MiB, size));
  REQUIRE(rig.ReadAndCheck(*reader, size + 5 * MiB, MiB, size));
  for (const auto& c : rig.fetcher.calls()) CHECK(c.offset + c.length <= size);
}

}  // namespace
}  // namespace strata
