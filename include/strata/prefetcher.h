// The cached reader factory: FileReaders that read through the BlockCache,
// steered by an AccessPatternDetector per handle and a readahead Prefetcher
// whose windows share one global memory budget.
//
// Per read, by detected pattern:
// - sequential: the first read near offset 0 fills a small initial request
//   (about 1 MiB) so a short read costs little; from the next read on, a
//   window (initial_window, 16 MiB) of parallel part fills runs ahead of the
//   reader on the thread pool, cut into 8 parts (window / 8, at least one
//   cache block, at most part_size) so that 8 fetches run from the start and
//   parts grow with the window. The window doubles each time the reader has
//   to wait for a part (the reader keeps up with the network: more bytes in
//   flight help) up to max_window, and halves when the memory budget refuses
//   a part. Streams that hold parts and have not read to the end of their
//   object share max_window: each grows to max_window / streams, but not
//   below initial_window, and cuts it into 8 / streams parts (at least one)
//   of the size one stream's parts would have. Up to max_window /
//   initial_window streams (8 by default), a mount so keeps about one
//   stream's window and 8 parts in flight (four streams with 128 MiB windows
//   each would put 512 MiB and 32 parts in flight for a server that one
//   stream already keeps busy; on the bench, 4 fio jobs read 1.35x faster
//   sharing); more streams keep initial_window each, within the budget.
//   A stream that starts after a seek starts with a window of
//   initial_request. A seek inside the window keeps the stream; a stream
//   replaced by another cancels its parts not yet started. Parts never reach
//   past the end of the object.
//   Why parts grow to 16 MiB by default rather than S3's customary 8 MiB:
//   every GET costs the server (and, on S3, money) apart from its bytes; on
//   the local s3rver a GiB served in 16 MiB ranges, 8 at a time, took ~10 %
//   less server CPU than in 8 MiB ranges, and the window (memory) stays 128
//   MiB either way.
// - random: only the pages the read touches (BlockCache::Read coalesces
//   adjacent missing pages into one fetch); no readahead.
// - strided: the touched pages, plus the next few strides fetched ahead.
// - small objects (size <= small_file_threshold) are filled whole, in one
//   fill, on the first read of each handle (a no-op when already cached).
// - a first read inside the last 64 KiB (DetectorOptions::footer_trigger) of a
//   larger object fills the last footer_bytes in one request: Parquet and ORC
//   readers read the 8-byte tail, then the footer metadata, then often the
//   page index just before it; one 1 MiB request costs barely more than a
//   64 KiB one on a high-latency store and usually saves one or two round
//   trips, and footer reads happen once per file open, so the extra bytes do
//   not show up in the random-read amplification.
//
// Memory: readahead parts are charged to the budget (prefetch_memory) from
// issue until the reader has moved past them (or they are dropped), so the
// bytes in flight or landed-but-unread across all handles never exceed it.
// Demand reads on the caller's thread are not charged (they are bounded by the
// number of FUSE threads).
//
// Ownership: the factory shares the BlockCache and the ThreadPool with the
// mount context; readers keep what they need alive, so a reader may outlive
// the factory. Thread safety: the factory and every reader may be called from
// any thread; one reader serves concurrent reads of its handle.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "strata/access_pattern.h"
#include "strata/block_cache.h"
#include "strata/clock.h"
#include "strata/reader.h"
#include "strata/thread_pool.h"

namespace strata {

struct PrefetchOptions {
  uint64_t part_size = 16ull << 20;       // largest readahead fill
  uint64_t initial_request = 1ull << 20;  // first fill of a stream from offset 0
  uint64_t initial_window = 16ull << 20;  // window of a stream after its first request
  uint64_t max_window = 128ull << 20;     // readahead per stream, at most
  uint64_t prefetch_memory = 1ull << 30;  // global budget for all readahead
  uint64_t small_file_threshold = 4ull << 20;
  uint64_t footer_bytes = 1ull << 20;  // filled on a first read near the end
  uint32_t strided_lookahead = 4;      // strides fetched ahead in strided mode
  size_t fetch_threads = 16;           // pool size when the factory makes its own pool
  size_t inode_history = 65536;        // inodes whose last pattern is remembered
  DetectorOptions detector;
};

// Counters since the factory was made. Indexed arrays use AccessPattern.
struct PrefetchStats {
  std::array<uint64_t, 3> reads{};  // reads per pattern
  std::array<uint64_t, 3> bytes{};  // bytes returned per pattern
  uint64_t returned_bytes = 0;      // all bytes returned to readers
  uint64_t fetches = 0;             // the BlockCache's fetches (demand and readahead)
  uint64_t fetched_bytes = 0;       // the BlockCache's fetched bytes
  uint64_t readahead_parts = 0;     // parts issued
  uint64_t readahead_bytes = 0;
  uint64_t readahead_hits = 0;     // reads served from landed parts without waiting
  uint64_t readahead_waits = 0;    // reads that waited for an in-flight part
  uint64_t readahead_wait_us = 0;  // total time spent waiting
  uint64_t readahead_stolen = 0;   // queued parts a reader ran itself
  uint64_t readahead_evicted = 0;  // reads of a landed part that was no longer resident
  uint64_t cancelled_bytes = 0;    // parts dropped before they started
  uint64_t wasted_bytes = 0;       // parts fetched (or fetching) but dropped unread
  uint64_t part_failures = 0;      // part fills that failed (the read retried on demand)
  uint64_t window_grows = 0;
  uint64_t window_shrinks = 0;
  uint64_t window_peak_bytes = 0;  // the largest window any stream reached
  uint64_t active_streams = 0;     // streams sharing max_window now
  uint64_t budget_denials = 0;     // parts refused by the memory budget
  uint64_t budget_in_use = 0;
  uint64_t budget_peak = 0;
  uint64_t budget_limit = 0;
  uint64_t small_file_fills = 0;
  uint64_t footer_fills = 0;
  uint64_t initial_fills = 0;

  // fetched_bytes / returned_bytes (0 when nothing was returned).
  double amplification() const;
};

class CachedReaderFactory : public ReaderFactory {
 public:
  virtual PrefetchStats Stats() const = 0;
};

// `pool` runs the readahead fills; null: the factory makes its own with
// options.fetch_threads workers. `clock` times the waits.
std::unique_ptr<CachedReaderFactory> MakeCachedReaderFactory(std::shared_ptr<BlockCache> cache,
                                                             std::shared_ptr<ThreadPool> pool,
                                                             const PrefetchOptions& options,
                                                             std::shared_ptr<Clock> clock);

}  // namespace strata
