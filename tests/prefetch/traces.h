// Synthetic read traces for the access-pattern detector: what the kernel hands
// a FUSE daemon for common workloads. Shared by the unit tests and by the
// prefetch_trace_table program that prints the classification table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/access_pattern.h"

namespace strata::testing {

struct TraceRead {
  uint64_t offset;
  uint64_t size;
};

struct Trace {
  std::string name;
  uint64_t object_size;
  AccessPattern expected;
  std::vector<TraceRead> reads;
  // Reads at the start that may legitimately be classified otherwise while the
  // detector's hysteresis settles; excluded from the agreement figure.
  size_t warmup = 0;
};

std::vector<Trace> AllTraces();

struct TraceResult {
  AccessPattern final_mode;
  double agreement;  // share of reads after the warm-up classified as expected
};

TraceResult RunTrace(const Trace& trace, const DetectorOptions& options = {});

}  // namespace strata::testing
