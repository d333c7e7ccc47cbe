// AccessPatternDetector: classifies the reads of one open handle as sequential,
// strided or random, read by read; InodeHistory remembers the last class of a
// file across opens.
//
// Streams. The detector follows up to kMaxStreams independent sequential
// cursors per handle (two processes sharing a handle, or a reader interleaving
// two regions of one file). A read continues a stream when it starts inside
// that stream's tolerance window [high_water - back, reach + forward], where
// high_water is the end of the furthest read of the stream and reach is how
// far the prefetcher has already asked for (ExtendReach). The window absorbs
// the kernel's own out-of-order readahead: FUSE hands a readahead batch to
// several threads and the requests arrive slightly reordered, so `dd` and
// `cat` must not look like seeks.
//
// Hysteresis. The handle's mode switches to random when 3 reads in a row, or
// half of the last 8, start no stream; it switches back to sequential when one
// stream has continued 4 times in a row and at most 2 of the last 8 reads were
// seeks. Strided: 3 equal jumps of the same read size beyond the tolerance
// window (reading one column out of fixed-size records).
//
// First read. Offset 0 starts sequential. A first read inside the last
// footer_trigger bytes of the object (a Parquet/ORC footer) starts random.
// Otherwise the initial mode comes from the inode's history (random if the file
// was last read randomly), defaulting to sequential.
//
// Ownership and threads: an AccessPatternDetector belongs to one FileReader,
// which serialises calls (not thread-safe by itself). InodeHistory is owned by
// the reader factory and shared by all handles; it is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

namespace strata {

enum class AccessPattern { kSequential, kStrided, kRandom };

const char* AccessPatternName(AccessPattern pattern);

struct DetectorOptions {
  // Tolerance window around a stream's high-water mark; see the file comment.
  uint64_t back_tolerance = 1 << 20;
  uint64_t forward_tolerance = 2 << 20;
  // A first read starting this close to the end of the object is a footer read.
  uint64_t footer_trigger = 64 << 10;
};

// What the detector concluded about one read.
struct AccessDecision {
  AccessPattern pattern = AccessPattern::kSequential;  // the handle's mode after this read
  int stream = 0;                                      // the stream slot the read belongs to now
  bool continues_stream = false;                       // inside that stream's tolerance window
  bool new_stream = false;                             // the slot was (re)started by this read
  bool first_read = false;                             // the first read of the handle
  bool footer = false;             // first read, inside the footer trigger region
  uint32_t stream_run = 0;         // consecutive continuations of the stream, this read included
  uint64_t stream_high_water = 0;  // end of the stream's furthest read, after this read
  int64_t stride = 0;  // when pattern == kStrided: the offset jump between reads (signed)
};

class AccessPatternDetector {
 public:
  static constexpr int kMaxStreams = 4;

  // `object_size` is the size of the object version the handle reads;
  // `initial` is the mode the inode's history suggests (kSequential if none).
  AccessPatternDetector(const DetectorOptions& options, uint64_t object_size,
                        AccessPattern initial = AccessPattern::kSequential);

  AccessDecision Observe(uint64_t offset, uint64_t size);

  // The prefetcher has requested stream `stream` up to `end`: a forward jump up
  // to there still continues the stream ("a seek inside the window keeps it").
  void ExtendReach(int stream, uint64_t end);

  AccessPattern mode() const { return mode_; }

 private:
  struct Stream {
    bool active = false;
    uint64_t start = 0;       // where the stream began
    uint64_t high_water = 0;  // end of its furthest read
    uint64_t reach = 0;       // max(high_water, prefetched end)
    uint32_t run = 0;         // consecutive continuations
    uint64_t last_used = 0;   // read sequence number, for LRU replacement
  };

  int MatchStream(uint64_t offset) const;
  int VictimStream() const;
  void UpdateStride(uint64_t offset, uint64_t size, bool continued);
  void UpdateMode(bool continued, uint32_t run);

  DetectorOptions options_;
  uint64_t object_size_;
  AccessPattern mode_;
  std::array<Stream, kMaxStreams> streams_{};
  uint64_t reads_ = 0;
  uint8_t seek_bits_ = 0;   // last 8 reads, bit set = the read started no stream
  uint32_t seek_run_ = 0;   // consecutive reads that started no stream
  bool have_prev_ = false;  // previous read, for stride detection
  uint64_t prev_offset_ = 0;
  uint64_t prev_size_ = 0;
  int64_t last_jump_ = 0;
  uint32_t equal_jumps_ = 0;  // consecutive identical jumps beyond the tolerance
};

// The last access pattern of each inode, bounded LRU. Thread-safe.
class InodeHistory {
 public:
  explicit InodeHistory(size_t capacity = 65536) : capacity_(capacity) {}

  // kSequential when the inode is unknown.
  AccessPattern Get(uint64_t inode);
  void Put(uint64_t inode, AccessPattern pattern);
  size_t size() const;

 private:
  struct Entry {
    AccessPattern pattern;
    std::list<uint64_t>::iterator lru;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> map_;  // guarded by mu_
  std::list<uint64_t> lru_;                  // guarded by mu_; front = most recent
};

}  // namespace strata
