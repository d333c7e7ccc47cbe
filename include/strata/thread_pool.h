// ThreadPool: a fixed set of worker threads running queued tasks.
//
// Used for parallel ranged GETs (readahead parts, whole small objects) and
// background cache writes. Owned by whoever creates it (the mount context);
// the destructor drains nothing: queued tasks that have not started are
// dropped, running ones are joined.
//
// Thread safety: Submit() may be called from any thread, including workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  size_t size() const { return workers_.size(); }
  // Tasks queued and not yet started.
  size_t queued() const;

 private:
  void WorkerLoop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace strata
