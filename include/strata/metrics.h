// Metrics: counters and gauges rendered as Prometheus text exposition.
//
// strata's modules keep their own counters (BlockCacheStats, PrefetchStats);
// a MetricsText is filled from those snapshots by whoever publishes them (the
// CLI's metrics writer) and rendered once. No registry, no globals.
//
// Thread safety: a MetricsText is a value used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "strata/status.h"

namespace strata {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
 public:
  // `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; the first use of a name sets
  // its help and type. Values of one name may differ by labels.
  void Counter(const std::string& name, const std::string& help, double value,
               const MetricLabels& labels = {});
  void Gauge(const std::string& name, const std::string& help, double value,
             const MetricLabels& labels = {});

  // The Prometheus text format (version 0.0.4), families in insertion order.
  std::string Render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::vector<std::pair<MetricLabels, double>> samples;
  };
  void Add(const std::string& name, const std::string& help, const char* type, double value,
           const MetricLabels& labels);

  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// Writes `text` to `path` atomically (temp file, then rename), so a reader
// never sees half a file.
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace strata
