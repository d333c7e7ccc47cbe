// The ReaderFactory without a cache: every read is one ranged GET of exactly
// the bytes asked for, conditional on the ETag captured at open.
#include <memory>

#include "strata/reader.h"

namespace strata {
namespace {

class DirectReader : public FileReader {
 public:
  DirectReader(std::shared_ptr<ObjectStore> store, ObjectVersion version)
      : store_(std::move(store)), version_(std::move(version)) {}

  Result<size_t> Read(uint64_t offset, std::span<char> dst) override {
    if (offset >= version_.size) return size_t{0};
    if (dst.size() > version_.size - offset) dst = dst.first(version_.size - offset);
    size_t done = 0;
    // A store may return fewer bytes than asked before the end (a short
    // body after retries); keep asking until the range is full or it stops.
    while (done < dst.size()) {
      Result<size_t> n =
          store_->GetRange(version_.key, version_.etag, offset + done, dst.subspan(done));
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      done += *n;
    }
    return done;
  }

 private:
  std::shared_ptr<ObjectStore> store_;
  const ObjectVersion version_;
};

class DirectReaderFactory : public ReaderFactory {
 public:
  explicit DirectReaderFactory(std::shared_ptr<ObjectStore> store) : store_(std::move(store)) {}
  std::unique_ptr<FileReader> Open(uint64_t inode, const ObjectVersion& version) override {
    return std::make_unique<DirectReader>(store_, version);
  }

 private:
  std::shared_ptr<ObjectStore> store_;
};

}  // namespace

std::unique_ptr<ReaderFactory> MakeDirectReaderFactory(std::shared_ptr<ObjectStore> store) {
  return std::make_unique<DirectReaderFactory>(std::move(store));
}

}  // namespace strata
