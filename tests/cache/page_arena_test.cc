#include "cache/page_arena.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "cache/cache_key.h"

namespace strata {
namespace {

using cache::Page;
using cache::PageArena;

TEST_CASE("PageArena hands out distinct, writable slots and reuses freed ones") {
  PageArena arena(64 * 1024, 2u << 20);  // 32 slots per chunk
  CHECK(arena.slot_bytes() == 64 * 1024);
  std::vector<char*> slots;
  std::set<char*> distinct;
  for (int i = 0; i < 40; ++i) {
    char* s = arena.Allocate();
    std::memset(s, i, arena.slot_bytes());
    slots.push_back(s);
    distinct.insert(s);
  }
  CHECK(distinct.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(slots[i][arena.slot_bytes() - 1] == static_cast<char>(i));
  CHECK(arena.used_bytes() == 40 * 64 * 1024);
  CHECK(arena.mapped_bytes() == 2 * (2u << 20));

  // Freed slots come back before anything new is mapped, warmest first.
  char* last = slots.back();
  for (char* s : slots) arena.Free(s);
  CHECK(arena.used_bytes() == 0);
  CHECK(arena.Allocate() == last);
  for (int i = 0; i < 63; ++i) arena.Allocate();
  CHECK(arena.mapped_bytes() == 2 * (2u << 20));
}

TEST_CASE("Slot sizes round up to 4 KiB; only full pages take a slot") {
  auto arena = std::make_shared<PageArena>(5000, 1u << 20);
  CHECK(arena->slot_bytes() == 8192);
  {
    Page full(arena, 8192);
    Page small(arena, 5000);  // an object's short tail: the heap, not a whole slot
    Page big(arena, 10000);
    std::memset(full.data(), 3, full.size());
    std::memset(small.data(), 1, small.size());
    std::memset(big.data(), 2, big.size());
    CHECK(arena->used_bytes() == 8192);
  }
  CHECK(arena->used_bytes() == 0);
  Page heap(nullptr, 100);
  CHECK(heap.size() == 100);
}

TEST_CASE("Pages keep their arena alive and threads share it safely") {
  std::vector<std::shared_ptr<Page>> kept;
  {
    auto arena = std::make_shared<PageArena>(4096, 2u << 20);
    std::vector<std::thread> threads;
    std::vector<std::vector<std::shared_ptr<Page>>> per(4);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 2000; ++i) {
          auto p = std::make_shared<Page>(arena, 4096);  // full pages of a 4 KiB slot
          std::memset(p->data(), t, 4096);
          if (i % 100 == 0) per[t].push_back(p);  // the rest is freed at once
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) {
      for (auto& p : per[t]) {
        CHECK(p->data()[4095] == static_cast<char>(t));
        kept.push_back(p);
      }
    }
    CHECK(arena->used_bytes() == kept.size() * 4096);
    // Recycling keeps the arena near its peak in use, not the 8,000 allocations.
    CHECK(arena->mapped_bytes() <= 4 * (2u << 20));
  }
  // The arena is gone from this scope; the kept pages still own valid memory.
  CHECK(kept.size() == 80);
  CHECK(kept.front()->data()[0] == kept.front()->data()[4095]);
}

}  // namespace
}  // namespace strata
