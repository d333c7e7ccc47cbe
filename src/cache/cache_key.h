// Identity of cached bytes: object version hashes, block ids, page buffers and
// page checksums, shared by the memory tier, the disk tier and the fill path.
//
// Thread safety: values; PageData is immutable once published.
#pragma once

// The state struct lets a hash be built on the stack, without allocating.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/page_arena.h"
#include "strata/object_store.h"

namespace strata::cache {

// One page of object bytes: written once by its creator, then published as
// PageData and never changed; shared between tiers, fills and write-back.
// Uninitialised on allocation: every byte is overwritten before publication.
// A full page's buffer is a slot of the cache's PageArena (recycled, already
// mapped). A short page (the tail of an object: most of a small file) comes
// from the heap, so that what the tiers count (size()) is what it occupies: a
// 4 KiB file must not pin a 64 KiB slot.
class Page {
 public:
  explicit Page(size_t size) : Page(nullptr, size) {}
  Page(std::shared_ptr<PageArena> arena, size_t size) : size_(size) {
    if (arena && size == arena->slot_bytes()) {
      data_ = arena->Allocate();
      arena_ = std::move(arena);
    } else {
      data_ = new char[size];
    }
  }
  ~Page() {
    if (arena_) {
      arena_->Free(data_);
    } else {
      delete[] data_;
    }
  }
  Page(const Page&) = delete;
  Page& operator=(const Page&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::shared_ptr<PageArena> arena_;
  char* data_ = nullptr;
  size_t size_;
};
using PageData = std::shared_ptr<const Page>;

// Hashes of one object version, computed once per cache call; no allocation.
struct VersionHash {
  uint64_t object = 0;   // of (store, key): every version of one object
  uint64_t version = 0;  // of (store, key, etag)

  static VersionHash Of(const std::string& store, const std::string& key, const std::string& etag) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, store.data(), store.size());
    XXH3_64bits_update(&st, "\0", 1);
    XXH3_64bits_update(&st, key.data(), key.size());
    VersionHash h;
    h.object = XXH3_64bits_digest(&st);
    XXH3_64bits_update(&st, "\0", 1);
    XXH3_64bits_update(&st, etag.data(), etag.size());
    h.version = XXH3_64bits_digest(&st);
    return h;
  }
  static VersionHash Of(const ObjectVersion& v) { return Of(v.store, v.key, v.etag); }
};

// The id of one block of one version: unique in practice (64-bit hash); every
// tier still checks the full identity before it serves bytes.
inline uint64_t BlockId(uint64_t version_hash, uint64_t block) {
  return XXH3_64bits_withSeed(&block, sizeof(block), version_hash);
}

// The checksum of one page, bound to (store, key, etag) through the version
// hash and to the page's offset in the object: a page stored under the wrong
// key or offset does not verify.
inline uint64_t PageChecksum(uint64_t version_hash, uint64_t offset, const char* data, size_t len) {
  uint64_t seed = XXH3_64bits_withSeed(&offset, sizeof(offset), version_hash);
  return XXH3_64bits_withSeed(data, len, seed);
}

// A shared, immutable copy of a version's identity, kept by cache entries.
struct VersionKey {
  std::string store;
  std::string key;
  std::string etag;
  VersionHash hash;

  bool Is(const ObjectVersion& v) const {
    return etag == v.etag && key == v.key && store == v.store;
  }
  static std::shared_ptr<const VersionKey> From(const ObjectVersion& v, VersionHash h) {
    return std::make_shared<const VersionKey>(VersionKey{v.store, v.key, v.etag, h});
  }
};

// The page layout of one cache: derived from the options, never changes.
struct Geometry {
  uint64_t block_size = 0;
  uint64_t page_size = 0;
  uint32_t pages_per_block = 0;

  // Length of page `page` (index in the object) of an object of `size` bytes.
  uint64_t PageLength(uint64_t page, uint64_t size) const {
    uint64_t start = page * page_size;
    if (start >= size) return 0;
    return std::min(page_size, size - start);
  }
};

}  // namespace strata::cache

namespace strata::cache {

// Which pages of a block are present, for up to kMaxPages pages per block.
// Inline storage: the disk index holds one per cached block, and start-up
// builds 100,000s of them.
class PageMask {
 public:
  static constexpr uint32_t kMaxPages = 512;

  PageMask() = default;
  explicit PageMask(uint32_t pages) : pages_(pages), nwords_((pages + 63) / 64) {}

  uint32_t size() const { return pages_; }
  bool Test(uint32_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  void Set(uint32_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  uint32_t Count() const {
    uint32_t n = 0;
    for (uint32_t w = 0; w < nwords_; ++w) n += __builtin_popcountll(words_[w]);
    return n;
  }
  bool Empty() const { return Count() == 0; }
  // Number of set pages below page i: a page's slot in a compact file.
  uint32_t Rank(uint32_t i) const {
    uint32_t n = 0;
    for (uint32_t w = 0; w < i / 64; ++w) n += __builtin_popcountll(words_[w]);
    if (i % 64) n += __builtin_popcountll(words_[i / 64] & ((uint64_t{1} << (i % 64)) - 1));
    return n;
  }
  void Or(const PageMask& o) {
    for (uint32_t w = 0; w < nwords_; ++w) words_[w] |= o.words_[w];
  }
  bool Contains(const PageMask& o) const {
    for (uint32_t w = 0; w < nwords_; ++w) {
      if ((o.words_[w] & ~words_[w]) != 0) return false;
    }
    return true;
  }
  bool operator==(const PageMask&) const = default;

  // Lower-case hex, most significant page first, of fixed width for a given
  // page count, so that a file name parses back without ambiguity.
  std::string ToHex() const {
    static const char kDigits[] = "0123456789abcdef";
    std::string s;
    for (uint32_t w = nwords_; w-- > 0;) {
      uint32_t nibbles = (w + 1 == nwords_ && pages_ % 64) ? (pages_ % 64 + 3) / 4 : 16;
      for (uint32_t k = nibbles; k-- > 0;) s.push_back(kDigits[(words_[w] >> (4 * k)) & 15]);
    }
    return s;
  }
  // Parses ToHex() output for a block of `pages` pages; false if malformed.
  static bool FromHex(std::string_view hex, uint32_t pages, PageMask* out) {
    if (pages == 0 || pages > kMaxPages) return false;
    PageMask m(pages);
    size_t width = (pages / 64) * 16 + (pages % 64 + 3) / 4;
    if (hex.size() != width) return false;
    uint32_t bit = 0;
    for (size_t k = hex.size(); k-- > 0; bit += 4) {
      char c = hex[k];
      uint64_t v;
      if (c >= '0' && c <= '9')
        v = c - '0';
      else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
      else
        return false;
      for (uint32_t b = 0; b < 4; ++b) {
        if (!((v >> b) & 1)) continue;
        if (bit + b >= pages) return false;
        m.Set(bit + b);
      }
    }
    *out = m;
    return true;
  }

 private:
  uint32_t pages_ = 0;
  uint32_t nwords_ = 0;
  std::array<uint64_t, kMaxPages / 64> words_{};
};

}  // namespace strata::cache
