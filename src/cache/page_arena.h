// PageArena: fixed-size buffers for cache pages, carved out of large chunks
// that are kept and reused for the life of the cache.
//
// Why: every page a cache fill touches for the first time costs a page fault
// (and the kernel zeroes it); a cache that frees and reallocates its buffers
// through malloc keeps paying that when glibc hands memory back to the
// kernel, and on paravirtualised hosts a fault costs ~16 us per 4 KiB (a
// stream through fresh memory is then capped near 250 MB/s of CPU). The arena
// maps chunks of 32 MiB, asks for transparent huge pages on them (one fault
// per 2 MiB where the kernel allows it), and recycles freed slots LIFO so the
// next fill lands in memory that is already mapped and warm. It never returns
// memory to the kernel: its peak is bounded by what its users bound (memory
// tier + readahead budget + write-back backlog), as in CacheLib's slab
// allocator.
//
// Ownership: shared by the BlockCache and every Page cut from it (a Page holds
// a reference, so buffers may outlive the cache). Thread safety: all methods
// may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace strata::cache {

class PageArena {
 public:
  // Slots of `slot_bytes` each (rounded up to 4 KiB), `chunk_bytes` mapped at a time.
  explicit PageArena(size_t slot_bytes, size_t chunk_bytes = 32u << 20);
  ~PageArena();
  PageArena(const PageArena&) = delete;
  PageArena& operator=(const PageArena&) = delete;

  // A slot of slot_bytes(); throws std::bad_alloc when no memory can be mapped.
  char* Allocate();
  // Returns a slot from Allocate() of this arena.
  void Free(char* slot);

  size_t slot_bytes() const { return slot_bytes_; }
  uint64_t mapped_bytes() const;  // chunks mapped so far (the arena's peak)
  uint64_t used_bytes() const;    // slots handed out and not freed

 private:
  void MapChunkLocked();

  const size_t slot_bytes_;
  const size_t chunk_bytes_;
  mutable std::mutex mu_;
  std::vector<char*> free_;                       // guarded by mu_; LIFO: warmest first
  std::vector<std::pair<char*, size_t>> chunks_;  // guarded by mu_
  uint64_t used_ = 0;                             // guarded by mu_
};

}  // namespace strata::cache
