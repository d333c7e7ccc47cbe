#include "traces.h"

#include <algorithm>
#include <random>
#include <utility>

namespace strata::testing {
namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

Trace Sequential(const std::string& name, uint64_t object_size, uint64_t request) {
  Trace t{name, object_size, AccessPattern::kSequential, {}};
  for (uint64_t off = 0; off < object_size; off += request) {
    t.reads.push_back({off, std::min(request, object_size - off)});
  }
  return t;
}

// The kernel splits each readahead batch into `request`-sized FUSE reads that
// several daemon threads pick up, so they arrive shuffled within the batch, and
// the next batch may overtake the tail of the previous one.
Trace KernelReordered(const std::string& name, uint64_t object_size, uint64_t request,
                      uint64_t batch, uint32_t seed) {
  Trace t = Sequential(name, object_size, request);
  std::mt19937 rng(seed);
  const size_t per_batch = batch / request;
  for (size_t i = 0; i < t.reads.size(); i += per_batch) {
    auto last = t.reads.begin() + std::min(t.reads.size(), i + per_batch);
    std::shuffle(t.reads.begin() + i, last, rng);
    if (last != t.reads.end() && rng() % 2) std::iter_swap(last - 1, last);
  }
  return t;
}

Trace Strided(uint64_t object_size, uint64_t size, uint64_t stride) {
  Trace t{"strided: 64 KiB every 4 MiB", object_size, AccessPattern::kStrided, {}, 3};
  for (uint64_t off = 0; off + size <= object_size; off += stride) t.reads.push_back({off, size});
  return t;
}

Trace UniformRandom(const std::string& name, uint64_t object_size, uint64_t size, bool aligned,
                    size_t count, uint32_t seed) {
  Trace t{name, object_size, AccessPattern::kRandom, {}, 3};
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < count; ++i) {
    uint64_t off = rng() % (object_size - size);
    if (aligned) off -= off % size;
    t.reads.push_back({off, size});
  }
  return t;
}

// A Parquet reader: the 8-byte tail, the footer, then column chunks of the
// selected columns in each row group, each read in one request.
Trace Parquet() {
  const uint64_t size = 512 * MiB;
  Trace t{
      "parquet: tail, footer, 3 of 20 columns x 8 row groups", size, AccessPattern::kRandom, {}, 0};
  t.reads.push_back({size - 8, 8});
  t.reads.push_back({size - 64 * KiB, 64 * KiB});
  const uint64_t row_group = (size - MiB) / 8;
  const uint64_t column = row_group / 20;
  for (uint64_t rg = 0; rg < 8; ++rg) {
    for (uint64_t col : {2, 7, 13}) {
      const uint64_t start = rg * row_group + col * column;
      t.reads.push_back({start, 768 * KiB});
    }
  }
  return t;
}

// Footer, then one large column chunk read in 1 MiB requests: random at first,
// sequential once the scan has gone on long enough.
Trace ParquetLongColumnScan() {
  const uint64_t size = 1 * GiB;
  Trace t{"parquet: footer, then a 64 MiB column scanned", size, AccessPattern::kSequential, {}, 8};
  t.reads.push_back({size - 8, 8});
  t.reads.push_back({size - 64 * KiB, 64 * KiB});
  for (uint64_t off = 100 * MiB; off < 164 * MiB; off += MiB) t.reads.push_back({off, MiB});
  return t;
}

Trace TwoInterleavedStreams() {
  Trace t{"two interleaved streams (0 and 256 MiB)", 512 * MiB, AccessPattern::kSequential, {}};
  for (uint64_t off = 0; off < 64 * MiB; off += 128 * KiB) {
    t.reads.push_back({off, 128 * KiB});
    t.reads.push_back({256 * MiB + off, 128 * KiB});
  }
  return t;
}

// A sequential scan through mmap: each fault reads around the faulting page
// (ra/2 back, ra/2 forward) and only pages not yet cached reach FUSE.
Trace MmapSequential() {
  const uint64_t size = 64 * MiB, ra = 128 * KiB, page = 4 * KiB;
  Trace t{"mmap sequential page faults (read-around)", size, AccessPattern::kSequential, {}};
  uint64_t cached_lo = 0, cached_hi = 0;
  for (uint64_t fault = 0; fault < size; fault += page) {
    if (fault >= cached_lo && fault < cached_hi) continue;
    uint64_t lo = fault > ra / 2 ? fault - ra / 2 : 0;
    uint64_t hi = std::min(size, lo + ra);
    if (lo < cached_hi && cached_hi > 0) lo = cached_hi;  // the back half is already cached
    t.reads.push_back({lo, hi - lo});
    if (cached_hi == 0) cached_lo = lo;
    cached_hi = hi;
  }
  return t;
}

Trace MmapRandom() {
  const uint64_t size = 1 * GiB, ra = 128 * KiB, page = 4 * KiB;
  Trace t{"mmap random page faults (read-around)", size, AccessPattern::kRandom, {}, 3};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    uint64_t fault = (rng() % (size / page)) * page;
    uint64_t lo = fault > ra / 2 ? fault - ra / 2 : 0;
    t.reads.push_back({lo, std::min(ra, size - lo)});
  }
  return t;
}

}  // namespace

std::vector<Trace> AllTraces() {
  std::vector<Trace> traces;
  traces.push_back(Sequential("sequential in order, 128 KiB", 64 * MiB, 128 * KiB));
  traces.push_back(KernelReordered("sequential, kernel-reordered 128 KiB in 1 MiB batches",
                                   64 * MiB, 128 * KiB, MiB, 1));
  traces.push_back(KernelReordered("dd bs=1M, 16 FUSE threads, reordered 128 KiB in 2 MiB batches",
                                   256 * MiB, 128 * KiB, 2 * MiB, 2));
  traces.push_back(Strided(1 * GiB, 64 * KiB, 4 * MiB));
  traces.push_back(
      UniformRandom("uniform random 64 KiB aligned (fio)", 2 * GiB, 64 * KiB, true, 2000, 3));
  traces.push_back(
      UniformRandom("uniform random 4 KiB unaligned", 256 * MiB, 4 * KiB, false, 2000, 4));
  traces.push_back(Parquet());
  traces.push_back(ParquetLongColumnScan());
  traces.push_back(TwoInterleavedStreams());
  traces.push_back(MmapSequential());
  traces.push_back(MmapRandom());
  return traces;
}

TraceResult RunTrace(const Trace& trace, const DetectorOptions& options) {
  AccessPatternDetector detector(options, trace.object_size);
  size_t agree = 0, counted = 0;
  for (size_t i = 0; i < trace.reads.size(); ++i) {
    AccessDecision d = detector.Observe(trace.reads[i].offset, trace.reads[i].size);
    if (i < trace.warmup) continue;
    ++counted;
    if (d.pattern == trace.expected) ++agree;
  }
  return {detector.mode(), counted ? static_cast<double>(agree) / counted : 1.0};
}

}  // namespace strata::testing
