// The write-back's writers: two blocks are written at once, one block never
// twice at once (a job for a block that is being written waits for it, and
// the two writes merge on disk), and every queued block reaches the disk.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <utility>
#include <vector>

#include "cache/block_cache_impl.h"
#include "cache_test_util.h"

namespace strata {
namespace {

using cache_test::Expected;
using cache_test::FakeFetcher;
using cache_test::ReadAll;
using cache_test::TempDir;
using cache_test::Version;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

// POSIX I/O whose block writes wait at a gate the test opens; it counts the
// writes waiting there.
class GatedDiskIo : public cache_test::ForwardingDiskIo {
 public:
  Status WriteNewFile(const std::string& p,
                      const std::vector<std::span<const char>>& parts) override {
    if (std::filesystem::path(p).parent_path().filename() == "tmp") {  // a block file
      std::unique_lock<std::mutex> lock(mu_);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
      --waiting_;
    }
    return ForwardingDiskIo::WriteNewFile(p, parts);
  }

  void SetOpen(bool open) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = open;
    cv_.notify_all();
  }
  // Waits up to `limit` for at least n writes at the gate; returns how many are.
  int WaitForWaiting(int n, std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, limit, [&] { return waiting_ >= n; });
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;  // guarded by mu_
  int waiting_ = 0;   // guarded by mu_
};

// Opens the gate when a test ends, also when a REQUIRE fails: a cache whose
// writers wait at a closed gate would never finish destroying.
struct OpenGateAtEnd {
  GatedDiskIo* io;
  ~OpenGateAtEnd() { io->SetOpen(true); }
};

struct Rig {
  TempDir dir;
  std::shared_ptr<GatedDiskIo> io = std::make_shared<GatedDiskIo>();
  BlockCacheOptions options;
  cache::CacheInternals internals;
  FakeFetcher fetcher;

  Rig() {
    options.block_size = MiB;
    options.page_size = 64 * KiB;
    options.memory_bytes = 32 * MiB;
    options.disk_dir = dir.path();
    options.disk_bytes = 64 * MiB;
    options.disk_free_floor_bytes = 0;
    internals.disk_io = io;
  }
  std::unique_ptr<cache::BlockCacheImpl> Open(FakeFetcher& f) {
    auto c = cache::BlockCacheImpl::Create(options, SystemClock(), f.AsFetcher(), internals);
    REQUIRE(c.ok());
    return std::move(c).value();
  }
  // After `c` is closed: a new cache on the same directory returns `ranges`
  // of v with no fetch, i.e. their blocks reached the disk.
  void CheckOnDisk(std::unique_ptr<cache::BlockCacheImpl> c, const ObjectVersion& v,
                   const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
    c.reset();
    FakeFetcher again;
    auto d = Open(again);
    for (auto [offset, length] : ranges) {
      CHECK(ReadAll(*d, v, offset, length) == Expected(v, offset, length));
    }
    CHECK(again.calls() == 0);
  }
};

TEST_CASE("Two writers write two blocks at once and never three") {
  Rig rig;
  auto c = rig.Open(rig.fetcher);
  OpenGateAtEnd gate{rig.io.get()};  // destroyed before c
  rig.io->SetOpen(false);
  auto v = Version("blocks", 6 * MiB);
  REQUIRE(ReadAll(*c, v, 0, 6 * MiB) == Expected(v, 0, 6 * MiB));
  CHECK(rig.io->WaitForWaiting(2, std::chrono::seconds(10)) == 2);
  // A third writer would show up here.
  CHECK(rig.io->WaitForWaiting(3, std::chrono::milliseconds(200)) == 2);
  rig.io->SetOpen(true);
  c->WaitForWrites();

  rig.CheckOnDisk(std::move(c), v, {{0, 6 * MiB}});
}

TEST_CASE("A block being written is not written again at once and the second write merges") {
  Rig rig;
  auto c = rig.Open(rig.fetcher);
  OpenGateAtEnd gate{rig.io.get()};  // destroyed before c
  rig.io->SetOpen(false);
  auto v = Version("one-block", MiB);
  // The first page of the block: one write job, taken by a writer that waits at the gate.
  REQUIRE(ReadAll(*c, v, 0, 64 * KiB) == Expected(v, 0, 64 * KiB));
  REQUIRE(rig.io->WaitForWaiting(1, std::chrono::seconds(10)) == 1);
  // More pages of the same block: a second job for it, which the idle writer must leave.
  REQUIRE(ReadAll(*c, v, 512 * KiB, 128 * KiB) == Expected(v, 512 * KiB, 128 * KiB));
  CHECK(rig.io->WaitForWaiting(2, std::chrono::milliseconds(300)) == 1);
  rig.io->SetOpen(true);
  c->WaitForWrites();

  rig.CheckOnDisk(std::move(c), v, {{0, 64 * KiB}, {512 * KiB, 128 * KiB}});
}

}  // namespace
}  // namespace strata
