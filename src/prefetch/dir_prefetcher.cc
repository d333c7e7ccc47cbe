// DirPrefetcher: see include/strata/dir_prefetcher.h.
#include "strata/dir_prefetcher.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "strata/thread_pool.h"

namespace strata {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::string FileId(const ObjectVersion& v) { return v.key + '\0' + v.etag; }

// Files waiting to be fetched ahead, all directories together: a bound on the
// queue's memory when many large directories warm at once.
constexpr size_t kMaxQueued = 65536;

}  // namespace

struct DirPrefetcher::Impl {
  struct Dir {
    std::vector<std::string> opened;  // distinct keys, up to trigger_files
    bool warmed = false;
  };
  struct Ahead {
    uint64_t bytes = 0;
    SteadyTime at;
  };

  std::shared_ptr<BlockCache> cache;
  DirPrefetchOptions options;
  std::shared_ptr<Clock> clock;

  std::mutex mu;
  std::condition_variable idle_cv;
  std::unordered_map<uint64_t, Dir> dirs;                      // guarded by mu
  std::deque<uint64_t> dir_order;                              // guarded by mu; oldest first
  std::deque<ObjectVersion> queue;                             // guarded by mu
  std::unordered_map<std::string, Ahead> ahead;                // by FileId; guarded by mu
  std::deque<std::pair<std::string, SteadyTime>> ahead_order;  // guarded by mu
  uint64_t ahead_bytes = 0;                                    // guarded by mu
  uint32_t in_flight = 0;                                      // guarded by mu
  bool stopping = false;                                       // guarded by mu
  DirPrefetchStats stats;                                      // guarded by mu
  // Declared last: destroyed (queued fills dropped, running ones joined)
  // before anything its tasks use.
  std::unique_ptr<ThreadPool> pool;

  // Requires mu.
  void ForgetAhead(std::unordered_map<std::string, Ahead>::iterator it) {
    ahead_bytes -= it->second.bytes;
    ahead.erase(it);
  }

  // Requires mu.
  void ExpireLocked(SteadyTime now) {
    while (!ahead_order.empty() && now - ahead_order.front().second >= options.ahead_expiry) {
      auto it = ahead.find(ahead_order.front().first);
      if (it != ahead.end() && it->second.at == ahead_order.front().second) {
        ForgetAhead(it);
        stats.files_wasted++;
      }
      ahead_order.pop_front();
    }
  }

  // Requires mu. Starts fills while the budget and the thread count allow.
  void PumpLocked() {
    const SteadyTime now = clock->Steady();
    ExpireLocked(now);
    while (!stopping && in_flight < options.threads && ahead_bytes < options.budget_bytes &&
           !queue.empty()) {
      ObjectVersion v = std::move(queue.front());
      queue.pop_front();
      std::string id = FileId(v);
      if (ahead.count(id) != 0) continue;
      ahead.emplace(id, Ahead{v.size, now});
      ahead_order.emplace_back(std::move(id), now);
      ahead_bytes += v.size;
      ++in_flight;
      pool->Submit([this, v = std::move(v)] { Run(v); });
    }
    if (in_flight == 0) idle_cv.notify_all();
  }

  void Run(const ObjectVersion& v) {
    // A file already cached (read before, or on disk from an earlier mount)
    // costs nothing and does not count against the budget.
    const bool cached = cache->ResidentPrefix(v, 0, v.size) >= v.size;
    Status st = cached ? Status::Ok() : cache->Fill(v, 0, v.size);
    std::lock_guard<std::mutex> lock(mu);
    --in_flight;
    auto it = ahead.find(FileId(v));
    if (cached || !st.ok()) {
      if (it != ahead.end()) ForgetAhead(it);
      if (!st.ok()) stats.fill_errors++;
    } else {
      stats.files_fetched++;
      stats.bytes_fetched += v.size;
    }
    PumpLocked();
  }
};

DirPrefetcher::DirPrefetcher(std::shared_ptr<BlockCache> cache, DirPrefetchOptions options,
                             std::shared_ptr<Clock> clock)
    : impl_(std::make_shared<Impl>()) {
  impl_->cache = std::move(cache);
  impl_->options = options;
  impl_->options.threads = std::max<uint32_t>(1, impl_->options.threads);
  impl_->options.trigger_files = std::max<uint32_t>(1, impl_->options.trigger_files);
  impl_->options.max_dirs = std::max<uint32_t>(1, impl_->options.max_dirs);
  impl_->clock = clock ? std::move(clock) : SystemClock();
  impl_->pool = std::make_unique<ThreadPool>(impl_->options.threads);
}

DirPrefetcher::~DirPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    impl_->queue.clear();
  }
  impl_->pool.reset();  // joins the fills running now
}

void DirPrefetcher::NoteOpen(const ObjectVersion& file, uint64_t dir, const DirLister& list_dir) {
  Impl& m = *impl_;
  if (m.options.budget_bytes == 0) return;
  const std::string id = FileId(file);
  std::vector<std::string> opened;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    auto a = m.ahead.find(id);
    if (a != m.ahead.end()) {
      m.ForgetAhead(a);
      m.stats.files_used++;
    }
    if (file.size > m.options.small_file_threshold) {
      m.PumpLocked();
      return;
    }
    auto [it, fresh] = m.dirs.try_emplace(dir);
    if (fresh) {
      m.dir_order.push_back(dir);
      if (m.dir_order.size() > m.options.max_dirs) {
        m.dirs.erase(m.dir_order.front());
        m.dir_order.pop_front();
      }
    }
    Impl::Dir& d = it->second;
    if (d.warmed) {
      m.PumpLocked();
      return;
    }
    if (std::find(d.opened.begin(), d.opened.end(), file.key) == d.opened.end()) {
      d.opened.push_back(file.key);
    }
    if (d.opened.size() < m.options.trigger_files) return;
    d.warmed = true;
    m.stats.dirs_warmed++;
    opened = d.opened;
  }
  std::vector<ObjectVersion> files = list_dir();
  std::lock_guard<std::mutex> lock(m.mu);
  for (ObjectVersion& f : files) {
    if (f.size == 0 || f.size > m.options.small_file_threshold) continue;
    if (std::find(opened.begin(), opened.end(), f.key) != opened.end()) continue;
    if (m.queue.size() >= kMaxQueued) break;  // the rest cost their own GET when opened
    m.queue.push_back(std::move(f));
    m.stats.files_queued++;
  }
  m.PumpLocked();
}

void DirPrefetcher::WaitIdle() {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  m.idle_cv.wait(lock, [&] {
    return m.in_flight == 0 && (m.queue.empty() || m.ahead_bytes >= m.options.budget_bytes);
  });
}

DirPrefetchStats DirPrefetcher::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  DirPrefetchStats s = impl_->stats;
  s.ahead_bytes = impl_->ahead_bytes;
  return s;
}

}  // namespace strata
