#include "cache/put_tokens.h"

namespace strata::cache {

PutToken::~PutToken() { registry_->End(this); }

std::shared_ptr<PutToken> PutTokens::Begin(std::shared_ptr<const VersionKey> version) {
  auto token = std::make_shared<PutToken>(this, std::move(version));
  std::lock_guard<std::mutex> lock(mu_);
  live_.emplace(token->version()->hash.object, token.get());
  return token;
}

void PutTokens::Invalidate(const std::string& store, const std::string& key,
                           const std::string& keep_etag) {
  uint64_t object = VersionHash::Of(store, key, "").object;
  std::lock_guard<std::mutex> lock(mu_);
  auto [first, last] = live_.equal_range(object);
  for (auto it = first; it != last; ++it) {
    const VersionKey& v = *it->second->version();
    if (v.store != store || v.key != key) continue;  // another object, same hash
    if (!keep_etag.empty() && v.etag == keep_etag) continue;
    it->second->valid_.store(false, std::memory_order_release);
  }
}

void PutTokens::End(PutToken* token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [first, last] = live_.equal_range(token->version()->hash.object);
  for (auto it = first; it != last; ++it) {
    if (it->second == token) {
      live_.erase(it);
      return;
    }
  }
}

size_t PutTokens::live() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

}  // namespace strata::cache
