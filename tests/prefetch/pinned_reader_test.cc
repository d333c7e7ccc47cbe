// CachedFileReader::ReadPinned: the same bytes, detector decisions, readahead
// and counters as Read, with the bytes taken from the cache's page buffers.
#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
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

bool BytesMatch(const std::vector<char>& buf, uint64_t offset) {
  for (size_t i = 0; i < buf.size(); ++i) {
    if (buf[i] != PatternByte(offset + i)) return false;
  }
  return true;
}

std::vector<char> Flatten(const ReadBuffers& b) {
  std::vector<char> out(b.size());
  b.CopyTo(out);
  return out;
}

// A cache and a reader factory whose only pool worker is held: every
// readahead part stays queued until a read runs it itself, so the readahead
// (and every counter) depends on the reads alone, not on timing.
struct Rig {
  Rig() {
    BlockCacheOptions cache_options;  // memory tier only
    cache_options.memory_bytes = 128 * MiB;
    auto opened = BlockCache::Open(cache_options, SystemClock(), fetcher.AsFetcher());
    REQUIRE(opened.ok());
    cache = std::move(opened).value();
    pool = std::make_shared<ThreadPool>(1);
    auto released = release.get_future().share();
    pool->Submit([released] { released.wait(); });
    PrefetchOptions options;
    options.max_window = 32 * MiB;
    factory = MakeCachedReaderFactory(cache, pool, options, SystemClock());
  }
  ~Rig() { release.set_value(); }

  CountingFetcher fetcher;
  std::shared_ptr<BlockCache> cache;
  std::promise<void> release;
  std::shared_ptr<ThreadPool> pool;
  std::unique_ptr<CachedReaderFactory> factory;
};

void CheckSameCounters(const PrefetchStats& a, const PrefetchStats& b) {
  CHECK(a.reads == b.reads);
  CHECK(a.bytes == b.bytes);
  CHECK(a.returned_bytes == b.returned_bytes);
  CHECK(a.fetches == b.fetches);
  CHECK(a.fetched_bytes == b.fetched_bytes);
  CHECK(a.readahead_parts == b.readahead_parts);
  CHECK(a.readahead_bytes == b.readahead_bytes);
  CHECK(a.readahead_hits == b.readahead_hits);
  CHECK(a.readahead_waits == b.readahead_waits);
  CHECK(a.readahead_stolen == b.readahead_stolen);
  CHECK(a.readahead_evicted == b.readahead_evicted);
  CHECK(a.cancelled_bytes == b.cancelled_bytes);
  CHECK(a.wasted_bytes == b.wasted_bytes);
  CHECK(a.window_grows == b.window_grows);
  CHECK(a.window_shrinks == b.window_shrinks);
  CHECK(a.window_peak_bytes == b.window_peak_bytes);
  CHECK(a.budget_denials == b.budget_denials);
  CHECK(a.small_file_fills == b.small_file_fills);
  CHECK(a.footer_fills == b.footer_fills);
  CHECK(a.initial_fills == b.initial_fills);
}

std::vector<testing::FetchCall> SortedCalls(const CountingFetcher& f) {
  auto calls = f.calls();
  std::sort(calls.begin(), calls.end(), [](const auto& x, const auto& y) {
    return std::tie(x.offset, x.length) < std::tie(y.offset, y.length);
  });
  return calls;
}

TEST_CASE("ReadPinned matches Read on every trace: bytes, decisions, fetches, counters",
          "[prefetch]") {
  uint64_t parts = 0, stolen = 0;
  for (const auto& trace : testing::AllTraces()) {
    INFO(trace.name);
    Rig copied, pinned;
    auto v = Version("trace", trace.object_size);
    {
      auto a = copied.factory->Open(1, v);
      auto b = pinned.factory->Open(1, v);
      for (const auto& r : trace.reads) {
        const uint64_t expect =
            r.offset >= trace.object_size ? 0 : std::min(r.size, trace.object_size - r.offset);
        std::vector<char> buf(r.size);
        Result<size_t> n = a->Read(r.offset, buf);
        REQUIRE(n.ok());
        REQUIRE(*n == expect);
        buf.resize(*n);
        Result<ReadBuffers> got = b->ReadPinned(r.offset, r.size);
        REQUIRE(got.ok());
        REQUIRE(got->size() == expect);
        REQUIRE(Flatten(*got) == buf);
        REQUIRE(BytesMatch(buf, r.offset));
      }
    }  // closing both handles counts their unread readahead alike
    const PrefetchStats s = copied.factory->Stats();
    CHECK(s.reads[0] + s.reads[1] + s.reads[2] == trace.reads.size());
    CHECK(s.reads[static_cast<size_t>(trace.expected)] > 0);
    parts += s.readahead_parts;
    stolen += s.readahead_stolen;
    CheckSameCounters(s, pinned.factory->Stats());
    auto ca = SortedCalls(copied.fetcher), cb = SortedCalls(pinned.fetcher);
    REQUIRE(ca.size() == cb.size());
    for (size_t i = 0; i < ca.size(); ++i) {
      CHECK(ca[i].offset == cb[i].offset);
      CHECK(ca[i].length == cb[i].length);
    }
  }
  // Readahead was issued, and run by the reads themselves (the held worker).
  CHECK(parts > 0);
  CHECK(stolen > 0);
  CHECK(stolen <= parts);
}

