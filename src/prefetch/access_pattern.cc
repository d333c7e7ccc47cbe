#include "strata/access_pattern.h"

#include <bit>

namespace strata {

const char* AccessPatternName(AccessPattern pattern) {
  switch (pattern) {
    case AccessPattern::kSequential:
      return "sequential";
    case AccessPattern::kStrided:
      return "strided";
    case AccessPattern::kRandom:
      return "random";
  }
  return "unknown";
}

namespace {
// Hysteresis thresholds; see the header.
constexpr uint32_t kSeekRunToRandom = 3;
constexpr int kSeeksOfLast8ToRandom = 4;
constexpr uint32_t kRunToSequential = 4;
constexpr int kMaxSeeksOfLast8ForSequential = 2;
constexpr uint32_t kEqualJumpsToStrided = 3;
}  // namespace

AccessPatternDetector::AccessPatternDetector(const DetectorOptions& options, uint64_t object_size,
                                             AccessPattern initial)
    : options_(options), object_size_(object_size), mode_(initial) {}

int AccessPatternDetector::MatchStream(uint64_t offset) const {
  int best = -1;
  uint64_t best_distance = 0;
  for (int i = 0; i < kMaxStreams; ++i) {
    const Stream& s = streams_[i];
    if (!s.active) continue;
    uint64_t lo =
        s.high_water > options_.back_tolerance ? s.high_water - options_.back_tolerance : 0;
    uint64_t hi = s.reach + options_.forward_tolerance;
    if (offset < lo || offset > hi) continue;
    uint64_t distance = offset > s.high_water ? offset - s.high_water : s.high_water - offset;
    if (best < 0 || distance < best_distance) {
      best = i;
      best_distance = distance;
    }
  }
  return best;
}

int AccessPatternDetector::VictimStream() const {
  int victim = 0;
  for (int i = 0; i < kMaxStreams; ++i) {
    if (!streams_[i].active) return i;
    if (streams_[i].last_used < streams_[victim].last_used) victim = i;
  }
  return victim;
}

void AccessPatternDetector::UpdateStride(uint64_t offset, uint64_t size, bool continued) {
  if (have_prev_ && !continued && size == prev_size_) {
    int64_t jump = static_cast<int64_t>(offset) - static_cast<int64_t>(prev_offset_);
    if (jump != 0 && jump == last_jump_) {
      ++equal_jumps_;
    } else {
      last_jump_ = jump;
      equal_jumps_ = 1;
    }
  } else {
    last_jump_ = 0;
    equal_jumps_ = 0;
  }
  have_prev_ = true;
  prev_offset_ = offset;
  prev_size_ = size;
}

void AccessPatternDetector::UpdateMode(bool continued, uint32_t run) {
  seek_bits_ = static_cast<uint8_t>((seek_bits_ << 1) | (continued ? 0 : 1));
  seek_run_ = continued ? 0 : seek_run_ + 1;
  const int seeks = std::popcount(seek_bits_);
  if (equal_jumps_ >= kEqualJumpsToStrided) {
    mode_ = AccessPattern::kStrided;
    return;
  }
  if (mode_ == AccessPattern::kStrided) mode_ = AccessPattern::kRandom;  // the stride broke
  if (mode_ == AccessPattern::kSequential) {
    if (seek_run_ >= kSeekRunToRandom || seeks >= kSeeksOfLast8ToRandom) {
      mode_ = AccessPattern::kRandom;
    }
  } else if (continued && run >= kRunToSequential && seeks <= kMaxSeeksOfLast8ForSequential) {
    mode_ = AccessPattern::kSequential;
  }
}

AccessDecision AccessPatternDetector::Observe(uint64_t offset, uint64_t size) {
  AccessDecision d;
  const uint64_t end = offset + size;
  if (reads_ == 0) {
    d.first_read = true;
    d.footer = offset > 0 && offset + options_.footer_trigger >= object_size_;
    if (offset == 0) {
      mode_ = AccessPattern::kSequential;
    } else if (d.footer) {
      mode_ = AccessPattern::kRandom;
    }
  }
  ++reads_;

  int slot = d.first_read ? -1 : MatchStream(offset);
  if (slot >= 0) {
    Stream& s = streams_[slot];
    ++s.run;
    if (end > s.high_water) s.high_water = end;
    if (s.high_water > s.reach) s.reach = s.high_water;
    s.last_used = reads_;
    d.continues_stream = true;
  } else {
    slot = VictimStream();
    streams_[slot] = Stream{true, offset, end, end, 0, reads_};
    d.new_stream = true;
  }

  if (!d.first_read) {
    UpdateStride(offset, size, d.continues_stream);
    UpdateMode(d.continues_stream, streams_[slot].run);
  } else {
    have_prev_ = true;
    prev_offset_ = offset;
    prev_size_ = size;
  }

  d.pattern = mode_;
  d.stream = slot;
  d.stream_run = streams_[slot].run;
  d.stream_high_water = streams_[slot].high_water;
  if (mode_ == AccessPattern::kStrided) d.stride = last_jump_;
  return d;
}

void AccessPatternDetector::ExtendReach(int stream, uint64_t end) {
  if (stream < 0 || stream >= kMaxStreams) return;
  Stream& s = streams_[stream];
  if (s.active && end > s.reach) s.reach = end;
}

AccessPattern InodeHistory::Get(uint64_t inode) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(inode);
  if (it == map_.end()) return AccessPattern::kSequential;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.pattern;
}

void InodeHistory::Put(uint64_t inode, AccessPattern pattern) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(inode);
  if (it != map_.end()) {
    it->second.pattern = pattern;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  if (capacity_ == 0) return;
  if (map_.size() >= capacity_) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(inode);
  map_.emplace(inode, Entry{pattern, lru_.begin()});
}

size_t InodeHistory::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

}  // namespace strata
