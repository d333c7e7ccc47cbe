#include "cache/memory_tier.h"

namespace strata::cache {

Result<std::unique_ptr<MemoryTier>> MemoryTier::Create(Geometry geometry, uint64_t limit_bytes,
                                                       std::string_view policy,
                                                       uint64_t predicted_bytes) {
  std::unique_ptr<MemoryTier> tier(new MemoryTier(geometry, limit_bytes));
  // Up to 16 shards, but each one large enough (32 blocks) for its policy to
  // tell hot blocks from cold ones.
  size_t shards = 16;
  while (shards > 1 && limit_bytes / shards < 32 * geometry.block_size) shards /= 2;
  for (size_t i = 0; i < shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->limit = limit_bytes / shards;
    // Not divided among the shards: readahead does not spread evenly over
    // them, and its total is bounded by whoever fills (the prefetcher's
    // budget) anyway.
    auto p = MakeEvictionPolicy(policy, shard->limit, predicted_bytes);
    if (!p.ok()) return p.status();
    shard->policy = std::move(p).value();
    tier->shards_.push_back(std::move(shard));
  }
  return tier;
}

size_t MemoryTier::Lookup(const ObjectVersion& v, VersionHash h, uint64_t block, uint32_t first,
                          uint32_t last, PageData* out) {
  uint64_t id = BlockId(h.version, block);
  Shard& shard = ShardFor(id);
  size_t found = 0;
  uint64_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.entries.find(id);
    if (it != shard.entries.end() && it->second.block == block && it->second.version->Is(v)) {
      for (uint32_t p = first; p <= last; ++p) {
        const PageData& page = it->second.pages[p];
        if (!page) continue;
        out[p - first] = page;
        bytes += page->size();
        ++found;
      }
    }
  }
  hits_.fetch_add(found, std::memory_order_relaxed);
  misses_.fetch_add(last - first + 1 - found, std::memory_order_relaxed);
  hit_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  return found;
}

bool MemoryTier::Contains(const ObjectVersion& v, VersionHash h, uint64_t block, uint32_t page) {
  uint64_t id = BlockId(h.version, block);
  Shard& shard = ShardFor(id);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(id);
  return it != shard.entries.end() && it->second.block == block && it->second.version->Is(v) &&
         it->second.pages[page] != nullptr;
}

void MemoryTier::RemoveLocked(Shard& shard, std::unordered_map<uint64_t, Entry>::iterator it) {
  shard.used -= it->second.bytes;
  shard.entries.erase(it);
}

void MemoryTier::NoteRead(const ObjectVersion& v, VersionHash h, uint64_t block, uint64_t begin,
                          uint64_t end) {
  if (begin >= end) return;
  uint64_t id = BlockId(h.version, block);
  Shard& shard = ShardFor(id);
  const uint32_t first = static_cast<uint32_t>(begin / geometry_.page_size);
  const uint32_t last = static_cast<uint32_t>((end - 1) / geometry_.page_size);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end() || it->second.block != block || !it->second.version->Is(v)) return;
  Entry& e = it->second;
  // A reader going through a block in several reads (sequential, aligned or
  // not) references it once: a read that starts where the previous ended is
  // a continuation even when it shares a page with it.
  bool reread = false;
  for (uint32_t p = first; p <= last; ++p) {
    if (!e.pages[p]) continue;
    reread |= e.read.Test(p);
    e.read.Set(p);
  }
  if (begin == e.read_end) reread = false;
  e.read_end = end;
  if (reread) {
    shard.policy->OnAccess(id);
  } else {
    shard.policy->OnFirstRead(id);
  }
}

