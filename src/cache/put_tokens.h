// PutTokens: keeps a fill that races Invalidate() from re-inserting stale
// bytes (cf. CacheLib allocator/nvmcache/InFlightPuts.h and TombStones.h).
//
// Every operation that will insert bytes of a version into a tier (a fetch,
// a promotion from disk, a write-back job) takes a token before it reads the
// bytes. Invalidate() first marks the tokens of the dropped versions invalid,
// then drops their entries from the tiers. A tier inserts only while holding
// its own lock and only if the token is still valid, so an insert either
// happens before the drop (and is dropped) or sees the mark (and is skipped).
//
// Ownership: the registry is owned by the cache; a token is shared by the
// operation and the jobs it spawns, and unregisters itself when the last
// holder lets go. Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cache/cache_key.h"

namespace strata::cache {

class PutTokens;

class PutToken {
 public:
  PutToken(PutTokens* registry, std::shared_ptr<const VersionKey> version)
      : registry_(registry), version_(std::move(version)) {}
  ~PutToken();
  PutToken(const PutToken&) = delete;
  PutToken& operator=(const PutToken&) = delete;

  bool valid() const { return valid_.load(std::memory_order_acquire); }
  const std::shared_ptr<const VersionKey>& version() const { return version_; }

 private:
  friend class PutTokens;
  PutTokens* const registry_;
  const std::shared_ptr<const VersionKey> version_;
  std::atomic<bool> valid_{true};
};

class PutTokens {
 public:
  // Registers an insert-to-be of `version`.
  std::shared_ptr<PutToken> Begin(std::shared_ptr<const VersionKey> version);

  // Marks invalid every live token of (store, key) whose etag is not
  // `keep_etag` (empty: every etag).
  void Invalidate(const std::string& store, const std::string& key, const std::string& keep_etag);

  size_t live() const;

 private:
  friend class PutToken;
  void End(PutToken* token);

  mutable std::mutex mu_;
  std::unordered_multimap<uint64_t, PutToken*> live_;  // by object hash; guarded by mu_
};

}  // namespace strata::cache
