#include "test_support.h"

#include <algorithm>
#include <thread>

namespace strata::testing {

Result<size_t> CountingFetcher::Fetch(const ObjectVersion& v, uint64_t offset,
                                      std::span<char> dst) {
  if (offset > v.size) return Status::InvalidArgument("fetch past the end");
  const uint64_t n = std::min<uint64_t>(dst.size(), v.size - offset);
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({offset, n});
  }
  uint64_t now = in_flight_.fetch_add(n) + n;
  uint64_t peak = peak_in_flight_.load();
  while (now > peak && !peak_in_flight_.compare_exchange_weak(peak, now)) {
  }
  if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
  for (uint64_t i = 0; i < n; ++i) dst[i] = PatternByte(offset + i);
  in_flight_.fetch_sub(n);
  return static_cast<size_t>(n);
}

std::vector<FetchCall> CountingFetcher::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

uint64_t CountingFetcher::fetched_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (const auto& c : calls_) total += c.length;
  return total;
}

TestBlockCache::Object& TestBlockCache::ObjectFor(const ObjectVersion& v) {
  Object& o = objects_[v.store + "\n" + v.key + "\n" + v.etag];
  if (o.pages.empty() && v.size > 0) {
    o.pages.assign((v.size + options_.page_size - 1) / options_.page_size, Page::kAbsent);
  }
  return o;
}

Status TestBlockCache::MakeResident(const ObjectVersion& version, uint64_t offset,
                                    uint64_t length) {
  if (offset >= version.size || length == 0) return Status::Ok();
  const uint64_t ps = options_.page_size;
  const uint64_t first = offset / ps;
  const uint64_t last = (std::min(version.size, offset + length) - 1) / ps;
  // Claim the absent pages, as runs of adjacent pages (one fetch per run).
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // [first page, end page)
  {
    std::lock_guard<std::mutex> lock(mu_);
    Object& o = ObjectFor(version);
    for (uint64_t p = first; p <= last; ++p) {
      if (o.pages[p] != Page::kAbsent) continue;
      o.pages[p] = Page::kFetching;
      if (!runs.empty() && runs.back().second == p) {
        runs.back().second = p + 1;
      } else {
        runs.push_back({p, p + 1});
      }
    }
  }
  Status status;
  for (const auto& [pb, pe] : runs) {
    const uint64_t start = pb * ps;
    const uint64_t end = std::min(version.size, pe * ps);
    std::vector<char> buf(end - start);
    Result<size_t> got = fetcher_(version, start, buf);
    std::lock_guard<std::mutex> lock(mu_);
    Object& o = ObjectFor(version);
    const bool ok = got.ok() && *got == buf.size();
    for (uint64_t p = pb; ok && p < pe; ++p) {
      const uint64_t b = (p - pb) * ps;
      o.data[p].assign(buf.begin() + b, buf.begin() + std::min<uint64_t>(buf.size(), b + ps));
    }
    for (uint64_t p = pb; p < pe; ++p) o.pages[p] = ok ? Page::kPresent : Page::kAbsent;
    ++fetches_;
    fetched_bytes_ += buf.size();
    if (!ok && status.ok()) status = got.ok() ? Status::IoError("short fetch") : got.status();
  }
  cv_.notify_all();
  std::unique_lock<std::mutex> lock(mu_);
  Object& o = ObjectFor(version);
  bool waited = false;
  for (uint64_t p = first; p <= last; ++p) {
    if (o.pages[p] == Page::kFetching) waited = true;
    cv_.wait(lock, [&] { return o.pages[p] != Page::kFetching; });
    if (o.pages[p] != Page::kPresent && status.ok())
      status = Status::IoError("joined fetch failed");
  }
  if (waited) ++waits_;
  return status;
}

Result<size_t> TestBlockCache::Read(const ObjectVersion& version, uint64_t offset,
                                    std::span<char> dst) {
  if (offset >= version.size) return size_t{0};
  const uint64_t n = std::min<uint64_t>(dst.size(), version.size - offset);
  STRATA_RETURN_IF_ERROR(MakeResident(version, offset, n));
  std::lock_guard<std::mutex> lock(mu_);
  Object& o = ObjectFor(version);
  const uint64_t ps = options_.page_size;
  for (uint64_t pos = offset; pos < offset + n;) {
    const std::vector<char>& page = o.data.at(pos / ps);
    const uint64_t in_page = pos % ps;
    const uint64_t take = std::min<uint64_t>(offset + n - pos, page.size() - in_page);
    std::copy_n(page.begin() + in_page, take, dst.begin() + (pos - offset));
    pos += take;
  }
  return static_cast<size_t>(n);
}

Status TestBlockCache::Fill(const ObjectVersion& version, uint64_t offset, uint64_t length) {
  return MakeResident(version, offset, length);
}

uint64_t TestBlockCache::ResidentPrefix(const ObjectVersion& version, uint64_t offset,
                                        uint64_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  Object& o = ObjectFor(version);
  const uint64_t end = std::min(version.size, offset + length);
  uint64_t pos = offset;
  while (pos < end && o.pages[pos / options_.page_size] == Page::kPresent) {
    pos = std::min(end, (pos / options_.page_size + 1) * options_.page_size);
  }
  return pos - offset;
}

void TestBlockCache::Invalidate(const std::string& store, const std::string& key,
                                const std::string& keep_etag) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string prefix = store + "\n" + key + "\n";
  for (auto it = objects_.begin(); it != objects_.end();) {
    bool match = it->first.compare(0, prefix.size(), prefix) == 0 &&
                 it->first.substr(prefix.size()) != keep_etag;
    it = match ? objects_.erase(it) : std::next(it);
  }
}

BlockCacheStats TestBlockCache::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BlockCacheStats s;
  s.fetches = fetches_;
  s.fetched_bytes = fetched_bytes_;
  s.single_flight_waits = waits_;
  return s;
}

}  // namespace strata::testing
