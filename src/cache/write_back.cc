#include "cache/write_back.h"

namespace strata::cache {

WriteBack::WriteBack(DiskTier* disk, uint64_t max_backlog_bytes,
                     std::chrono::milliseconds floor_interval, WrittenFn on_written)
    : disk_(disk),
      max_backlog_(max_backlog_bytes),
      floor_interval_(floor_interval),
      on_written_(std::move(on_written)) {
  thread_ = std::thread([this] { Loop(); });
}

WriteBack::~WriteBack() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
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
  idle_cv_.wait(lock, [this] { return order_.empty() && !busy_; });
}

uint64_t WriteBack::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

uint64_t WriteBack::backlog_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return backlog_;
}

void WriteBack::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (order_.empty()) {
      busy_ = false;
      idle_cv_.notify_all();
      if (stopping_) return;
      if (!cv_.wait_for(lock, floor_interval_, [this] { return stopping_ || !order_.empty(); })) {
        lock.unlock();
        disk_->EnforceFreeFloor();
        lock.lock();
      }
      continue;
    }
    // Queued jobs are written even when stopping: an unmount keeps them.
    uint64_t id = order_.front();
    order_.pop_front();
    auto node = jobs_.extract(id);
    busy_ = true;
    lock.unlock();
    Job& job = node.mapped();
    disk_->Write(*job.token, job.object_size, job.block, job.pages);
    // Our references go first: a release must be able to free the buffers.
    job.pages.clear();
    if (on_written_) on_written_(*job.token, job.block);
    lock.lock();
    backlog_ -= job.bytes;
  }
}

}  // namespace strata::cache
