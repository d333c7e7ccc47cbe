#include "cache/disk_format.h"

#include <catch2/catch.hpp>

namespace strata::cache {
namespace {

TEST_CASE("Page masks round-trip through hex for any page count") {
  for (uint32_t pages : {1u, 4u, 16u, 63u, 64u, 65u, 256u, 512u}) {
    PageMask m(pages);
    for (uint32_t p = 0; p < pages; p += 3) m.Set(p);
    m.Set(pages - 1);
    PageMask back;
    REQUIRE(PageMask::FromHex(m.ToHex(), pages, &back));
    CHECK(back == m);
    CHECK(back.Count() == m.Count());
    CHECK(m.Rank(pages - 1) == m.Count() - 1);
  }
  PageMask m;
  CHECK_FALSE(PageMask::FromHex("1g", 8, &m));
  CHECK_FALSE(PageMask::FromHex("100", 8, &m));  // wrong width
  CHECK_FALSE(PageMask::FromHex("f", 3, &m));    // a page beyond the block
}

TEST_CASE("Block file names round-trip and reject strangers") {
  BlockFileName n{0x0123456789abcdefull, 0xfedcba9876543210ull, 42, PageMask(16)};
  n.mask.Set(0);
  n.mask.Set(15);
  auto parsed = BlockFileName::Parse(n.ToString(), 16);
  REQUIRE(parsed.has_value());
  CHECK(parsed->object == n.object);
  CHECK(parsed->version == n.version);
  CHECK(parsed->block == 42);
  CHECK(parsed->mask == n.mask);
  CHECK_FALSE(BlockFileName::Parse(n.ToString(), 32).has_value());  // other geometry
  CHECK_FALSE(BlockFileName::Parse("LOCK", 16).has_value());
  CHECK_FALSE(BlockFileName::Parse(n.ToString() + ".tmp", 16).has_value());
}

TEST_CASE("Block headers round-trip and detect damage") {
  BlockHeader h;
  h.store = "s3://bucket";
  h.key = "dir/file.bin";
  h.etag = "abc";
  h.block_size = 1 << 20;
  h.page_size = 64 << 10;
  h.pages_per_block = 16;
  h.block = 7;
  h.object_size = 123456789;
  h.mask = PageMask(16);
  h.mask.Set(2);
  h.mask.Set(3);
  h.checksums = {11, 22};
  std::string bytes = h.Encode();
  CHECK(bytes.size() == h.DataStart());
  CHECK(bytes.size() % kDataAlign == 0);
  size_t need = 0;
  auto back = BlockHeader::Decode(bytes, &need);
  REQUIRE(back.ok());
  CHECK(back->key == h.key);
  CHECK(back->etag == h.etag);
  CHECK(back->checksums == h.checksums);
  CHECK(back->mask == h.mask);
  CHECK(back->object_size == h.object_size);

  std::string flipped = bytes;
  flipped[60] ^= 1;
  CHECK(BlockHeader::Decode(flipped, &need).status().code() == Code::kCorruption);
  CHECK(BlockHeader::Decode(std::string_view(bytes).substr(0, 80), &need).status().code() ==
        Code::kNotFound);
  CHECK(need > 80);
}

}  // namespace
}  // namespace strata::cache
