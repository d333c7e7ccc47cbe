#include "cache/write_back.h"

#include <algorithm>

namespace strata::cache {

WriteBack::WriteBack(DiskTier* disk, uint64_t max_backlog_bytes,
                     std::chrono::milliseconds floor_interval, WrittenFn on_written, size_t writers)
    : disk_(disk),
      max_backlog_(max_backlog_bytes),
      floor_interval_(floor_interval),
      on_written_(std::move(on_written)) {
  for (size_t i = 0; i < std::max<size_t>(1, writers); ++i) {
    threads_.emplace_back([this, i] { Loop(i); });
  }
}

WriteBack::~WriteBack() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WriteBack::Enqueue(std::shared_ptr<PutToken> token, uint64_t object_size, uint64_t block,
                        std::vector<std::pair<uint32_t, PageData>> pages) {
  uint64_t bytes = 0;
  for (const auto& [p, data] : pages) bytes += data->size();
  uint64_t id = BlockId(token->version()->hash.version, block);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    auto it = jobs_.find(id);
    if (it != jobs_.end() && it->second.block == block &&
        it->second.token->version()->hash.version == token->version()->hash.version) {
      // Same block still queued: add the pages it lacks.
      Job& job = it->second;
      for (auto& page : pages) {
        bool have = false;
        for (const auto& q : job.pages) have = have || q.first == page.first;
        if (have) continue;
        if (backlog_ + page.second->size() > max_backlog_) {
          ++dropped_;
          return false;
        }
        backlog_ += page.second->size();
        job.bytes += page.second->size();
        job.pages.push_back(std::move(page));
      }
      return true;
    }
    if (it != jobs_.end() || backlog_ + bytes > max_backlog_) {
      ++dropped_;
      return false;
    }
    backlog_ += bytes;
    jobs_.emplace(id, Job{std::move(token), object_size, block, std::move(pages), bytes});
    order_.push_back(id);
  }
  cv_.notify_one();
  return true;
}

void WriteBack::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return order_.empty() && writing_.empty(); });
}

uint64_t WriteBack::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

uint64_t WriteBack::backlog_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return backlog_;
}

std::deque<uint64_t>::iterator WriteBack::NextReady() {
  return std::find_if(order_.begin(), order_.end(),
                      [this](uint64_t id) { return !writing_.count(id); });
}

void WriteBack::Loop(size_t index) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto next = NextReady();
    if (next == order_.end()) {
      if (order_.empty() && writing_.empty()) idle_cv_.notify_all();
      // Queued jobs are written even when stopping: an unmount keeps them.
      if (stopping_ && order_.empty()) return;
      auto ready = [this] { return (stopping_ && order_.empty()) || NextReady() != order_.end(); };
      if (index == 0 && order_.empty()) {
        if (!cv_.wait_for(lock, floor_interval_, ready)) {
          lock.unlock();
          disk_->EnforceFreeFloor();
          lock.lock();
        }
      } else {
        cv_.wait(lock, ready);
      }
      continue;
    }
    const uint64_t id = *next;
    order_.erase(next);
    auto node = jobs_.extract(id);
    writing_.insert(id);
    lock.unlock();
    Job& job = node.mapped();
    disk_->Write(*job.token, job.object_size, job.block, job.pages);
    // Our references go first: a release must be able to free the buffers.
    job.pages.clear();
    if (on_written_) on_written_(*job.token, job.block);
    lock.lock();
    backlog_ -= job.bytes;
    writing_.erase(id);
    // A job for the same block queued meanwhile is ready now.
    cv_.notify_all();
  }
}

}  // namespace strata::cache
