// ReadBuffers: the bytes of a read handed over by reference instead of
// copied. A cache hit is answered with spans into the cache's own immutable
// page buffers, and the fuse adaptor writes them to /dev/fuse with one writev:
// the bytes are never copied in user space.
//
// Ownership: `pins` share ownership of the memory the pieces point into; the
// bytes stay valid and unchanged for as long as the ReadBuffers (or a copy of
// its pins) lives, whatever the cache evicts or drops meanwhile.
// Thread safety: a value; the bytes are immutable, so copies may be read from
// any thread.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace strata {

struct ReadBuffers {
  std::vector<std::span<const char>> pieces;      // the bytes, in order
  std::vector<std::shared_ptr<const void>> pins;  // keep the pieces' memory alive

  size_t size() const {
    size_t n = 0;
    for (auto piece : pieces) n += piece.size();
    return n;
  }

  // Appends `piece`, kept alive by `pin`. A piece that continues the last one
  // in memory (neighbouring arena slots) extends it: fewer iovec entries.
  void Append(std::span<const char> piece, std::shared_ptr<const void> pin) {
    if (piece.empty()) return;
    if (!pieces.empty() && pieces.back().data() + pieces.back().size() == piece.data()) {
      pieces.back() =
          std::span<const char>(pieces.back().data(), pieces.back().size() + piece.size());
    } else {
      pieces.push_back(piece);
    }
    pins.push_back(std::move(pin));
  }

  // Copies the bytes into dst, which holds at least size() bytes; returns size().
  size_t CopyTo(std::span<char> dst) const {
    size_t done = 0;
    for (auto piece : pieces) {
      std::memcpy(dst.data() + done, piece.data(), piece.size());
      done += piece.size();
    }
    return done;
  }
};

}  // namespace strata
