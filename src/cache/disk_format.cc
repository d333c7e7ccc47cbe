#include "cache/disk_format.h"

#include <charconv>
#include <cstring>

namespace strata::cache {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'B', 'L', 'K', '1', '\n'};
constexpr size_t kFixed = 56;  // bytes before the strings

template <typename T>
void Put(std::string* s, T v) {
  s->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

bool ParseHex64(std::string_view s, uint64_t* v) {
  if (s.size() != 16) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v, 16);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint32_t MaskWords(uint32_t pages) { return (pages + 63) / 64; }

}  // namespace

std::string BlockFileName::ToString() const {
  return Hex64(object) + "-" + Hex64(version) + "-" + std::to_string(block) + "-" + mask.ToHex() +
         ".blk";
}

std::optional<BlockFileName> BlockFileName::Parse(std::string_view name, uint32_t pages_per_block) {
  constexpr std::string_view kExt = ".blk";
  if (name.size() < 16 + 1 + 16 + 1 + 1 + 1 + kExt.size() || !name.ends_with(kExt)) {
    return std::nullopt;
  }
  name.remove_suffix(kExt.size());
  BlockFileName f;
  if (!ParseHex64(name.substr(0, 16), &f.object) || name[16] != '-' ||
      !ParseHex64(name.substr(17, 16), &f.version) || name[33] != '-') {
    return std::nullopt;
  }
  std::string_view rest = name.substr(34);
  size_t dash = rest.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + dash, f.block);
  if (ec != std::errc() || p != rest.data() + dash) return std::nullopt;
  if (!PageMask::FromHex(rest.substr(dash + 1), pages_per_block, &f.mask) || f.mask.Empty()) {
    return std::nullopt;
  }
  return f;
}

uint64_t BlockHeader::DataStart() const {
  uint64_t len = kFixed + store.size() + key.size() + etag.size() +
                 8ull * MaskWords(pages_per_block) + 8ull * checksums.size() + 8;
  return (len + kDataAlign - 1) / kDataAlign * kDataAlign;
}

std::string BlockHeader::Encode() const {
  std::string s(kMagic, sizeof(kMagic));
  uint32_t header_len =
      static_cast<uint32_t>(kFixed + store.size() + key.size() + etag.size() +
                            8ull * MaskWords(pages_per_block) + 8ull * checksums.size() + 8);
  Put<uint32_t>(&s, header_len);
  Put<uint32_t>(&s, page_size);
  Put<uint64_t>(&s, block_size);
  Put<uint64_t>(&s, block);
  Put<uint64_t>(&s, object_size);
  Put<uint32_t>(&s, static_cast<uint32_t>(store.size()));
  Put<uint32_t>(&s, static_cast<uint32_t>(key.size()));
  Put<uint32_t>(&s, static_cast<uint32_t>(etag.size()));
  Put<uint32_t>(&s, pages_per_block);
  s += store;
  s += key;
  s += etag;
  for (uint32_t w = 0; w < MaskWords(pages_per_block); ++w) {
    uint64_t word = 0;
    for (uint32_t b = 0; b < 64 && w * 64 + b < pages_per_block; ++b) {
      if (mask.Test(w * 64 + b)) word |= uint64_t{1} << b;
    }
    Put<uint64_t>(&s, word);
  }
  for (uint64_t c : checksums) Put<uint64_t>(&s, c);
  Put<uint64_t>(&s, XXH3_64bits(s.data(), s.size()));
  s.resize(DataStart(), '\0');
  return s;
}

Result<BlockHeader> BlockHeader::Decode(std::span<const char> b, size_t* need) {
  if (b.size() < kFixed) {
    *need = kDataAlign;
    return Status::NotFound("short header");
  }
  if (std::memcmp(b.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("bad block file magic");
  }
  const char* p = b.data();
  uint32_t header_len = Get<uint32_t>(p + 8);
  if (header_len < kFixed + 8 || header_len > (64u << 20)) {
    return Status::Corruption("bad block header length");
  }
  if (b.size() < header_len) {
    *need = header_len;
    return Status::NotFound("short header");
  }
  if (XXH3_64bits(p, header_len - 8) != Get<uint64_t>(p + header_len - 8)) {
    return Status::Corruption("block header checksum mismatch");
  }
  BlockHeader h;
  h.page_size = Get<uint32_t>(p + 12);
  h.block_size = Get<uint64_t>(p + 16);
  h.block = Get<uint64_t>(p + 24);
  h.object_size = Get<uint64_t>(p + 32);
  uint64_t store_len = Get<uint32_t>(p + 40), key_len = Get<uint32_t>(p + 44),
           etag_len = Get<uint32_t>(p + 48);
  h.pages_per_block = Get<uint32_t>(p + 52);
  uint64_t words = MaskWords(h.pages_per_block);
  uint64_t fixed_end = kFixed + store_len + key_len + etag_len + 8 * words;
  if (fixed_end + 8 > header_len || h.pages_per_block == 0) {
    return Status::Corruption("inconsistent block header");
  }
  const char* s = p + kFixed;
  h.store.assign(s, store_len);
  h.key.assign(s + store_len, key_len);
  h.etag.assign(s + store_len + key_len, etag_len);
  h.mask = PageMask(h.pages_per_block);
  const char* m = p + kFixed + store_len + key_len + etag_len;
  for (uint32_t w = 0; w < words; ++w) {
    uint64_t word = Get<uint64_t>(m + 8 * w);
    for (uint32_t bit = 0; bit < 64; ++bit) {
      if (!((word >> bit) & 1)) continue;
      if (w * 64 + bit >= h.pages_per_block) return Status::Corruption("bad page mask");
      h.mask.Set(w * 64 + bit);
    }
  }
  uint32_t present = h.mask.Count();
  if (fixed_end + 8ull * present + 8 != header_len) {
    return Status::Corruption("inconsistent block header");
  }
  h.checksums.resize(present);
  std::memcpy(h.checksums.data(), p + fixed_end, 8ull * present);
  return h;
}

}  // namespace strata::cache
