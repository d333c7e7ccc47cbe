// WriteBack: copies freshly fetched pages to the disk tier on background
// threads, so that caching never slows the read that fetched them. The disk
// tier writes with O_DIRECT, i.e. each write waits for the device: more than
// one writer keeps the device busy while another waits (and a writer the
// scheduler delays does not stall the queue). Two writers never write the
// same block at once.
//
// The backlog is bounded in bytes; when it is full new jobs are dropped (and
// counted) rather than making readers wait for the disk. Jobs for the same
// block merge while queued, so a block filled page by page is written once.
// When the queue is empty, writer 0 re-checks the disk's free-space floor every
// floor_interval, so the cache shrinks when other programs fill the disk.
//
// Ownership: owned by the BlockCache; holds a raw pointer to the DiskTier,
// which must outlive it. The destructor writes out what is queued, then stops.
// on_written may run on any writer, concurrently for different blocks.
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cache/disk_tier.h"
#include "cache/put_tokens.h"

namespace strata::cache {

class WriteBack {
 public:
  // Called on a writer thread after each queued block write (whether
  // or not the disk accepted it), with no lock held. Not called for jobs
  // Enqueue refused (backlog full, stopping).
  using WrittenFn = std::function<void(const PutToken& token, uint64_t block)>;

  // `writers` threads (at least one) write queued blocks.
  WriteBack(DiskTier* disk, uint64_t max_backlog_bytes, std::chrono::milliseconds floor_interval,
            WrittenFn on_written = nullptr, size_t writers = 2);
  ~WriteBack();
  WriteBack(const WriteBack&) = delete;
  WriteBack& operator=(const WriteBack&) = delete;

  // Queues `pages` of `block` of the token's version; false if dropped
  // because the backlog is full.
  bool Enqueue(std::shared_ptr<PutToken> token, uint64_t object_size, uint64_t block,
               std::vector<std::pair<uint32_t, PageData>> pages);

  // Blocks until every job queued before the call has been written.
  void WaitIdle();

  uint64_t dropped() const;
  uint64_t backlog_bytes() const;

 private:
  struct Job {
    std::shared_ptr<PutToken> token;
    uint64_t object_size = 0;
    uint64_t block = 0;
    std::vector<std::pair<uint32_t, PageData>> pages;
    uint64_t bytes = 0;
  };
  // Writer `index`; writer 0 also re-checks the free-space floor when idle.
  void Loop(size_t index);
  // The oldest queued block no writer is writing; order_.end() if none.
  std::deque<uint64_t>::iterator NextReady();

  DiskTier* const disk_;
  const uint64_t max_backlog_;
  const std::chrono::milliseconds floor_interval_;
  const WrittenFn on_written_;

  mutable std::mutex mu_;
  std::condition_variable cv_;              // work arrived, or stopping
  std::condition_variable idle_cv_;         // the queue drained
  std::deque<uint64_t> order_;              // block ids in arrival order; guarded by mu_
  std::unordered_map<uint64_t, Job> jobs_;  // guarded by mu_
  uint64_t backlog_ = 0;                    // guarded by mu_
  uint64_t dropped_ = 0;                    // guarded by mu_
  std::unordered_set<uint64_t> writing_;    // blocks being written; guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace strata::cache