void MemoryTier::Insert(const PutToken& token, uint64_t block,
                        const std::vector<std::pair<uint32_t, PageData>>& pages, InsertKind kind) {
  const auto& version = token.version();
  uint64_t id = BlockId(version->hash.version, block);
  Shard& shard = ShardFor(id);
  uint64_t inserted = 0;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    if (!token.valid()) return;  // invalidated while the bytes were read
    auto it = shard.entries.find(id);
    if (it != shard.entries.end() &&
        !(it->second.block == block && it->second.version->store == version->store &&
          it->second.version->key == version->key && it->second.version->etag == version->etag)) {
      // Another block with the same 64-bit id: the newer one wins.
      shard.policy->OnRemove(id);
      RemoveLocked(shard, it);
      it = shard.entries.end();
    }
    auto added_bytes = [&](const Entry* e) {
      uint64_t n = 0;
      for (const auto& [p, data] : pages) {
        if (!e || !e->pages[p]) n += data->size();
      }
      return n;
    };
    uint64_t need = added_bytes(it == shard.entries.end() ? nullptr : &it->second);
    if (need == 0) return;
    while (shard.used + need > shard.limit) {
      auto victim = shard.policy->PickVictim();
      if (!victim) break;
      auto v = shard.entries.find(*victim);
      if (v == shard.entries.end()) continue;
      if (*victim == id) {
        // The block being extended was chosen: start it afresh.
        RemoveLocked(shard, v);
        it = shard.entries.end();
        need = added_bytes(nullptr);
      } else {
        RemoveLocked(shard, v);
      }
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
    if (shard.used + need > shard.limit) return;  // larger than the whole shard
    bool fresh = it == shard.entries.end();
    if (fresh) {
      Entry e;
      e.version = version;
      e.block = block;
      e.pages.resize(geometry_.pages_per_block);
      e.read = PageMask(geometry_.pages_per_block);
      it = shard.entries.emplace(id, std::move(e)).first;
    }
    for (const auto& [p, data] : pages) {
      if (!it->second.pages[p]) it->second.pages[p] = data;
    }
    // New pages: a reader is using the block again; ReleaseWritten must not
    // drop it when their disk copy lands.
    it->second.passed = false;
    it->second.bytes += need;
    shard.used += need;
    if (fresh && kind == InsertKind::kPredicted) {
      shard.policy->OnInsertPredicted(id, it->second.bytes);
    } else if (fresh) {
      shard.policy->OnInsert(id, it->second.bytes);
    } else {
      shard.policy->OnResize(id, it->second.bytes);
    }
    inserted = need;
  }
  inserted_bytes_.fetch_add(inserted, std::memory_order_relaxed);
}

bool MemoryTier::Covers(const Entry& entry, const PageMask& covered) {
  for (uint32_t p = 0; p < entry.pages.size(); ++p) {
    if (entry.pages[p] && !covered.Test(p)) return false;
  }
  return true;
}

MemoryTier::DropResult MemoryTier::DropIfCovered(const ObjectVersion& v, VersionHash h,
                                                 uint64_t block, const PageMask& covered) {
  uint64_t id = BlockId(h.version, block);
  Shard& shard = ShardFor(id);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end() || it->second.block != block || !it->second.version->Is(v)) {
    return DropResult::kAbsent;
  }
  if (!Covers(it->second, covered)) {
    it->second.passed = true;  // its disk copy is still being written
    return DropResult::kMarked;
  }
  shard.policy->OnRemove(id);
  RemoveLocked(shard, it);
  releases_.fetch_add(1, std::memory_order_relaxed);
  return DropResult::kDropped;
}

bool MemoryTier::ReleaseWritten(const VersionKey& version, uint64_t block,
                                const PageMask& covered) {
  uint64_t id = BlockId(version.hash.version, block);
  Shard& shard = ShardFor(id);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end() || !it->second.passed || it->second.block != block) return false;
  const VersionKey& held = *it->second.version;
  if (held.etag != version.etag || held.key != version.key || held.store != version.store) {
    return false;
  }
  if (!Covers(it->second, covered)) return false;
  shard.policy->OnRemove(id);
  RemoveLocked(shard, it);
  releases_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void MemoryTier::DropObject(const std::string& store, const std::string& key,
                            const std::string& keep_etag) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (auto it = shard->entries.begin(); it != shard->entries.end();) {
      const VersionKey& v = *it->second.version;
      if (v.store == store && v.key == key && (keep_etag.empty() || v.etag != keep_etag)) {
        shard->policy->OnRemove(it->first);
        shard->used -= it->second.bytes;
        it = shard->entries.erase(it);
      } else {
        ++it;
      }
    }
  }
}

TierStats MemoryTier::Stats() const {
  TierStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.hit_bytes = hit_bytes_.load(std::memory_order_relaxed);
  s.inserted_bytes = inserted_bytes_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.releases = releases_.load(std::memory_order_relaxed);
  s.limit_bytes = limit_;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    s.used_bytes += shard->used;
  }
  return s;
}

}  // namespace strata::cache
