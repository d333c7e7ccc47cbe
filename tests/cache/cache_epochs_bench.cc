// cache_epochs_bench: block hit ratio per epoch of a cyclic read over a data
// set twice the cache size (an ML training loop), S3-FIFO against LRU, for
// the memory tier alone and for the disk tier behind a small memory tier.
//
// Usage: cache_epochs_bench [EPOCHS]   (default 5)
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cache/block_cache_impl.h"

using namespace strata;

namespace {

constexpr uint64_t kBlock = 256 << 10;
constexpr uint64_t kBlocks = 1024;  // the data set: 256 MiB

std::vector<double> Run(const std::string& policy, bool disk, int epochs) {
  std::atomic<uint64_t> fetched{0};
  RangeFetcher fetcher = [&](const ObjectVersion&, uint64_t offset, std::span<char> dst) {
    fetched += dst.size();
    std::memset(dst.data(), static_cast<int>(offset >> 18), dst.size());
    return Result<size_t>(dst.size());
  };
  BlockCacheOptions o;
  o.block_size = kBlock;
  o.page_size = 64 << 10;
  o.eviction = policy;
  std::string dir;
  if (disk) {
    std::string tmpl = "/tmp/strata-epochs-bench-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
    o.disk_dir = dir;
    // Data set = 2x the disk tier; blocks carry a 4 KiB header on disk.
    o.disk_bytes = kBlocks / 2 * (kBlock + 4096);
    o.disk_free_floor_bytes = 0;
    o.memory_bytes = kBlocks / 16 * kBlock;
  } else {
    o.memory_bytes = kBlocks / 2 * kBlock;
  }
  auto c = cache::BlockCacheImpl::Create(o, SystemClock(), fetcher).value();
  ObjectVersion v{"bench://store", "dataset.bin", "etag-1", kBlocks * kBlock};
  std::vector<char> buf(kBlock);
  std::vector<double> ratios;
  for (int e = 0; e < epochs; ++e) {
    uint64_t before = fetched;
    for (uint64_t b = 0; b < kBlocks; ++b) {
      if (!c->Read(v, b * kBlock, buf).ok()) std::abort();
      c->WaitForWrites();  // a steady reader: the disk keeps up
    }
    ratios.push_back(1.0 - static_cast<double>(fetched - before) / (kBlocks * kBlock));
  }
  c.reset();
  if (disk) std::filesystem::remove_all(dir);
  return ratios;
}

}  // namespace

int main(int argc, char** argv) {
  int epochs = argc > 1 ? std::stoi(argv[1]) : 5;
  std::printf("cyclic read of %llu blocks of %llu KiB, cache = half the data set\n",
              static_cast<unsigned long long>(kBlocks),
              static_cast<unsigned long long>(kBlock >> 10));
  for (bool disk : {false, true}) {
    for (const char* policy : {"s3fifo", "lru"}) {
      auto r = Run(policy, disk, epochs);
      std::printf("%-6s %-7s", disk ? "disk" : "memory", policy);
      for (double x : r) std::printf("  %5.1f%%", 100 * x);
      std::printf("\n");
    }
  }
  return 0;
}
