// The on-disk format of the disk tier: one file per cached block.
//
//   <dir>/blocks/<xx>/<object:16x>-<version:16x>-<block>-<pages:hex>.blk
//
// xx is the low byte of the block id (256 directories keep each small). The
// name alone is enough to rebuild the index at start-up (which object and
// version, which block, which pages), so Open() lists directories and reads
// no file. The file holds a header, then the present pages back to back in
// page order from a 4 KiB-aligned data offset:
//
//   magic "STRBLK1\n" | u32 header_len | u32 page_size | u64 block_size |
//   u64 block | u64 object_size | u32 store_len | u32 key_len |
//   u32 etag_len | u32 pages_per_block | store | key | etag |
//   page mask words (u64 each) | page checksums (u64 per present page) |
//   u64 XXH3 of everything before it
//
// Each page checksum is PageChecksum(version hash, page offset in the object,
// bytes): bound to store, key, etag and offset. Files are written under
// <dir>/tmp and renamed into place, so a crash leaves either no file or a
// complete one; a torn or bit-flipped file fails its checksums.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_key.h"
#include "strata/status.h"

namespace strata::cache {

inline constexpr uint64_t kDataAlign = 4096;

struct BlockFileName {
  uint64_t object = 0;
  uint64_t version = 0;
  uint64_t block = 0;
  PageMask mask;

  std::string ToString() const;
  // Parses a file name (not a path); nullopt if it is not a block file of a
  // cache with `pages_per_block` pages per block.
  static std::optional<BlockFileName> Parse(std::string_view name, uint32_t pages_per_block);
};

struct BlockHeader {
  std::string store, key, etag;
  uint64_t block_size = 0;
  uint32_t page_size = 0;
  uint32_t pages_per_block = 0;
  uint64_t block = 0;
  uint64_t object_size = 0;
  PageMask mask;
  std::vector<uint64_t> checksums;  // one per present page, in page order

  // Offset of the first page in the file.
  uint64_t DataStart() const;
  // The header bytes, padded with zeros to DataStart().
  std::string Encode() const;
  // Decodes a header from the first bytes of a file. Corruption if it is not
  // a valid header; if `bytes` is too short, sets *need to the length needed
  // and returns NotFound.
  static Result<BlockHeader> Decode(std::span<const char> bytes, size_t* need);
};

}  // namespace strata::cache
