// cache_read_bench: read throughput of the cache's hit paths.
//  - memory: 1 MiB Read()s of a range resident in the memory tier;
//  - disk: the same with no memory tier, every read verified from the disk
//    tier's files (in the kernel page cache after the first pass; drop caches
//    yourself for a cold figure);
//  - miss: the fill path, as the prefetcher drives it: an 8 MiB Fill() of
//    bytes not cached (the fetcher writes every byte, as a store would),
//    then 1 MiB Read()s of it, through a memory tier smaller than the data so
//    that buffers are freed and allocated all along.
//
// Usage: cache_read_bench [DIR] [MiB]   (default: a temp dir, 256 MiB)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cache/block_cache_impl.h"

using namespace strata;

namespace {

double ReadAllGBps(BlockCache& c, const ObjectVersion& v, int passes) {
  std::vector<char> buf(1 << 20);
  auto start = std::chrono::steady_clock::now();
  for (int p = 0; p < passes; ++p) {
    for (uint64_t off = 0; off < v.size; off += buf.size()) {
      if (!c.Read(v, off, buf).ok()) std::abort();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(v.size) * passes / secs / 1e9;
}

// Fill 8 MiB, read it in 1 MiB reads; every byte is fetched once.
double MissGBps(BlockCache& c, const ObjectVersion& v) {
  std::vector<char> buf(1 << 20);
  constexpr uint64_t kPart = 8 << 20;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t part = 0; part < v.size; part += kPart) {
    if (!c.Fill(v, part, kPart).ok()) std::abort();
    for (uint64_t off = part; off < std::min(v.size, part + kPart); off += buf.size()) {
      if (!c.Read(v, off, buf).ok()) std::abort();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(v.size) / secs / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  bool remove_dir = false;
  if (argc > 1) {
    dir = argv[1];
  } else {
    std::string tmpl = "/tmp/strata-read-bench-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
    remove_dir = true;
  }
  uint64_t size = (argc > 2 ? std::stoull(argv[2]) : 256) << 20;
  RangeFetcher fetcher = [](const ObjectVersion&, uint64_t offset, std::span<char> dst) {
    std::memset(dst.data(), static_cast<int>(offset >> 20), dst.size());
    return Result<size_t>(dst.size());
  };
  ObjectVersion v{"bench://store", "file.bin", "etag-1", size};

  BlockCacheOptions mem;
  mem.memory_bytes = 2 * size;
  auto m = BlockCache::Open(mem, SystemClock(), fetcher).value();
  if (!m->Fill(v, 0, size).ok()) return 1;
  std::printf("memory tier: %.2f GB/s (1 MiB reads)\n", ReadAllGBps(*m, v, 5));

  {
    BlockCacheOptions small;
    small.memory_bytes = std::max<uint64_t>(64 << 20, size / 4);
    auto c = BlockCache::Open(small, SystemClock(), fetcher).value();
    ObjectVersion cold{"bench://store", "cold.bin", "etag-1", 4 * size};
    std::printf("miss path:   %.2f GB/s (8 MiB fills, then 1 MiB reads, %llu MiB)\n",
                MissGBps(*c, cold), static_cast<unsigned long long>(cold.size >> 20));
  }

  BlockCacheOptions disk;
  disk.memory_bytes = 0;
  disk.disk_dir = dir;
  disk.disk_bytes = 2 * size;
  disk.disk_free_floor_bytes = 0;
  {
    auto d = cache::BlockCacheImpl::Create(disk, SystemClock(), fetcher).value();
    if (!d->Fill(v, 0, size).ok()) return 1;
    d->WaitForWrites();
    std::printf("disk tier:   %.2f GB/s (1 MiB reads, checksums verified, files in page cache)\n",
                ReadAllGBps(*d, v, 3));
    if (d->Stats().fetches != 1)
      std::printf("warning: %llu fetches\n", static_cast<unsigned long long>(d->Stats().fetches));
  }
  if (remove_dir) std::filesystem::remove_all(dir);
  return 0;
}
