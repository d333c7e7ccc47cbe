// CachedFileReader and its factory: see include/strata/prefetcher.h for the
// policy; readahead.h for parts and the budget.
#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <mutex>
#include <vector>

#include "readahead.h"
#include "strata/prefetcher.h"

namespace strata::prefetch {
namespace {

using PartPtr = std::shared_ptr<ReadaheadPart>;

// A window is cut into at least this many parts while it is small.
constexpr uint64_t kPartsPerWindow = 8;

// What the factory shares with its readers. Readers hold it, so they may
// outlive the factory; the pool is here and not in PrefetchEnv so that only
// readers and the factory (never a pool worker) can drop the last reference.
struct FactoryState {
  std::shared_ptr<PrefetchEnv> env;
  std::shared_ptr<ThreadPool> pool;
  PrefetchOptions options;
  InodeHistory history;

  FactoryState(std::shared_ptr<PrefetchEnv> e, std::shared_ptr<ThreadPool> p,
               const PrefetchOptions& o)
      : env(std::move(e)), pool(std::move(p)), options(o), history(o.inode_history) {}
};

// The readahead of one detector stream.
struct StreamWindow {
  uint64_t window = 0;        // bytes to keep requested ahead of the stream's high-water mark
  uint64_t high_water = 0;    // end of the stream's furthest read
  uint64_t issued_end = 0;    // end of the furthest byte requested (parts or initial fill)
  std::deque<PartPtr> parts;  // ascending; dropped once the reader is past them
  bool counted = false;       // in PrefetchEnv::active_streams (see Count)
};

// Work decided under the reader's lock, done outside it.
struct Plan {
  std::vector<PartPtr> submit;  // new parts for the pool
  std::vector<PartPtr> wait;    // parts covering this read
  uint64_t fill_start = 0;      // a synchronous fill before the read (small file,
  uint64_t fill_length = 0;     // footer, initial request)
  std::vector<std::pair<uint64_t, uint64_t>> consumed;  // parts the stream has passed
};

class CachedFileReader : public FileReader {
 public:
  CachedFileReader(std::shared_ptr<FactoryState> state, uint64_t inode, ObjectVersion version,
                   AccessPattern initial)
      : state_(std::move(state)),
        env_(*state_->env),
        opts_(state_->options),
        inode_(inode),
        version_(std::move(version)),
        detector_(opts_.detector, version_.size, initial),
        recorded_(initial) {}

  ~CachedFileReader() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& w : windows_) ResetWindow(w);
    DropStrided();
    state_->history.Put(inode_, detector_.mode());
  }

  Result<size_t> Read(uint64_t offset, std::span<char> dst) override;
  Result<ReadBuffers> ReadPinned(uint64_t offset, size_t size) override;

 private:
  // Read and ReadPinned differ only in how the bytes leave the cache.
  // PrepareRead runs the detector and readahead and waits for what covers
  // the read (an error: the object changed); FinishRead counts the bytes
  // returned and releases what the stream has passed.
  Status PrepareRead(uint64_t offset, uint64_t n, Plan& plan);
  void FinishRead(const Plan& plan, size_t returned);
  void PlanRead(uint64_t offset, uint64_t n, Plan& plan);
  void IssueSequential(StreamWindow& w, uint64_t offset, const AccessDecision& d, Plan& plan);
  void IssueStrided(const AccessDecision& d, uint64_t offset, uint64_t n, Plan& plan);
  PartPtr NewPart(uint64_t start, uint64_t end);
  // The largest window a stream may have while `streams` share max_window.
  uint64_t WindowCap(uint64_t streams) const;
  // Streams sharing max_window, `w` included.
  uint64_t Streams(const StreamWindow& w) const;
  // Keeps PrefetchEnv::active_streams in step with whether `w` is a live
  // stream: it holds parts and has not read up to the end of the object (a
  // handle left open after reading a whole file, as a model loader that
  // keeps its shards mapped does, would otherwise hold a share until it is
  // closed).
  void Count(StreamWindow& w);
  void Drop(const PartPtr& part, uint64_t read_up_to);
  void ResetWindow(StreamWindow& w);
  void DropStrided();

  const std::shared_ptr<FactoryState> state_;
  PrefetchEnv& env_;  // owned through state_
  const PrefetchOptions& opts_;
  const uint64_t inode_;
  const ObjectVersion version_;

  // Guards everything below; never held while fetching or waiting. Lock order:
  // mu_, then a part's or the inode history's own mutex.
  std::mutex mu_;
  AccessPatternDetector detector_;
  std::array<StreamWindow, AccessPatternDetector::kMaxStreams> windows_;
  std::deque<PartPtr> strided_parts_;
  AccessPattern recorded_;  // the pattern last written to the inode history
};

