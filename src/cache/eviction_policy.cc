#include "strata/eviction_policy.h"

#include <algorithm>
#include <list>
#include <string>
#include <unordered_map>

namespace strata {
namespace {

// Plain LRU: the front of the list is the least recently used entry.
class LruPolicy final : public EvictionPolicy {
 public:
  void OnInsert(uint64_t id, uint64_t bytes) override {
    if (index_.count(id)) return;
    order_.push_back(id);
    index_.emplace(id, std::prev(order_.end()));
  }
  void OnResize(uint64_t, uint64_t) override {}
  void OnAccess(uint64_t id) override {
    auto it = index_.find(id);
    if (it != index_.end()) order_.splice(order_.end(), order_, it->second);
  }
  std::optional<uint64_t> PickVictim() override {
    if (order_.empty()) return std::nullopt;
    uint64_t id = order_.front();
    order_.pop_front();
    index_.erase(id);
    return id;
  }
  void OnRemove(uint64_t id) override {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  uint64_t entries() const override { return index_.size(); }
  const char* name() const override { return "lru"; }

 private:
  std::list<uint64_t> order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

// S3-FIFO with warm fill of the main queue; see eviction_policy.h.
class S3FifoPolicy final : public EvictionPolicy {
 public:
  explicit S3FifoPolicy(uint64_t capacity_bytes)
      : small_target_(std::max<uint64_t>(1, capacity_bytes / 10)),
        main_target_(capacity_bytes - std::min(capacity_bytes, small_target_)) {}

  void OnInsert(uint64_t id, uint64_t bytes) override {
    if (nodes_.count(id)) return;
    // An id that returns while its ghost is remembered was evicted too early:
    // it goes straight to main.
    bool was_ghost = false;
    if (auto g = ghost_index_.find(id); g != ghost_index_.end()) {
      ghost_.erase(g->second);
      ghost_index_.erase(g);
      was_ghost = true;
    }
    Queue q = was_ghost ? Queue::kMain : Queue::kSmall;
    std::list<uint64_t>& list = q == Queue::kMain ? main_ : small_;
    list.push_back(id);
    nodes_.emplace(id, Node{std::prev(list.end()), q, 0, bytes});
    Bytes(q) += bytes;
  }

  void OnResize(uint64_t id, uint64_t bytes) override {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    Bytes(it->second.queue) += bytes - it->second.bytes;  // unsigned wrap is intended
    it->second.bytes = bytes;
  }

  void OnAccess(uint64_t id) override {
    auto it = nodes_.find(id);
    if (it != nodes_.end() && it->second.freq < 3) ++it->second.freq;
  }

  std::optional<uint64_t> PickVictim() override {
    // Each pass either moves an entry from small to main, spends one unit of
    // an entry's frequency, or returns a victim, so the loop terminates.
    for (;;) {
      if (small_.empty() && main_.empty()) return std::nullopt;
      bool from_small = !small_.empty() && (small_bytes_ >= small_target_ || main_.empty());
      if (from_small) {
        uint64_t id = small_.front();
        Node& n = nodes_.at(id);
        if (n.freq > 0 || main_bytes_ + n.bytes <= main_target_) {
          // Re-read while on probation, or main still has room: keep it.
          Move(id, n, Queue::kMain);
          n.freq = 0;
          continue;
        }
        Forget(id, n);
        RememberGhost(id);
        return id;
      }
      uint64_t id = main_.front();
      Node& n = nodes_.at(id);
      if (n.freq > 0) {
        --n.freq;
        main_.splice(main_.end(), main_, n.pos);
        continue;
      }
      Forget(id, n);
      return id;
    }
  }

  void OnRemove(uint64_t id) override {
    auto it = nodes_.find(id);
    if (it != nodes_.end()) Forget(id, it->second);
  }

  uint64_t entries() const override { return nodes_.size(); }
  const char* name() const override { return "s3fifo"; }

 private:
  enum class Queue : uint8_t { kSmall, kMain };
  struct Node {
    std::list<uint64_t>::iterator pos;
    Queue queue;
    uint8_t freq;
    uint64_t bytes;
  };

  uint64_t& Bytes(Queue q) { return q == Queue::kMain ? main_bytes_ : small_bytes_; }
  std::list<uint64_t>& List(Queue q) { return q == Queue::kMain ? main_ : small_; }

  void Move(uint64_t id, Node& n, Queue to) {
    Bytes(n.queue) -= n.bytes;
    List(to).splice(List(to).end(), List(n.queue), n.pos);
    n.queue = to;
    Bytes(to) += n.bytes;
  }

  void Forget(uint64_t id, Node& n) {
    Bytes(n.queue) -= n.bytes;
    List(n.queue).erase(n.pos);
    nodes_.erase(id);
  }

  // The ghost remembers about half as many ids as are resident: enough to
  // recognise a return soon after eviction, small enough to forget one-off
  // scans (a longer ghost makes cyclic scans churn main, measured).
  void RememberGhost(uint64_t id) {
    ghost_.push_back(id);
    ghost_index_[id] = std::prev(ghost_.end());
    size_t limit = std::max<size_t>(1, nodes_.size() / 2);
    while (ghost_.size() > limit) {
      ghost_index_.erase(ghost_.front());
      ghost_.pop_front();
    }
  }

  const uint64_t small_target_;
  const uint64_t main_target_;
  uint64_t small_bytes_ = 0;
  uint64_t main_bytes_ = 0;
  std::list<uint64_t> small_;
  std::list<uint64_t> main_;
  std::list<uint64_t> ghost_;
  std::unordered_map<uint64_t, Node> nodes_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> ghost_index_;
};

}  // namespace

Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                           uint64_t capacity_bytes) {
  if (name == "s3fifo" || name == "s3-fifo")
    return std::unique_ptr<EvictionPolicy>(std::make_unique<S3FifoPolicy>(capacity_bytes));
  if (name == "lru") return std::unique_ptr<EvictionPolicy>(std::make_unique<LruPolicy>());
  return Status::InvalidArgument("unknown cache eviction policy '" + std::string(name) +
                                 "' (expected s3fifo or lru)");
}

}  // namespace strata
