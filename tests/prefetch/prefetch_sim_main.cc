// prefetch_sim: one sequential reader through the cached reader factory and
// the real BlockCache (memory tier), over a simulated store whose every fetch
// costs a round trip plus its bytes at a per-stream bandwidth. Prints the
// throughput next to what 8 parallel streams would get, and the prefetch
// counters. Not a test; for tuning the window and for spotting cache policies
// that evict readahead before it is read.
//
//   prefetch_sim [per_stream_MBps=55] [latency_us=2000] [object_MiB=1024]
//                [read_KiB=1024] [cache_MiB=1024] [eviction=s3fifo]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "strata/prefetcher.h"

namespace {

double Arg(int argc, char** argv, int i, double fallback) {
  return argc > i ? std::atof(argv[i]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  const double stream_mbps = Arg(argc, argv, 1, 55);
  const auto latency = std::chrono::microseconds(static_cast<int64_t>(Arg(argc, argv, 2, 2000)));
  const uint64_t size = static_cast<uint64_t>(Arg(argc, argv, 3, 1024)) << 20;
  const uint64_t read_size = static_cast<uint64_t>(Arg(argc, argv, 4, 1024)) << 10;
  BlockCacheOptions cache_options;
  cache_options.memory_bytes = static_cast<uint64_t>(Arg(argc, argv, 5, 1024)) << 20;
  if (argc > 6) cache_options.eviction = argv[6];

  std::atomic<int> in_flight{0}, peak{0};
  RangeFetcher fetcher = [&](const ObjectVersion& v, uint64_t offset,
                             std::span<char> dst) -> Result<size_t> {
    const uint64_t n = std::min<uint64_t>(dst.size(), v.size - offset);
    int now = ++in_flight;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    std::this_thread::sleep_for(latency +
                                std::chrono::microseconds(static_cast<int64_t>(n / stream_mbps)));
    --in_flight;
    return static_cast<size_t>(n);
  };
  auto opened = BlockCache::Open(cache_options, SystemClock(), fetcher);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::shared_ptr<BlockCache> cache = std::move(opened).value();
  auto factory = MakeCachedReaderFactory(cache, nullptr, PrefetchOptions{}, SystemClock());
  auto reader = factory->Open(1, ObjectVersion{"sim://", "object", "etag", size});

  std::vector<char> buf(read_size);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t off = 0; off < size; off += read_size) {
    Result<size_t> got = reader->Read(off, buf);
    if (!got.ok()) {
      std::fprintf(stderr, "read at %llu: %s\n", static_cast<unsigned long long>(off),
                   got.status().ToString().c_str());
      return 1;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PrefetchStats s = factory->Stats();
  std::printf(
      "%.0f MB/s (8 streams: %.0f MB/s); fetches %llu, %.2fx bytes; peak fetches in flight %d; "
      "waits %llu, hits %llu, evicted before read %llu; window peak %llu MiB\n",
      size / secs / 1e6, 8 * stream_mbps, static_cast<unsigned long long>(s.fetches),
      s.amplification(), peak.load(), static_cast<unsigned long long>(s.readahead_waits),
      static_cast<unsigned long long>(s.readahead_hits),
      static_cast<unsigned long long>(s.readahead_evicted),
      static_cast<unsigned long long>(s.window_peak_bytes >> 20));
  return 0;
}
