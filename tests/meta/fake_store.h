// FakeStore: an in-memory ObjectStore for unit tests of meta and vfs.
//
// Implements S3's ListObjectsV2 semantics (delimiter, common prefixes,
// pagination by max_keys) over a sorted map, counts every request, and can
// emulate s3rver's delimiter bug (prefixes holding only deeper prefixes are
// dropped from delimiter listings). Thread-safe.
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "strata/object_store.h"

namespace strata::testing {

class FakeStore : public ObjectStore {
 public:
  struct Object {
    std::string data;
    std::string etag;
    int64_t mtime_sec = 0;
  };

  void Put(const std::string& key, const std::string& data, int64_t mtime_sec = 1700000000) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[key] = {data, "etag-" + std::to_string(++version_), mtime_sec};
  }
  void Remove(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(key);
  }
  void set_drop_deep_prefixes(bool v) {
    std::lock_guard<std::mutex> lock(mu_);
    drop_deep_prefixes_ = v;
  }
  int heads() const {
    std::lock_guard<std::mutex> l(mu_);
    return heads_;
  }
  int lists() const {
    std::lock_guard<std::mutex> l(mu_);
    return lists_;
  }
  int gets() const {
    std::lock_guard<std::mutex> l(mu_);
    return gets_;
  }

  std::string Id() const override { return "fake://bucket"; }

  Result<ObjectInfo> Head(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++heads_;
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status::NotFound("no such key '" + key + "'");
    return ObjectInfo{key, it->second.data.size(), it->second.etag, it->second.mtime_sec};
  }

  Result<size_t> GetRange(const std::string& key, const std::string& etag, uint64_t offset,
                          std::span<char> dst) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++gets_;
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status::NotFound("no such key '" + key + "'");
    if (!etag.empty() && etag != it->second.etag) return Status::Stale("etag changed");
    const std::string& d = it->second.data;
    if (offset >= d.size()) return size_t{0};
    size_t n = std::min<size_t>(dst.size(), d.size() - offset);
    std::memcpy(dst.data(), d.data() + offset, n);
    return n;
  }

  Result<ListPage> List(const ListRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++lists_;
    struct Item {
      std::string name;
      bool is_prefix;
    };
    std::vector<Item> items;
    for (const auto& [key, obj] : objects_) {
      if (key.compare(0, req.prefix.size(), req.prefix) != 0) continue;
      std::string rest = key.substr(req.prefix.size());
      size_t d = req.delimiter.empty() ? std::string::npos : rest.find(req.delimiter);
      if (d == std::string::npos) {
        items.push_back({key, false});
        continue;
      }
      std::string cp = req.prefix + rest.substr(0, d + req.delimiter.size());
      if (drop_deep_prefixes_) {
        // s3rver: a prefix is recorded only if an object sits directly in it.
        bool direct = false;
        for (const auto& [k2, o2] : objects_) {
          if (k2.compare(0, cp.size(), cp) == 0 && k2.find('/', cp.size()) == std::string::npos) {
            direct = true;
          }
        }
        if (!direct) continue;
      }
      if (items.empty() || items.back().name != cp) items.push_back({cp, true});
    }
    size_t start = req.continuation_token.empty() ? 0 : std::stoul(req.continuation_token);
    ListPage page;
    size_t i = start;
    for (; i < items.size() && i < start + static_cast<size_t>(req.max_keys); ++i) {
      if (items[i].is_prefix) {
        page.common_prefixes.push_back(items[i].name);
      } else {
        const Object& o = objects_.at(items[i].name);
        page.objects.push_back({items[i].name, o.data.size(), o.etag, o.mtime_sec});
      }
    }
    if (i < items.size()) page.next_continuation_token = std::to_string(i);
    return page;
  }

  Status CheckAccess(const std::string& prefix) override { return Status::Ok(); }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Object> objects_;
  int version_ = 0;
  bool drop_deep_prefixes_ = false;
  int heads_ = 0;
  int lists_ = 0;
  int gets_ = 0;
};

}  // namespace strata::testing