PartPtr CachedFileReader::NewPart(uint64_t start, uint64_t end) {
  if (!env_.budget.TryAcquire(end - start)) {
    env_.stats.budget_denials.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  env_.stats.readahead_parts.fetch_add(1, std::memory_order_relaxed);
  env_.stats.readahead_bytes.fetch_add(end - start, std::memory_order_relaxed);
  return std::make_shared<ReadaheadPart>(state_->env, version_, start, end);
}

uint64_t CachedFileReader::Streams(const StreamWindow& w) const {
  return std::max<uint64_t>(
      1, env_.active_streams.load(std::memory_order_relaxed) + (w.counted ? 0 : 1));
}

uint64_t CachedFileReader::WindowCap(uint64_t streams) const {
  const uint64_t floor = std::min(opts_.max_window, opts_.initial_window);
  return std::max(floor, opts_.max_window / streams);
}

void CachedFileReader::Count(StreamWindow& w) {
  const bool holds = !w.parts.empty() && w.high_water < version_.size;
  if (holds == w.counted) return;
  w.counted = holds;
  if (holds) {
    env_.active_streams.fetch_add(1, std::memory_order_relaxed);
  } else {
    env_.active_streams.fetch_sub(1, std::memory_order_relaxed);
  }
}

void CachedFileReader::Drop(const PartPtr& part, uint64_t read_up_to) {
  if (part->Cancel()) {
    env_.stats.cancelled_bytes.fetch_add(part->end - part->start, std::memory_order_relaxed);
    return;
  }
  // Fetched or being fetched, and the reader never got to (all of) it.
  if (read_up_to < part->end && part->state() != ReadaheadPart::State::kFailed) {
    env_.stats.wasted_bytes.fetch_add(part->end - std::max(part->start, read_up_to),
                                      std::memory_order_relaxed);
  }
}

void CachedFileReader::ResetWindow(StreamWindow& w) {
  for (const auto& p : w.parts) Drop(p, w.high_water);
  w.parts.clear();
  Count(w);
  w.window = 0;
  w.issued_end = 0;
  w.high_water = 0;
}

void CachedFileReader::DropStrided() {
  for (const auto& p : strided_parts_) Drop(p, 0);
  strided_parts_.clear();
}

void CachedFileReader::IssueSequential(StreamWindow& w, uint64_t offset, const AccessDecision& d,
                                       Plan& plan) {
  const uint64_t size = version_.size;
  const uint64_t block = std::max<uint64_t>(1, env_.cache->options().block_size);
  // A read that jumped past what was issued (within the tolerance) is served
  // on demand; readahead continues from it.
  w.issued_end = std::max(w.issued_end, offset);
  // Another stream started: this one gives up its share (parts already
  // issued stay). Not a window_shrinks: those count budget refusals.
  const uint64_t streams = Streams(w);  // read once: the cap and the parts agree
  w.window = std::min(w.window, WindowCap(streams));
  const uint64_t target = std::min(size, d.stream_high_water + w.window);
  // Parallelism matters more than part size: a young window is cut into
  // kPartsPerWindow smaller parts so that several fetches run from the start.
  // Streams sharing max_window share those parts too: each cuts its window
  // into kPartsPerWindow / streams parts (at least one) of the size one
  // stream's window of all their bytes would have, so that the mount keeps
  // about kPartsPerWindow parts in flight and each GET stays as large. The
  // share is never more than the window.
  const uint64_t share = std::min(w.window, w.window * streams / kPartsPerWindow);
  const uint64_t len = std::min(opts_.part_size, std::max(block, share));
  while (w.issued_end < target) {
    const uint64_t start = w.issued_end;
    uint64_t end = std::min(size, start + len);
    // Whole cache blocks per part, and no sliver left as a request of its own at EOF.
    if (end < size && end / block * block > start) end = end / block * block;
    if (size - end < len / 4) end = size;
    PartPtr part = NewPart(start, end);
    if (!part) {
      // Memory pressure: shrink instead of growing memory; retried on later reads.
      if (w.window > opts_.initial_request) {
        w.window = std::max(opts_.initial_request, w.window / 2);
        env_.stats.window_shrinks.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    }
    w.parts.push_back(part);
    plan.submit.push_back(std::move(part));
    w.issued_end = end;
  }
  detector_.ExtendReach(d.stream, w.issued_end);
}

void CachedFileReader::IssueStrided(const AccessDecision& d, uint64_t offset, uint64_t n,
                                    Plan& plan) {
  // Forget lookahead the reader has passed (it was read: not waste).
  while (!strided_parts_.empty()) {
    const PartPtr& p = strided_parts_.front();
    bool passed = d.stride > 0 ? p->end <= offset : p->start >= offset + n;
    if (!passed) break;
    strided_parts_.pop_front();
  }
  for (uint32_t k = 1; k <= opts_.strided_lookahead; ++k) {
    const int64_t next = static_cast<int64_t>(offset) + static_cast<int64_t>(k) * d.stride;
    if (next < 0 || static_cast<uint64_t>(next) >= version_.size) break;
    const uint64_t start = static_cast<uint64_t>(next);
    bool issued = std::any_of(strided_parts_.begin(), strided_parts_.end(),
                              [&](const PartPtr& p) { return p->start == start; });
    if (issued) continue;
    PartPtr part = NewPart(start, std::min(version_.size, start + n));
    if (!part) break;
    strided_parts_.push_back(part);
    plan.submit.push_back(std::move(part));
  }
}

void CachedFileReader::PlanRead(uint64_t offset, uint64_t n, Plan& plan) {
  const uint64_t size = version_.size;
  const AccessDecision d = detector_.Observe(offset, n);
  const auto pattern_index = static_cast<size_t>(d.pattern);
  env_.stats.reads[pattern_index].fetch_add(1, std::memory_order_relaxed);
  env_.stats.bytes[pattern_index].fetch_add(n, std::memory_order_relaxed);
  if (d.pattern != recorded_) {
    // Recorded as soon as it changes: Parquet readers reopen a file while an
    // earlier handle is still open.
    state_->history.Put(inode_, d.pattern);
    recorded_ = d.pattern;
  }

  if (d.first_read && size <= opts_.small_file_threshold) {
    plan.fill_start = 0;
    plan.fill_length = size;
    env_.stats.small_file_fills.fetch_add(1, std::memory_order_relaxed);
  } else if (d.footer) {
    plan.fill_length = std::min(size, opts_.footer_bytes);
    plan.fill_start = size - plan.fill_length;
    env_.stats.footer_fills.fetch_add(1, std::memory_order_relaxed);
  }

  StreamWindow& w = windows_[d.stream];
  if (d.new_stream) {
    ResetWindow(w);
    w.window = opts_.initial_request;
    w.issued_end = offset + n;
    if (d.first_read && offset < opts_.initial_request && d.pattern == AccessPattern::kSequential &&
        plan.fill_length == 0) {
      // A short read costs one small request; a whole-file read (cat, dd, a
      // model load: the common case from the start, whose first requests the
      // kernel may have reordered) starts with a full window.
      plan.fill_length = std::min(size, std::max(offset + n, opts_.initial_request));
      w.issued_end = plan.fill_length;
      w.window = std::min(opts_.max_window, opts_.initial_window);
      env_.stats.initial_fills.fetch_add(1, std::memory_order_relaxed);
      detector_.ExtendReach(d.stream, w.issued_end);
    }
  } else {
    // Parts the reader has passed return their memory; a part not yet ended
    // stays so that a late, reordered read waits for it instead of refetching.
    while (!w.parts.empty() && w.parts.front()->end <= offset && w.parts.front()->ended()) {
      const PartPtr& passed = w.parts.front();
      if (passed->state() != ReadaheadPart::State::kFailed) {
        plan.consumed.emplace_back(passed->start, passed->end);
      }
      w.parts.pop_front();
    }
  }
  if (plan.fill_length > 0 && plan.fill_start <= offset) {
    // A whole small file or a footer region already covers what readahead would fetch.
    w.issued_end = std::max(w.issued_end, plan.fill_start + plan.fill_length);
  }

  w.high_water = d.stream_high_water;
  const uint64_t end = offset + n;
  const bool readahead = d.pattern == AccessPattern::kSequential && d.continues_stream;
  if (readahead) IssueSequential(w, offset, d, plan);
  bool grew = false;
  for (const auto& p : w.parts) {
    if (p->start >= end) break;
    if (p->end <= offset) continue;
    if (!p->landed() && !p->grew_window) {
      // The reader caught up with the network: more parts in flight help.
      p->grew_window = true;
      const uint64_t cap = WindowCap(Streams(w));
      if (w.window < cap) {
        w.window = std::min(cap, w.window * 2);
        env_.stats.window_grows.fetch_add(1, std::memory_order_relaxed);
        grew = true;
      }
    }
    plan.wait.push_back(p);
  }
  if (readahead) {
    if (grew) IssueSequential(w, offset, d, plan);
    env_.stats.NoteWindow(w.window);
  }
  Count(w);  // once per read, after parts were passed and issued

  if (d.pattern == AccessPattern::kStrided) {
    for (const auto& p : strided_parts_) {
      if (p->start < end && p->end > offset) plan.wait.push_back(p);
    }
    IssueStrided(d, offset, n, plan);
  } else if (!strided_parts_.empty()) {
    DropStrided();
  }
}

Status CachedFileReader::PrepareRead(uint64_t offset, uint64_t n, Plan& plan) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    PlanRead(offset, n, plan);
  }
  for (auto& part : plan.submit) {
    state_->pool->Submit([part] { part->Run(); });
  }
  BlockCache& cache = *env_.cache;
  if (plan.fill_length > 0) {
    // Any error but a changed object is left to the cache read that follows,
    // which fetches what is still missing and reports what it cannot.
    Status filled = cache.Fill(version_, plan.fill_start, plan.fill_length);
    if (filled.code() == Code::kStale) return filled;
  }
  if (!plan.wait.empty()) {
    const auto t0 = env_.clock->Steady();
    bool waited = false;
    for (const auto& part : plan.wait) waited |= part->WaitOrRun();
    if (waited) {
      env_.stats.readahead_waits.fetch_add(1, std::memory_order_relaxed);
      const auto us =
          std::chrono::duration_cast<std::chrono::microseconds>(env_.clock->Steady() - t0);
      env_.stats.readahead_wait_us.fetch_add(us.count(), std::memory_order_relaxed);
    } else {
      env_.stats.readahead_hits.fetch_add(1, std::memory_order_relaxed);
      if (cache.ResidentPrefix(version_, offset, n) < n) {
        env_.stats.readahead_evicted.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  return Status::Ok();
}

void CachedFileReader::FinishRead(const Plan& plan, size_t returned) {
  env_.stats.returned_bytes.fetch_add(returned, std::memory_order_relaxed);
  // The stream is past these: the kernel's page cache and the disk tier hold
  // them, so the memory tier can give their memory to the next parts.
  for (const auto& [start, end] : plan.consumed) env_.cache->Consumed(version_, start, end - start);
}

Result<size_t> CachedFileReader::Read(uint64_t offset, std::span<char> dst) {
  if (offset >= version_.size || dst.empty()) return size_t{0};
  const uint64_t n = std::min<uint64_t>(dst.size(), version_.size - offset);
  Plan plan;
  STRATA_RETURN_IF_ERROR(PrepareRead(offset, n, plan));
  Result<size_t> got = env_.cache->Read(version_, offset, dst.first(n));
  FinishRead(plan, got.ok() ? *got : 0);
  return got;
}

Result<ReadBuffers> CachedFileReader::ReadPinned(uint64_t offset, size_t size) {
  if (offset >= version_.size || size == 0) return ReadBuffers{};
  const uint64_t n = std::min<uint64_t>(size, version_.size - offset);
  Plan plan;
  STRATA_RETURN_IF_ERROR(PrepareRead(offset, n, plan));
  Result<ReadBuffers> got = env_.cache->ReadPinned(version_, offset, n);
  FinishRead(plan, got.ok() ? got->size() : 0);
  return got;
}

class CachedReaderFactoryImpl : public CachedReaderFactory {
 public:
  explicit CachedReaderFactoryImpl(std::shared_ptr<FactoryState> state)
      : state_(std::move(state)) {}

  std::unique_ptr<FileReader> Open(uint64_t inode, const ObjectVersion& version) override {
    AccessPattern initial = state_->history.Get(inode);
    // A stride is re-learnt per handle; what carries over is "not sequential".
    if (initial == AccessPattern::kStrided) initial = AccessPattern::kRandom;
    return std::make_unique<CachedFileReader>(state_, inode, version, initial);
  }

  PrefetchStats Stats() const override { return state_->env->Snapshot(); }

 private:
  std::shared_ptr<FactoryState> state_;
};

}  // namespace
}  // namespace strata::prefetch

namespace strata {

std::unique_ptr<CachedReaderFactory> MakeCachedReaderFactory(std::shared_ptr<BlockCache> cache,
                                                             std::shared_ptr<ThreadPool> pool,
                                                             const PrefetchOptions& options,
                                                             std::shared_ptr<Clock> clock) {
  if (!pool) pool = std::make_shared<ThreadPool>(options.fetch_threads);
  if (!clock) clock = SystemClock();
  auto env = std::make_shared<prefetch::PrefetchEnv>(std::move(cache), std::move(clock),
                                                     options.prefetch_memory);
  auto state = std::make_shared<prefetch::FactoryState>(std::move(env), std::move(pool), options);
  return std::make_unique<prefetch::CachedReaderFactoryImpl>(std::move(state));
}

}  // namespace strata
