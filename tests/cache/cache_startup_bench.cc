// cache_startup_bench: how long Open() takes on a disk cache of N blocks.
//
// Usage: cache_startup_bench [DIR] [BLOCKS] [--open-only]
//   (default: a temp dir, 100000 blocks)
// Creates BLOCKS cached blocks of 4 KiB (small blocks keep the set-up quick;
// start-up cost is per file, not per byte), closes the cache, then times
// Open() three times and prints the figures. --open-only skips the creation
// (DIR from an earlier run).
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "cache/block_cache_impl.h"

using namespace strata;

static double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  std::string dir;
  bool remove_dir = false;
  if (argc > 1) {
    dir = argv[1];
  } else {
    std::string tmpl = "/tmp/strata-startup-bench-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
    remove_dir = true;
  }
  uint64_t blocks = argc > 2 ? std::stoull(argv[2]) : 100000;
  BlockCacheOptions o;
  o.block_size = 4096;
  o.page_size = 4096;
  o.memory_bytes = 8 << 20;
  o.disk_dir = dir;
  o.disk_bytes = blocks * 3 * 4096;
  o.disk_free_floor_bytes = 0;
  RangeFetcher fetcher = [](const ObjectVersion&, uint64_t offset, std::span<char> dst) {
    std::memset(dst.data(), static_cast<int>(offset >> 12), dst.size());
    return Result<size_t>(dst.size());
  };
  cache::CacheInternals internals;
  internals.write_backlog_bytes = 64 << 20;
  ObjectVersion v{"bench://store", "dataset.bin", "etag-1", blocks * 4096};
  bool open_only = argc > 3 && std::string(argv[3]) == "--open-only";
  auto t0 = std::chrono::steady_clock::now();
  if (!open_only) {
    auto c = cache::BlockCacheImpl::Create(o, SystemClock(), fetcher, internals);
    if (!c.ok()) {
      std::fprintf(stderr, "open: %s\n", c.status().ToString().c_str());
      return 1;
    }
    const uint64_t chunk = 1024 * 4096;
    for (uint64_t off = 0; off < v.size; off += chunk) {
      Status st = (*c)->Fill(v, off, chunk);
      if (!st.ok()) {
        std::fprintf(stderr, "fill: %s\n", st.ToString().c_str());
        return 1;
      }
      (*c)->WaitForWrites();
    }
    std::printf("created %llu blocks in %.1f s (dropped writes: %llu)\n",
                static_cast<unsigned long long>((*c)->disk_entries()),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                static_cast<unsigned long long>((*c)->Stats().disk_writes_dropped));
  }
  for (int run = 0; run < 3; ++run) {
    // CPU time too: on a shared, loaded machine wall time mostly measures
    // the other processes.
    double cpu0 = CpuSeconds();
    auto start = std::chrono::steady_clock::now();
    auto c = cache::BlockCacheImpl::Create(o, SystemClock(), fetcher, internals);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double cpu = CpuSeconds() - cpu0;
    if (!c.ok()) {
      std::fprintf(stderr, "reopen: %s\n", c.status().ToString().c_str());
      return 1;
    }
    std::printf("Open() with %llu cached blocks: %.3f s wall, %.3f s cpu\n",
                static_cast<unsigned long long>((*c)->disk_entries()), secs, cpu);
  }
  if (remove_dir) std::filesystem::remove_all(dir);
  return 0;
}
