// MetricsWriter: publishes a mount's counters as Prometheus text to a file
// (--metrics-file), once a second and once more at unmount, so node
// exporters' textfile collectors and `cat` can read them.
//
// Ownership: owned by the serving process for the life of the mount; borrows
// the ReadPath, which must outlive it. Thread safety: one background thread;
// the destructor stops and joins it.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "mount_context.h"

namespace strata::cli {

// The metrics text for one snapshot of a read path's counters.
std::string RenderMetrics(const ReadPath& read_path);

class MetricsWriter {
 public:
  MetricsWriter(std::string path, const ReadPath* read_path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

 private:
  void Loop();
  void WriteOnce();

  const std::string path_;
  const ReadPath* read_path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool warned_ = false;    // only the writer thread touches it
  std::thread thread_;
};

}  // namespace strata::cli
