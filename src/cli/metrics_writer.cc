#include "metrics_writer.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "strata/access_pattern.h"
#include "strata/metrics.h"

namespace strata::cli {
namespace {

void AddTier(MetricsText* m, const char* tier, const TierStats& t) {
  MetricLabels l = {{"tier", tier}};
  m->Counter("strata_cache_hits_total", "Pages served from a cache tier.", t.hits, l);
  m->Counter("strata_cache_misses_total", "Pages looked up and not found in a tier.", t.misses, l);
  m->Counter("strata_cache_hit_bytes_total", "Bytes served from a cache tier.", t.hit_bytes, l);
  m->Counter("strata_cache_inserted_bytes_total", "Bytes inserted into a tier.", t.inserted_bytes,
             l);
  m->Counter("strata_cache_evictions_total", "Blocks evicted from a tier.", t.evictions, l);
  m->Counter("strata_cache_releases_total",
             "Blocks a stream had passed, dropped from memory (their disk copy stays).", t.releases,
             l);
  m->Counter("strata_cache_checksum_failures_total", "Cached pages that failed their checksum.",
             t.checksum_failures, l);
  m->Counter("strata_cache_write_errors_total", "Failed writes to a tier.", t.write_errors, l);
  m->Gauge("strata_cache_used_bytes", "Bytes held by a tier.", t.used_bytes, l);
  m->Gauge("strata_cache_limit_bytes", "Size limit of a tier.", t.limit_bytes, l);
}

}  // namespace

std::string RenderMetrics(const ReadPath& read_path) {
  MetricsText m;
  if (read_path.cache) {
    BlockCacheStats c = read_path.cache->Stats();
    AddTier(&m, "memory", c.memory);
    AddTier(&m, "disk", c.disk);
    m.Counter("strata_store_fetches_total", "Ranged GETs issued by the block cache.", c.fetches);
    m.Counter("strata_store_fetched_bytes_total", "Bytes fetched from the store.", c.fetched_bytes);
    m.Gauge("strata_cache_fills_in_flight", "Fetches running now.", c.fills_in_flight);
    m.Counter("strata_cache_single_flight_waits_total", "Misses that joined another's fetch.",
              c.single_flight_waits);
    m.Counter("strata_cache_disk_writes_dropped_total",
              "Disk copies skipped because the write-back backlog was full.",
              c.disk_writes_dropped);
  }
  if (read_path.dir_prefetch) {
    DirPrefetchStats d = read_path.dir_prefetch->Stats();
    m.Counter("strata_dir_prefetch_dirs_warmed_total",
              "Directories whose small files are fetched ahead.", d.dirs_warmed);
    m.Counter("strata_dir_prefetch_files_fetched_total", "Small files fetched ahead.",
              d.files_fetched);
    m.Counter("strata_dir_prefetch_bytes_fetched_total", "Bytes of small files fetched ahead.",
              d.bytes_fetched);
    m.Counter("strata_dir_prefetch_files_used_total", "Files fetched ahead, then opened.",
              d.files_used);
    m.Counter("strata_dir_prefetch_files_wasted_total",
              "Files fetched ahead and not opened in time.", d.files_wasted);
    m.Counter("strata_dir_prefetch_fill_errors_total", "Failed fetches ahead.", d.fill_errors);
    m.Gauge("strata_dir_prefetch_ahead_bytes", "Bytes fetched ahead and not opened yet.",
            d.ahead_bytes);
  }
  if (read_path.prefetch) {
    PrefetchStats p = read_path.prefetch->Stats();
    for (AccessPattern a :
         {AccessPattern::kSequential, AccessPattern::kStrided, AccessPattern::kRandom}) {
      MetricLabels l = {{"pattern", AccessPatternName(a)}};
      size_t i = static_cast<size_t>(a);
      m.Counter("strata_reads_total", "Reads by detected access pattern.", p.reads[i], l);
      m.Counter("strata_read_bytes_total", "Bytes returned by detected access pattern.", p.bytes[i],
                l);
    }
    m.Gauge("strata_read_amplification", "Bytes fetched over bytes returned.", p.amplification());
    m.Counter("strata_readahead_parts_total", "Readahead parts issued.", p.readahead_parts);
    m.Counter("strata_readahead_bytes_total", "Readahead bytes issued.", p.readahead_bytes);
    m.Counter("strata_readahead_hits_total", "Reads served by landed readahead.", p.readahead_hits);
    m.Counter("strata_readahead_waits_total", "Reads that waited for a part in flight.",
              p.readahead_waits);
    m.Counter("strata_readahead_wasted_bytes_total", "Readahead dropped unread.", p.wasted_bytes);
    m.Gauge("strata_readahead_window_peak_bytes", "Largest readahead window reached.",
            p.window_peak_bytes);
    m.Gauge("strata_readahead_streams", "Sequential streams sharing the readahead window now.",
            p.active_streams);
    m.Gauge("strata_prefetch_budget_used_bytes", "Readahead memory in use.", p.budget_in_use);
    m.Gauge("strata_prefetch_budget_limit_bytes", "Readahead memory budget.", p.budget_limit);
    m.Counter("strata_prefetch_budget_denials_total", "Parts refused by the memory budget.",
              p.budget_denials);
  }
  return m.Render();
}

MetricsWriter::MetricsWriter(std::string path, const ReadPath* read_path)
    : path_(std::move(path)), read_path_(read_path), thread_([this] { Loop(); }) {}

MetricsWriter::~MetricsWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  WriteOnce();
}

void MetricsWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    WriteOnce();
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

void MetricsWriter::WriteOnce() {
  Status s = WriteFileAtomically(path_, RenderMetrics(*read_path_));
  if (!s.ok() && !warned_) {
    warned_ = true;
    spdlog::warn("metrics file not written: {}", s.message());
  }
}

}  // namespace strata::cli