TEST_CASE("ReadPinned hands out the cache's page buffers, not copies", "[prefetch]") {
  Rig rig;
  const uint64_t size = 3 * MiB + 100;
  auto v = Version("pages", size);
  auto reader = rig.factory->Open(2, v);
  Result<ReadBuffers> first = reader->ReadPinned(MiB + 10, MiB);
  REQUIRE(first.ok());
  Result<ReadBuffers> again = reader->ReadPinned(MiB + 10, MiB);
  REQUIRE(again.ok());
  // Resident now: both reads point into the same pinned page buffers.
  REQUIRE(first->pieces.size() == again->pieces.size());
  for (size_t i = 0; i < first->pieces.size(); ++i) {
    CHECK(first->pieces[i].data() == again->pieces[i].data());
    CHECK(first->pieces[i].size() == again->pieces[i].size());
  }
  CHECK(first->pins.size() == 17);  // one per 64 KiB page touched
  CHECK(BytesMatch(Flatten(*first), MiB + 10));
  // At and past the end: empty, as Read's zero count.
  Result<ReadBuffers> tail = reader->ReadPinned(size - 50, MiB);
  REQUIRE(tail.ok());
  CHECK(BytesMatch(Flatten(*tail), size - 50));
  CHECK(tail->size() == 50);
  for (uint64_t off : {size, size + MiB}) {
    Result<ReadBuffers> none = reader->ReadPinned(off, MiB);
    REQUIRE(none.ok());
    CHECK(none->size() == 0);
    CHECK(none->pieces.empty());
  }
  CHECK(rig.factory->Stats().returned_bytes == 2 * MiB + 50);
}

// A reader that only implements Read: the base class's ReadPinned serves it.
class OnlyRead : public FileReader {
 public:
  explicit OnlyRead(uint64_t size) : size_(size) {}
  Result<size_t> Read(uint64_t offset, std::span<char> dst) override {
    if (offset == 666) return Status::IoError("injected");
    if (offset >= size_) return size_t{0};
    const size_t n = std::min<uint64_t>(dst.size(), size_ - offset);
    for (size_t i = 0; i < n; ++i) dst[i] = PatternByte(offset + i);
    return n;
  }

 private:
  uint64_t size_;
};

TEST_CASE("The default ReadPinned reads into one buffer it pins", "[prefetch]") {
  OnlyRead reader(10 * KiB);
  Result<ReadBuffers> mid = reader.ReadPinned(100, 4 * KiB);
  REQUIRE(mid.ok());
  CHECK(mid->pieces.size() == 1);
  CHECK(mid->pins.size() == 1);
  CHECK(BytesMatch(Flatten(*mid), 100));
  CHECK(mid->size() == 4 * KiB);
  Result<ReadBuffers> tail = reader.ReadPinned(10 * KiB - 7, 4 * KiB);
  REQUIRE(tail.ok());
  CHECK(tail->size() == 7);
  CHECK(BytesMatch(Flatten(*tail), 10 * KiB - 7));
  Result<ReadBuffers> past = reader.ReadPinned(20 * KiB, 4 * KiB);
  REQUIRE(past.ok());
  CHECK(past->pieces.empty());
  CHECK(reader.ReadPinned(0, 0)->pieces.empty());
  Result<ReadBuffers> failed = reader.ReadPinned(666, 10);
  REQUIRE(!failed.ok());
  CHECK(failed.status().code() == Code::kIoError);
}

}  // namespace
}  // namespace strata
