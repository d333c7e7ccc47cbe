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

// S3-FIFO with warm fill of the main queue and protected readahead; see
// eviction_policy.h.
class S3FifoPolicy final : public EvictionPolicy {
 public:
  S3FifoPolicy(uint64_t capacity_bytes, uint64_t predicted_bytes)
      : capacity_(capacity_bytes),
        small_target_(std::max<uint64_t>(1, capacity_bytes / 10)),
        predicted_limit_(std::min(predicted_bytes, capacity_bytes / 2)) {}

  void OnInsert(uint64_t id, uint64_t bytes) override {
    if (nodes_.count(id)) return;
    // An id that returns while its ghost is remembered was evicted too early:
    // it goes straight to main.
    Queue q = TakeGhost(id) ? Queue::kMain : Queue::kSmall;
    Add(id, q, bytes, false);
  }

  void OnInsertPredicted(uint64_t id, uint64_t bytes) override {
    if (nodes_.count(id)) return;
    Node& n = Add(id, Queue::kPredicted, bytes, TakeGhost(id));
    n.born = arrived_bytes_;
    while (predicted_bytes_ > predicted_limit_) Arrive(predicted_.front());
    predicted_peak_ = std::max(predicted_peak_, predicted_bytes_);
  }

  void OnResize(uint64_t id, uint64_t bytes) override {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    if (bytes > it->second.bytes) Arrived(bytes - it->second.bytes);
    Bytes(it->second.queue) += bytes - it->second.bytes;  // unsigned wrap is intended
    it->second.bytes = bytes;
  }

  void OnAccess(uint64_t id) override {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    if (it->second.queue == Queue::kPredicted) {
      Arrive(id);  // a re-read of a predicted entry is still its first access
    } else if (it->second.freq < 3) {
      ++it->second.freq;
    }
  }

  void OnFirstRead(uint64_t id) override {
    auto it = nodes_.find(id);
    if (it != nodes_.end() && it->second.queue == Queue::kPredicted) Arrive(id);
  }

  std::optional<uint64_t> PickVictim() override {
    // Readahead that was never read within a whole turnover of the cache
    // has lost its claim to protection.
    while (!predicted_.empty() && arrived_bytes_ - nodes_.at(predicted_.front()).born > capacity_) {
      Arrive(predicted_.front());
    }
    // Each pass either moves an entry from small to main, spends one unit of
    // an entry's frequency, or returns a victim, so the loop terminates.
    for (;;) {
      if (small_.empty() && main_.empty()) {
        // Only unread readahead is left: more of it than the tier can hold.
        if (predicted_.empty()) return std::nullopt;
        uint64_t id = predicted_.front();
        Forget(id, nodes_.at(id));
        return id;
      }
      // Unread readahead is on probation too: it counts toward the small
      // queue's share, and main does not grow into the room that readahead
      // recently needed. Otherwise main would grow while readahead is low
      // and lose its oldest entries when readahead rises again: a cyclic
      // scan would then keep no stable part.
      bool from_small =
          !small_.empty() && (small_bytes_ + predicted_bytes_ >= small_target_ || main_.empty());
      if (from_small) {
        uint64_t id = small_.front();
        Node& n = nodes_.at(id);
        const uint64_t reserve = std::max(predicted_peak_, predicted_peak_before_);
        // The small queue's share of the capacity, or what readahead took of
        // it lately if more, is not main's.
        const uint64_t probation = std::max(small_target_, reserve);
        const uint64_t main_room = capacity_ - std::min(capacity_, probation);
        if (n.freq > 0 || main_bytes_ + n.bytes <= main_room) {
          // Re-read while on probation, or main still has room: keep it.
          Move(n, Queue::kMain);
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
  enum class Queue : uint8_t { kSmall, kMain, kPredicted };
  struct Node {
    std::list<uint64_t>::iterator pos;
    Queue queue;
    uint8_t freq;
    bool ghost_return;  // predicted entry whose ghost was remembered: joins main
    uint64_t bytes;
    uint64_t born = 0;  // arrived_bytes_ when a predicted entry was inserted
  };

  uint64_t& Bytes(Queue q) {
    return q == Queue::kMain ? main_bytes_ : q == Queue::kSmall ? small_bytes_ : predicted_bytes_;
  }
  std::list<uint64_t>& List(Queue q) {
    return q == Queue::kMain ? main_ : q == Queue::kSmall ? small_ : predicted_;
  }

  bool TakeGhost(uint64_t id) {
    auto g = ghost_index_.find(id);
    if (g == ghost_index_.end()) return false;
    ghost_.erase(g->second);
    ghost_index_.erase(g);
    return true;
  }

  Node& Add(uint64_t id, Queue q, uint64_t bytes, bool ghost_return) {
    List(q).push_back(id);
    Bytes(q) += bytes;
    Arrived(bytes);
    return nodes_.emplace(id, Node{std::prev(List(q).end()), q, 0, ghost_return, bytes})
        .first->second;
  }

  // Advances the age clock; the peak of readahead is kept over the last one
  // to two turnovers of the cache.
  void Arrived(uint64_t bytes) {
    arrived_bytes_ += bytes;
    if (arrived_bytes_ >= next_peak_turn_) {
      predicted_peak_before_ = predicted_peak_;
      predicted_peak_ = predicted_bytes_;
      next_peak_turn_ = arrived_bytes_ + capacity_;
    }
  }

  // A predicted entry is read (or has waited too long): from now on it is an
  // ordinary entry, inserted now.
  void Arrive(uint64_t id) {
    Node& n = nodes_.at(id);
    Move(n, n.ghost_return ? Queue::kMain : Queue::kSmall);
    n.freq = 0;
  }

  void Move(Node& n, Queue to) {
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

  const uint64_t capacity_;
  const uint64_t small_target_;
  const uint64_t predicted_limit_;
  uint64_t small_bytes_ = 0;
  uint64_t main_bytes_ = 0;
  uint64_t predicted_bytes_ = 0;
  uint64_t arrived_bytes_ = 0;   // bytes ever inserted or grown: the age of predicted entries
  uint64_t predicted_peak_ = 0;  // most predicted bytes since next_peak_turn_ - capacity_
  uint64_t predicted_peak_before_ = 0;  // the same over the turnover before
  uint64_t next_peak_turn_ = 0;
  std::list<uint64_t> small_;
  std::list<uint64_t> main_;
  std::list<uint64_t> predicted_;  // unread readahead, oldest first
  std::list<uint64_t> ghost_;
  std::unordered_map<uint64_t, Node> nodes_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> ghost_index_;
};

}  // namespace

Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                           uint64_t capacity_bytes) {
  return MakeEvictionPolicy(name, capacity_bytes, capacity_bytes / 2);
}

Result<std::unique_ptr<EvictionPolicy>> MakeEvictionPolicy(std::string_view name,
                                                           uint64_t capacity_bytes,
                                                           uint64_t predicted_bytes) {
  if (name == "s3fifo" || name == "s3-fifo") {
    return std::unique_ptr<EvictionPolicy>(
        std::make_unique<S3FifoPolicy>(capacity_bytes, predicted_bytes));
  }
  if (name == "lru") return std::unique_ptr<EvictionPolicy>(std::make_unique<LruPolicy>());
  return Status::InvalidArgument("unknown cache eviction policy '" + std::string(name) +
                                 "' (expected s3fifo or lru)");
}

}  // namespace strata
