#include <algorithm>
#include <new>
#include <string>

#include "cache/block_cache_impl.h"

namespace strata {

ScatterFetcher AsScatter(RangeFetcher fetcher) {
  if (!fetcher) return nullptr;
  return [fetcher = std::move(fetcher)](const ObjectVersion& v, uint64_t offset,
                                        std::span<const std::span<char>> dsts) {
    return ScatterThroughBuffer(dsts,
                                [&](std::span<char> buffer) { return fetcher(v, offset, buffer); });
  };
}

Result<std::unique_ptr<BlockCache>> BlockCache::Open(const BlockCacheOptions& options,
                                                     std::shared_ptr<Clock> clock,
                                                     RangeFetcher fetcher) {
  return Open(options, std::move(clock), AsScatter(std::move(fetcher)));
}

Result<std::unique_ptr<BlockCache>> BlockCache::Open(const BlockCacheOptions& options,
                                                     std::shared_ptr<Clock> clock,
                                                     ScatterFetcher fetcher) {
  auto cache = cache::BlockCacheImpl::Create(options, std::move(clock), std::move(fetcher));
  if (!cache.ok()) return cache.status();
  return std::unique_ptr<BlockCache>(std::move(cache).value());
}

}  // namespace strata

namespace strata::cache {

BlockCacheImpl::BlockCacheImpl(const BlockCacheOptions& options, std::shared_ptr<Clock> clock,
                               ScatterFetcher fetcher)
    : options_(options), clock_(std::move(clock)), fetcher_(std::move(fetcher)) {}

BlockCacheImpl::~BlockCacheImpl() = default;

Result<std::unique_ptr<BlockCacheImpl>> BlockCacheImpl::Create(const BlockCacheOptions& options,
                                                               std::shared_ptr<Clock> clock,
                                                               RangeFetcher fetcher,
                                                               CacheInternals internals) {
  return Create(options, std::move(clock), AsScatter(std::move(fetcher)), std::move(internals));
}

Result<std::unique_ptr<BlockCacheImpl>> BlockCacheImpl::Create(const BlockCacheOptions& options,
                                                               std::shared_ptr<Clock> clock,
                                                               ScatterFetcher fetcher,
                                                               CacheInternals internals) {
  if (options.page_size == 0 || options.block_size == 0 ||
      options.block_size % options.page_size != 0) {
    return Status::InvalidArgument("cache block size must be a non-zero multiple of the page size");
  }
  // The page mask is part of each disk file's name, which must stay short.
  if (options.block_size / options.page_size > PageMask::kMaxPages ||
      options.page_size > (1u << 30)) {
    return Status::InvalidArgument("cache block size must be at most " +
                                   std::to_string(PageMask::kMaxPages) + " pages of at most 1 GiB");
  }
  if (!fetcher) return Status::InvalidArgument("block cache needs a range fetcher");
  std::unique_ptr<BlockCacheImpl> cache(
      new BlockCacheImpl(options, std::move(clock), std::move(fetcher)));
  cache->geometry_ = Geometry{options.block_size, options.page_size,
                              static_cast<uint32_t>(options.block_size / options.page_size)};
  cache->arena_ = std::make_shared<PageArena>(options.page_size);
  auto memory = MemoryTier::Create(cache->geometry_, options.memory_bytes, options.eviction,
                                   options.predicted_bytes);
  if (!memory.ok()) return memory.status();
  cache->memory_ = std::move(memory).value();
  if (!options.disk_dir.empty()) {
    DiskTierOptions d{options.disk_dir, options.disk_bytes, options.disk_free_floor_bytes,
                      options.eviction, cache->geometry_,   cache->arena_};
    auto io = internals.disk_io ? internals.disk_io : PosixDiskIo();
    auto disk = DiskTier::Open(d, std::move(io));
    if (!disk.ok()) return disk.status();
    cache->disk_ = std::move(disk).value();
    // Enough backlog to absorb a burst of readahead, bounded by memory.
    uint64_t backlog = internals.write_backlog_bytes;
    if (backlog == 0) {
      backlog = std::clamp<uint64_t>(options.memory_bytes / 4, 16 * options.block_size,
                                     std::max<uint64_t>(256ull << 20, 16 * options.block_size));
    }
    // A block a reader passed before its disk copy was written leaves memory
    // once it is (see Consumed): memory_ and disk_ outlive write_back_.
    BlockCacheImpl* self = cache.get();
    cache->write_back_ = std::make_unique<WriteBack>(
        cache->disk_.get(), backlog, internals.floor_check_interval,
        [self](const PutToken& token, uint64_t block) {
          const VersionKey& version = *token.version();
          self->memory_->ReleaseWritten(version, block,
                                        self->disk_->ResidentPages(version.hash, block));
        });
  }
  return cache;
}

Result<size_t> BlockCacheImpl::Read(const ObjectVersion& version, uint64_t offset,
                                    std::span<char> dst) {
  Result<ReadBuffers> pinned = ReadPinned(version, offset, dst.size());
  if (!pinned.ok()) return pinned.status();
  return pinned->CopyTo(dst);
}

Result<ReadBuffers> BlockCacheImpl::ReadPinned(const ObjectVersion& version, uint64_t offset,
                                               size_t size) {
  ReadBuffers out;
  if (offset >= version.size || size == 0) return out;
  const uint64_t end = std::min<uint64_t>(version.size, offset + size);
  const uint64_t page_size = geometry_.page_size;
  const uint64_t first = offset / page_size;
  // Pages arrive out of order (memory and disk first, then fetches): each is
  // kept in its slot, then the pieces are laid out in order.
  std::vector<PageData> pages((end - 1) / page_size - first + 1);
  PageSink sink = [&](uint64_t page, const PageData& data) { pages[page - first] = data; };
  VersionHash h = VersionHash::Of(version);
  STRATA_RETURN_IF_ERROR(Access(version, h, offset, end, InsertKind::kDemand, sink));
  out.pieces.reserve(pages.size());
  out.pins.reserve(pages.size());
  for (size_t k = 0; k < pages.size(); ++k) {
    const uint64_t start = (first + k) * page_size;
    const uint64_t lo = std::max(start, offset);
    const uint64_t hi = std::min(start + page_size, end);
    PageData& page = pages[k];
    if (!page || page->size() < hi - start) {
      return Status::Internal("cache page " + std::to_string(first + k) + " of " + version.key +
                              " missing or short after a successful read");
    }
    const char* bytes = page->data() + (lo - start);
    out.Append(std::span<const char>(bytes, hi - lo), std::move(page));
  }
  // Recency is updated once per block and read, after the bytes are out,
  // wherever they came from (memory, disk, a fetch, another's fetch).
  const uint64_t block_size = geometry_.block_size;
  for (uint64_t b = offset / block_size; b * block_size < end; ++b) {
    uint64_t start = b * block_size;
    memory_->NoteRead(version, h, b, std::max(offset, start) - start,
                      std::min(end, start + block_size) - start);
  }
  return out;
}

Status BlockCacheImpl::Fill(const ObjectVersion& version, uint64_t offset, uint64_t length) {
  if (offset >= version.size || length == 0) return Status::Ok();
  uint64_t end = offset + std::min(length, version.size - offset);
  return Access(version, VersionHash::Of(version), offset, end, InsertKind::kPredicted,
                [](uint64_t, const PageData&) {});
}

Status BlockCacheImpl::Access(const ObjectVersion& v, VersionHash h, uint64_t offset, uint64_t end,
                              InsertKind kind, const PageSink& sink) {
  std::vector<uint64_t> pages;
  for (uint64_t p = offset / geometry_.page_size; p * geometry_.page_size < end; ++p) {
    pages.push_back(p);
  }
  // A page that another fill made resident after our lookup is looked up
  // again; after a few rounds of that, fetch whatever is still missing.
  for (int round = 0; !pages.empty(); ++round) {
    pages = LookupTiers(v, h, pages, kind, sink);
    if (pages.empty()) break;
    auto again = FetchPages(v, h, pages, round >= 2, kind, sink);
    if (!again.ok()) return again.status();
    pages = std::move(again).value();
  }
  return Status::Ok();
}

std::vector<uint64_t> BlockCacheImpl::LookupTiers(const ObjectVersion& v, VersionHash h,
                                                  const std::vector<uint64_t>& pages,
                                                  InsertKind kind, const PageSink& sink) {
  const uint32_t ppb = geometry_.pages_per_block;
  std::vector<uint64_t> missing;
  std::vector<PageData> found(ppb);
  std::shared_ptr<PutToken> token;
  for (size_t i = 0; i < pages.size();) {
    // The run of requested pages inside one block.
    uint64_t block = pages[i] / ppb;
    size_t j = i;
    while (j < pages.size() && pages[j] / ppb == block) ++j;
    uint32_t first = static_cast<uint32_t>(pages[i] % ppb);
    uint32_t last = static_cast<uint32_t>(pages[j - 1] % ppb);
    std::fill(found.begin(), found.begin() + (last - first + 1), nullptr);
    size_t hits = memory_->Lookup(v, h, block, first, last, found.data());
    if (disk_ && hits < last - first + 1) {
      // Read from disk only the span of pages memory lacks.
      uint32_t lo = first, hi = last;
      while (found[lo - first]) ++lo;
      while (found[hi - first]) --hi;
      std::vector<PageData> from_disk(hi - lo + 1);
      if (!token) token = tokens_.Begin(VersionKey::From(v, h));
      if (disk_->Read(v, h, block, lo, hi, from_disk.data()) > 0) {
        std::vector<std::pair<uint32_t, PageData>> promote;
        for (uint32_t p = lo; p <= hi; ++p) {
          if (!from_disk[p - lo] || found[p - first]) continue;
          found[p - first] = from_disk[p - lo];
          promote.emplace_back(p, from_disk[p - lo]);
        }
        Publish(token, v.size, block, std::move(promote), /*to_disk=*/false, kind);
      }
    }
    for (size_t k = i; k < j; ++k) {
      const PageData& page = found[pages[k] % ppb - first];
      if (page) {
        sink(pages[k], page);
      } else {
        missing.push_back(pages[k]);
      }
    }
    i = j;
  }
  return missing;
}

void BlockCacheImpl::Publish(const std::shared_ptr<PutToken>& token, uint64_t object_size,
                             uint64_t block, std::vector<std::pair<uint32_t, PageData>> pages,
                             bool to_disk, InsertKind kind) {
  if (pages.empty()) return;
  memory_->Insert(*token, block, pages, kind);
  if (to_disk && write_back_) write_back_->Enqueue(token, object_size, block, std::move(pages));
}

Result<std::vector<uint64_t>> BlockCacheImpl::FetchPages(const ObjectVersion& v, VersionHash h,
                                                         const std::vector<uint64_t>& pages,
                                                         bool force, InsertKind kind,
                                                         const PageSink& sink) {
  const uint32_t ppb = geometry_.pages_per_block;
  std::vector<std::shared_ptr<Flight>> mine, theirs;
  std::vector<uint64_t> recheck;
  std::shared_ptr<const VersionKey> vkey = VersionKey::From(v, h);
  {
    std::lock_guard<std::mutex> lock(flights_mu_);
    Flight* open = nullptr;  // my flight that the next page may extend
    for (size_t i = 0; i < pages.size(); ++i) {
      uint64_t p = pages[i];
      if (open && p != open->first_page + open->pages.size()) open = nullptr;
      auto it = flights_.find({h.version, p});
      if (it != flights_.end() && it->second->version->Is(v)) {
        if (theirs.empty() || theirs.back() != it->second) theirs.push_back(it->second);
        open = nullptr;
        continue;
      }
      if (it != flights_.end()) {
        // A 64-bit collision with another version's fetch: fetch this page
        // alone, outside the table.
        auto solo = std::make_shared<Flight>();
        solo->version = vkey;
        solo->token = tokens_.Begin(vkey);
        solo->first_page = p;
        solo->kind = kind;
        solo->pages.resize(1);
        mine.push_back(solo);
        open = nullptr;
        continue;
      }
      if (!force && memory_->Contains(v, h, p / ppb, static_cast<uint32_t>(p % ppb))) {
        recheck.push_back(p);  // a fill finished since our lookup
        open = nullptr;
        continue;
      }
      if (!open) {
        auto flight = std::make_shared<Flight>();
        flight->version = vkey;
        flight->token = tokens_.Begin(vkey);
        flight->first_page = p;
        flight->kind = kind;
        mine.push_back(flight);
        open = flight.get();
      }
      open->pages.emplace_back();
      flights_.emplace(FlightKey{h.version, p}, mine.back());
    }
  }
  if (!theirs.empty()) single_flight_waits_.fetch_add(theirs.size(), std::memory_order_relaxed);

  Status status;
  for (auto& flight : mine) {
    RunFlight(v, *flight);
    {
      std::lock_guard<std::mutex> lock(flights_mu_);
      for (size_t k = 0; k < flight->pages.size(); ++k) {
        auto it = flights_.find({h.version, flight->first_page + k});
        if (it != flights_.end() && it->second == flight) flights_.erase(it);
      }
      flight->done = true;
    }
    flights_cv_.notify_all();
    if (!flight->status.ok() && status.ok()) status = flight->status;
  }
  for (auto& flight : theirs) {
    std::unique_lock<std::mutex> lock(flights_mu_);
    flights_cv_.wait(lock, [&] { return flight->done; });
    if (!flight->status.ok() && status.ok()) status = flight->status;
  }
  if (!status.ok()) return status;

  // Hand the fetched pages of the requested range to the sink.
  auto wanted = [&](uint64_t p) { return std::binary_search(pages.begin(), pages.end(), p); };
  for (const auto* list : {&mine, &theirs}) {
    for (const auto& flight : *list) {
      for (size_t k = 0; k < flight->pages.size(); ++k) {
        uint64_t p = flight->first_page + k;
        if (wanted(p)) sink(p, flight->pages[k]);
      }
    }
  }
  return recheck;
}

void BlockCacheImpl::RunFlight(const ObjectVersion& v, Flight& flight) {
  const uint64_t page_size = geometry_.page_size;
  const uint32_t ppb = geometry_.pages_per_block;
  uint64_t offset = flight.first_page * page_size;
  uint64_t last = flight.first_page + flight.pages.size() - 1;
  uint64_t length = last * page_size + geometry_.PageLength(last, v.size) - offset;

  fills_in_flight_.fetch_add(1, std::memory_order_relaxed);
  fetches_.fetch_add(1, std::memory_order_relaxed);
  // The bytes land straight in the page buffers (recycled arena slots).
  std::vector<std::shared_ptr<Page>> fresh;
  std::vector<std::span<char>> spans;
  fresh.reserve(flight.pages.size());
  spans.reserve(flight.pages.size());
  try {
    for (size_t k = 0; k < flight.pages.size(); ++k) {
      fresh.push_back(
          std::make_shared<Page>(arena_, geometry_.PageLength(flight.first_page + k, v.size)));
      spans.emplace_back(fresh.back()->data(), fresh.back()->size());
    }
  } catch (const std::bad_alloc&) {
    // Fail this fetch (its waiters see the status) instead of unwinding past them.
    fills_in_flight_.fetch_sub(1, std::memory_order_relaxed);
    flight.status =
        Status::IoError("out of memory for " + std::to_string(length) + " bytes of cache pages");
    return;
  }
  auto got = fetcher_(v, offset, spans);
  fills_in_flight_.fetch_sub(1, std::memory_order_relaxed);
  if (!got.ok()) {
    flight.status = got.status();
    return;
  }
  fetched_bytes_.fetch_add(*got, std::memory_order_relaxed);
  if (*got != length) {
    flight.status =
        Status::IoError("short read of " + v.key + " at " + std::to_string(offset) + ": " +
                        std::to_string(*got) + " of " + std::to_string(length) + " bytes");
    return;
  }
  std::vector<std::pair<uint32_t, PageData>> block_pages;
  for (size_t k = 0; k < flight.pages.size(); ++k) {
    uint64_t p = flight.first_page + k;
    PageData page = std::move(fresh[k]);
    flight.pages[k] = page;
    block_pages.emplace_back(static_cast<uint32_t>(p % ppb), std::move(page));
    if (p % ppb == ppb - 1 || p == last) {
      Publish(flight.token, v.size, p / ppb, std::move(block_pages), /*to_disk=*/true, flight.kind);
      block_pages.clear();
    }
  }
}

void BlockCacheImpl::Consumed(const ObjectVersion& v, uint64_t offset, uint64_t length) {
  if (!disk_ || offset >= v.size || length == 0) return;
  const uint64_t end = offset + std::min(length, v.size - offset);
  const uint64_t block_size = geometry_.block_size;
  VersionHash h = VersionHash::Of(v);
  // Only blocks wholly inside the range (the last block of the object may be short).
  for (uint64_t b = (offset + block_size - 1) / block_size; b * block_size < end; ++b) {
    if (std::min((b + 1) * block_size, v.size) > end) break;
    // A block whose disk copy is not written yet is marked, and leaves when
    // the write-back has written it (ReleaseWritten). A write that landed
    // between our disk lookup and the mark found no mark: look again.
    if (memory_->DropIfCovered(v, h, b, disk_->ResidentPages(h, b)) ==
        MemoryTier::DropResult::kMarked) {
      memory_->DropIfCovered(v, h, b, disk_->ResidentPages(h, b));
    }
  }
}

uint64_t BlockCacheImpl::ResidentPrefix(const ObjectVersion& v, uint64_t offset, uint64_t length) {
  if (offset >= v.size || length == 0) return 0;
  uint64_t end = offset + std::min(length, v.size - offset);
  VersionHash h = VersionHash::Of(v);
  const uint64_t page_size = geometry_.page_size;
  const uint32_t ppb = geometry_.pages_per_block;
  uint64_t p = offset / page_size;
  for (; p * page_size < end; ++p) {
    uint64_t block = p / ppb;
    uint32_t in_block = static_cast<uint32_t>(p % ppb);
    if (memory_->Contains(v, h, block, in_block)) continue;
    if (disk_ && disk_->Contains(h, block, in_block)) continue;
    break;
  }
  uint64_t resident_end = std::min(p * page_size, end);
  return resident_end > offset ? resident_end - offset : 0;
}

void BlockCacheImpl::Invalidate(const std::string& store, const std::string& key,
                                const std::string& keep_etag) {
  // Mark first, then drop: see put_tokens.h.
  tokens_.Invalidate(store, key, keep_etag);
  memory_->DropObject(store, key, keep_etag);
  if (disk_) disk_->DropObject(store, key, keep_etag);
}

BlockCacheStats BlockCacheImpl::Stats() const {
  BlockCacheStats s;
  s.memory = memory_->Stats();
  if (disk_) s.disk = disk_->Stats();
  s.fetches = fetches_.load(std::memory_order_relaxed);
  s.fetched_bytes = fetched_bytes_.load(std::memory_order_relaxed);
  s.fills_in_flight = fills_in_flight_.load(std::memory_order_relaxed);
  s.single_flight_waits = single_flight_waits_.load(std::memory_order_relaxed);
  if (write_back_) s.disk_writes_dropped = write_back_->dropped();
  return s;
}

void BlockCacheImpl::WaitForWrites() {
  if (write_back_) write_back_->WaitIdle();
}

}  // namespace strata::cache
