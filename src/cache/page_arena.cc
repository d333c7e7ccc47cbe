#include "cache/page_arena.h"

#include <sys/mman.h>

#include <new>

namespace strata::cache {
namespace {

constexpr size_t kHugePage = 2u << 20;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

PageArena::PageArena(size_t slot_bytes, size_t chunk_bytes)
    : slot_bytes_(RoundUp(slot_bytes == 0 ? 1 : slot_bytes, 4096)),
      chunk_bytes_(RoundUp(std::max(chunk_bytes, slot_bytes_), kHugePage)) {}

PageArena::~PageArena() {
  for (auto [base, len] : chunks_) ::munmap(base, len);
}

void PageArena::MapChunkLocked() {
  // Over-map by one huge page so the chunk can start on a 2 MiB boundary:
  // a transparent huge page needs an aligned, whole 2 MiB range.
  const size_t len = chunk_bytes_ + kHugePage;
  void* raw = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  char* base = static_cast<char*>(raw);
  char* aligned = reinterpret_cast<char*>(RoundUp(reinterpret_cast<uintptr_t>(base), kHugePage));
  ::madvise(aligned, chunk_bytes_, MADV_HUGEPAGE);  // advice: no error if THP is off
  chunks_.emplace_back(base, len);
  const size_t slots = chunk_bytes_ / slot_bytes_;
  free_.reserve(free_.size() + slots);
  // Pushed in reverse so that slots are handed out in address order.
  for (size_t i = slots; i-- > 0;) free_.push_back(aligned + i * slot_bytes_);
}

char* PageArena::Allocate() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) MapChunkLocked();
  char* slot = free_.back();
  free_.pop_back();
  used_ += slot_bytes_;
  return slot;
}

void PageArena::Free(char* slot) {
  if (!slot) return;
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(slot);
  used_ -= slot_bytes_;
}

uint64_t PageArena::mapped_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return uint64_t{chunks_.size()} * chunk_bytes_;
}

uint64_t PageArena::used_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}

}  // namespace strata::cache
