// ObjectStore: the one interface strata reads remote data through.
//
// A store is one bucket (or container, or directory) of one backend. Keys are
// full object keys, unencoded UTF-8; the backend encodes them. Prefix mapping
// (mounting s3://bucket/prefix) is the namespace's job, not the store's.
//
// Ownership: created by the CLI/mount context, shared (shared_ptr) by the
// namespace, the block cache's fetcher and the prefetcher.
// Thread safety: every method may be called from many threads at once; a
// backend must allow many requests in flight.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "strata/status.h"

namespace strata {

// What the store says about one object.
struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;       // without quotes
  int64_t mtime_sec = 0;  // Last-Modified, seconds since the epoch
};

// One immutable version of an object: the unit every cached byte belongs to.
// `store` names the store (for example "s3://bucket" at an endpoint) so that
// two stores with equal keys never share cache entries.
struct ObjectVersion {
  std::string store;
  std::string key;
  std::string etag;
  uint64_t size = 0;

  bool operator==(const ObjectVersion&) const = default;
};

struct ListRequest {
  std::string prefix;
  std::string delimiter = "/";     // empty: a flat recursive listing
  std::string continuation_token;  // empty: the first page
  int max_keys = 1000;
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;  // full prefixes, ending in the delimiter
  std::string next_continuation_token;       // empty when this is the last page
};

// A scatter read done by a contiguous one: `get(buffer)` fills one staging
// buffer as long as all of `dsts` (returning bytes written), which is then
// copied into `dsts` in order. For stores and fetchers that cannot scatter.
template <typename Get>
Result<size_t> ScatterThroughBuffer(std::span<const std::span<char>> dsts, Get&& get) {
  size_t length = 0;
  for (auto d : dsts) length += d.size();
  std::vector<char> buffer(length);
  Result<size_t> got = get(std::span<char>(buffer));
  if (!got.ok()) return got;
  size_t at = 0;
  for (auto d : dsts) {
    if (at >= *got) break;
    const size_t k = std::min(d.size(), *got - at);
    std::copy_n(buffer.data() + at, k, d.data());
    at += k;
  }
  return got;
}

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // A stable name of this store for cache keys and messages, e.g.
  // "s3://bucket@http://127.0.0.1:4568".
  virtual std::string Id() const = 0;

  // Metadata of one object. NotFound when there is no such key.
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;

  // Reads bytes [offset, offset + dst.size()) of the object version `etag`
  // into dst and returns how many bytes were written: fewer than dst.size()
  // only at the end of the object. If `etag` is non-empty, the request is
  // conditional (If-Match) and the backend also checks the ETag of the
  // response: a different object version gives Stale, never mixed bytes.
  virtual Result<size_t> GetRange(const std::string& key, const std::string& etag, uint64_t offset,
                                  std::span<char> dst) = 0;

  // GetRange into consecutive buffers, filled in order as if they were one (a
  // scatter read), so a cache can fetch straight into its page buffers. This
  // default goes through one temporary buffer; stores that can do better
  // (S3: libcurl writes each chunk where it belongs) override it.
  virtual Result<size_t> GetRangeInto(const std::string& key, const std::string& etag,
                                      uint64_t offset, std::span<const std::span<char>> dsts) {
    return ScatterThroughBuffer(
        dsts, [&](std::span<char> buffer) { return GetRange(key, etag, offset, buffer); });
  }

  // One page of a listing.
  virtual Result<ListPage> List(const ListRequest& request) = 0;

  // Cheap check, run once at mount time, that the store exists and that the
  // credentials work (S3: a one-key listing). Its Status is what the user sees.
  virtual Status CheckAccess(const std::string& prefix) = 0;
};

}  // namespace strata
