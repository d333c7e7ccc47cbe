// The disk tier through the whole cache: persistence, integrity, crash
// leftovers, the directory lock, write failures and the space limits.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "cache/block_cache_impl.h"
#include "cache_test_util.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using cache::BlockCacheImpl;
using cache_test::Expected;
using cache_test::FakeFetcher;
using cache_test::ReadAll;
using cache_test::TempDir;
using cache_test::Version;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

// Real POSIX I/O with injectable faults.
class FaultyDiskIo : public cache_test::ForwardingDiskIo {
 public:
  Status WriteNewFile(const std::string& p,
                      const std::vector<std::span<const char>>& parts) override {
    if (fail_writes) return Status::NoSpace("injected: no space left on device");
    {
      std::unique_lock<std::mutex> lock(hold_mu_);
      hold_cv_.wait(lock, [this] { return !hold_writes_; });
    }
    return ForwardingDiskIo::WriteNewFile(p, parts);
  }
  Result<uint64_t> FreeBytes(const std::string& d) override {
    if (free_bytes >= 0) return static_cast<uint64_t>(free_bytes.load());
    return ForwardingDiskIo::FreeBytes(d);
  }

  // While held, writes wait (the write-back backlog builds up).
  void HoldWrites(bool hold) {
    {
      std::lock_guard<std::mutex> lock(hold_mu_);
      hold_writes_ = hold;
    }
    hold_cv_.notify_all();
  }

  std::atomic<bool> fail_writes{false};
  std::atomic<int64_t> free_bytes{-1};  // -1: the real figure

 private:
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool hold_writes_ = false;  // guarded by hold_mu_
};

struct Setup {
  BlockCacheOptions options;
  cache::CacheInternals internals;
};

Setup DiskSetup(const std::string& dir, uint64_t disk_bytes = 64 * MiB) {
  Setup s;
  s.options.block_size = MiB;
  s.options.page_size = 64 * KiB;
  s.options.memory_bytes = 4 * MiB;
  s.options.disk_dir = dir;
  s.options.disk_bytes = disk_bytes;
  s.options.disk_free_floor_bytes = 0;
  return s;
}

std::unique_ptr<BlockCacheImpl> Open(const Setup& s, FakeFetcher& f) {
  auto c = BlockCacheImpl::Create(s.options, SystemClock(), f.AsFetcher(), s.internals);
  REQUIRE(c.ok());
  return std::move(c).value();
}

std::vector<fs::path> BlockFiles(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/blocks")) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

TEST_CASE("The disk cache survives closing and reopening: zero fetches") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  auto v = Version("data", 10 * MiB + 5);
  {
    FakeFetcher f;
    auto c = Open(s, f);
    CHECK(ReadAll(*c, v, 0, 10 * MiB + 5) == Expected(v, 0, 10 * MiB + 5));
    // Partial blocks persist too.
    auto w = Version("sparse", 4 * MiB);
    CHECK(ReadAll(*c, w, 2 * MiB + 100, 10) == Expected(w, 2 * MiB + 100, 10));
  }  // the destructor writes the backlog out
  FakeFetcher f;
  auto c = Open(s, f);
  CHECK(c->disk_entries() == 12);
  CHECK(c->ResidentPrefix(v, 0, 20 * MiB) == 10 * MiB + 5);
  CHECK(ReadAll(*c, v, 0, 10 * MiB + 5) == Expected(v, 0, 10 * MiB + 5));
  auto w = Version("sparse", 4 * MiB);
  CHECK(ReadAll(*c, w, 2 * MiB, 64 * KiB) == Expected(w, 2 * MiB, 64 * KiB));
  CHECK(f.calls() == 0);
  auto st = c->Stats();
  CHECK(st.disk.hits == 161 + 1);
  CHECK(st.disk.checksum_failures == 0);
}

TEST_CASE("Pages added to a block on disk are merged into one file") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  s.options.memory_bytes = 0;  // every read goes to the disk tier
  auto v = Version("merge", 2 * MiB);
  FakeFetcher f;
  {
    auto c = Open(s, f);
    CHECK(ReadAll(*c, v, 0, 10) == Expected(v, 0, 10));
    c->WaitForWrites();
    CHECK(ReadAll(*c, v, 512 * KiB, 10) == Expected(v, 512 * KiB, 10));
    c->WaitForWrites();
    CHECK(BlockFiles(dir.path()).size() == 1);
    CHECK(ReadAll(*c, v, 0, 10) == Expected(v, 0, 10));
    CHECK(ReadAll(*c, v, 512 * KiB, 10) == Expected(v, 512 * KiB, 10));
    CHECK(f.calls() == 2);
    CHECK(c->Stats().disk.hits == 2);
  }
}

// Damages the file of block 0 of v with `damage`, reopens, reads: the bytes
// must be right, fetched again, and the failure counted.
void CheckDamageDetected(const std::function<void(const fs::path&)>& damage) {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  auto v = Version("victim", 2 * MiB);
  {
    FakeFetcher f;
    auto c = Open(s, f);
    REQUIRE(c->Fill(v, 0, 2 * MiB).ok());
  }
  auto files = BlockFiles(dir.path());
  REQUIRE(files.size() == 2);
  for (const auto& file : files) {
    if (file.filename().string().find("-0-") != std::string::npos) damage(file);
  }
  FakeFetcher f;
  auto c = Open(s, f);
  CHECK(ReadAll(*c, v, 0, 2 * MiB) == Expected(v, 0, 2 * MiB));
  CHECK(f.calls() == 1);  // block 0 again; block 1 from disk
  CHECK(f.call_log()[0].offset == 0);
  CHECK(f.call_log()[0].length == MiB);
  CHECK(c->Stats().disk.checksum_failures == 1);
  // The re-fetched block is written back and verifies next time.
  c->WaitForWrites();
  c.reset();
  FakeFetcher f2;
  c = Open(s, f2);
  CHECK(ReadAll(*c, v, 0, 2 * MiB) == Expected(v, 0, 2 * MiB));
  CHECK(f2.calls() == 0);
}

TEST_CASE("A flipped byte in a cache file is detected, dropped and re-fetched") {
  CheckDamageDetected([](const fs::path& p) {
    std::fstream file(p, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(4096 + 300 * KiB);
    char c;
    file.read(&c, 1);
    c ^= 0x20;
    file.seekp(4096 + 300 * KiB);
    file.write(&c, 1);
  });
}

TEST_CASE("A truncated cache file is detected, dropped and re-fetched") {
  CheckDamageDetected([](const fs::path& p) { fs::resize_file(p, fs::file_size(p) - 1000); });
}

TEST_CASE("A damaged header is detected") {
  CheckDamageDetected([](const fs::path& p) {
    std::fstream file(p, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20);
    file.write("garbage", 7);
  });
}

TEST_CASE("A cache file renamed to another block does not verify") {
  CheckDamageDetected([](const fs::path& p) {
    // Swap block 0's content for block 1's, under block 0's name.
    for (const auto& e : fs::recursive_directory_iterator(p.parent_path().parent_path())) {
      if (e.path().filename().string().find("-1-") != std::string::npos) {
        fs::copy_file(e.path(), p, fs::copy_options::overwrite_existing);
      }
    }
  });
}

TEST_CASE("Temp files a crash left behind are removed at Open") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  FakeFetcher f;
  { auto c = Open(s, f); }
  std::ofstream(dir.path() + "/tmp/0123.7.tmp") << "half a block";
  std::ofstream(dir.path() + "/blocks/00/not-a-block") << "junk";
  auto c = Open(s, f);
  CHECK(fs::is_empty(dir.path() + "/tmp"));
  CHECK_FALSE(fs::exists(dir.path() + "/blocks/00/not-a-block"));
}

TEST_CASE("A second cache on the same directory fails with a clear error") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  FakeFetcher f;
  auto first = Open(s, f);
  auto second = BlockCache::Open(s.options, SystemClock(), f.AsFetcher());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().message() == "cache directory " + dir.path() +
                                         " is in use by another strata process (pid " +
                                         std::to_string(::getpid()) + ")");
  first.reset();
  CHECK(BlockCache::Open(s.options, SystemClock(), f.AsFetcher()).ok());
}

TEST_CASE("An unusable disk directory fails Open") {
  TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  auto s = DiskSetup(dir.path() + "/file/cache");
  FakeFetcher f;
  CHECK_FALSE(BlockCache::Open(s.options, SystemClock(), f.AsFetcher()).ok());
}

TEST_CASE("Disk write failures: reads still succeed, errors are counted") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  FakeFetcher f;
  auto c = Open(s, f);
  // The temp directory becomes a file: every write fails (ENOTDIR) as on a
  // broken disk, even for root.
  fs::remove_all(dir.path() + "/tmp");
  std::ofstream(dir.path() + "/tmp") << "in the way";
  auto v = Version("data", 3 * MiB);
  CHECK(ReadAll(*c, v, 0, 3 * MiB) == Expected(v, 0, 3 * MiB));
  c->WaitForWrites();
  CHECK(c->Stats().disk.write_errors == 3);
  CHECK(c->disk_entries() == 0);
  CHECK(ReadAll(*c, v, 0, 3 * MiB) == Expected(v, 0, 3 * MiB));  // from memory
}

TEST_CASE("Disk full through the I/O seam: reads succeed, errors counted") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  auto io = std::make_shared<FaultyDiskIo>();
  s.internals.disk_io = io;
  FakeFetcher f;
  auto c = Open(s, f);
  io->fail_writes = true;
  auto v = Version("data", 2 * MiB);
  CHECK(ReadAll(*c, v, 0, 2 * MiB) == Expected(v, 0, 2 * MiB));
  c->WaitForWrites();
  CHECK(c->Stats().disk.write_errors == 2);
  CHECK(c->Stats().disk.used_bytes == 0);
  io->fail_writes = false;
  auto w = Version("later", MiB);
  CHECK(ReadAll(*c, w, 0, MiB) == Expected(w, 0, MiB));
  c->WaitForWrites();
  CHECK(c->disk_entries() == 1);
}

TEST_CASE("Disk usage never exceeds its limit") {
  TempDir dir;
  auto s = DiskSetup(dir.path(), 6 * MiB);
  FakeFetcher f;
  auto c = Open(s, f);
  auto v = Version("big", 40 * MiB);
  for (uint64_t off = 0; off < 40 * MiB; off += MiB) {
    REQUIRE(c->Fill(v, off, MiB).ok());
    c->WaitForWrites();
    auto st = c->Stats().disk;
    CHECK(st.used_bytes <= 6 * MiB);
    uint64_t on_disk = 0;
    for (const auto& p : BlockFiles(dir.path())) on_disk += fs::file_size(p);
    CHECK(on_disk <= 6 * MiB);
  }
  CHECK(c->Stats().disk.evictions > 0);
  CHECK(c->disk_entries() == 5);  // 1 MiB of pages plus a 4 KiB header each
}

TEST_CASE("The free-space floor is kept when other programs fill the disk") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  s.options.disk_free_floor_bytes = 100 * MiB;
  auto io = std::make_shared<FaultyDiskIo>();
  io->free_bytes = 1000 * MiB;
  s.internals.disk_io = io;
  s.internals.floor_check_interval = std::chrono::milliseconds(10);
  FakeFetcher f;
  auto c = Open(s, f);
  auto v = Version("data", 8 * MiB);
  REQUIRE(c->Fill(v, 0, 8 * MiB).ok());
  c->WaitForWrites();
  CHECK(c->disk_entries() == 8);
  // Another program leaves only 97 MiB free: the cache gives back enough to
  // restore the floor (each block returns about 1 MiB to the estimate).
  io->free_bytes = 97 * MiB;
  for (int i = 0; i < 200 && c->disk_entries() > 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(c->disk_entries() == 5);
  // At the floor, a new block is written by evicting older ones.
  io->free_bytes = 100 * MiB;
  auto w = Version("more", MiB);
  CHECK(ReadAll(*c, w, 0, MiB) == Expected(w, 0, MiB));
  c->WaitForWrites();
  CHECK(c->disk_entries() == 5);  // one out, one in
  CHECK(c->ResidentPrefix(w, 0, MiB) == MiB);
  // Far below the floor: everything goes, nothing new is written, reads work.
  io->free_bytes = 10 * MiB;
  auto x = Version("last", MiB);
  CHECK(ReadAll(*c, x, 0, MiB) == Expected(x, 0, MiB));
  c->WaitForWrites();
  CHECK(c->disk_entries() == 0);
  CHECK(c->Stats().disk.write_errors == 1);
}

TEST_CASE("Invalidate removes other versions from disk, also across a reopen") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  auto v1 = Version("k", MiB, "e1");
  auto v2 = Version("k", MiB, "e2");
  {
    FakeFetcher f;
    auto c = Open(s, f);
    REQUIRE(c->Fill(v1, 0, MiB).ok());
    REQUIRE(c->Fill(v2, 0, MiB).ok());
  }
  FakeFetcher f;
  auto c = Open(s, f);
  CHECK(c->disk_entries() == 2);
  c->Invalidate(v1.store, v1.key, "e2");
  CHECK(c->disk_entries() == 1);
  CHECK(c->ResidentPrefix(v1, 0, MiB) == 0);
  CHECK(c->ResidentPrefix(v2, 0, MiB) == MiB);
  CHECK(BlockFiles(dir.path()).size() == 1);
}

TEST_CASE("A write-back racing Invalidate leaves no stale file") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  auto io = std::make_shared<FaultyDiskIo>();
  s.internals.disk_io = io;
  FakeFetcher f;
  auto c = Open(s, f);
  auto v = Version("k", MiB, "old");
  REQUIRE(c->Fill(v, 0, MiB).ok());
  c->Invalidate(v.store, v.key, "new");  // the write may be queued or done
  c->WaitForWrites();
  CHECK(c->disk_entries() == 0);
  CHECK(BlockFiles(dir.path()).empty());
}

TEST_CASE("A cache written with another geometry is discarded, not misread") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  auto v = Version("data", 2 * MiB);
  {
    FakeFetcher f;
    auto c = Open(s, f);
    REQUIRE(c->Fill(v, 0, 2 * MiB).ok());
  }
  s.options.page_size = 128 * KiB;
  FakeFetcher f;
  auto c = Open(s, f);
  CHECK(c->disk_entries() == 0);
  CHECK(ReadAll(*c, v, 0, 2 * MiB) == Expected(v, 0, 2 * MiB));
  CHECK(f.calls() == 1);
}

TEST_CASE("Consumed() drops streamed blocks from memory once their disk copy is written") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  s.options.memory_bytes = 32 * MiB;
  FakeFetcher f;
  auto c = Open(s, f);
  auto v = Version("stream", 8 * MiB + 100);
  REQUIRE(ReadAll(*c, v, 0, 8 * MiB + 100) == Expected(v, 0, 8 * MiB + 100));
  c->WaitForWrites();
  const uint64_t held = c->Stats().memory.used_bytes;
  CHECK(held == 8 * MiB + 100);

  // Only blocks wholly inside the range leave: [0.5 MiB, 6 MiB) covers blocks 1-5.
  c->Consumed(v, MiB / 2, 6 * MiB - MiB / 2);
  auto st = c->Stats();
  CHECK(st.memory.releases == 5);
  CHECK(st.memory.used_bytes == held - 5 * MiB);
  // The short last block is whole when the range reaches the end of the object.
  c->Consumed(v, 8 * MiB, 100);
  CHECK(c->Stats().memory.releases == 6);

  // Nothing is lost: the disk tier serves them, with no fetch.
  const size_t fetches = f.calls();
  CHECK(ReadAll(*c, v, 0, 8 * MiB + 100) == Expected(v, 0, 8 * MiB + 100));
  CHECK(f.calls() == fetches);
  CHECK(c->Stats().disk.hits > 0);
}

TEST_CASE("A block passed before its disk copy is written leaves memory when the write lands") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  s.options.memory_bytes = 32 * MiB;
  auto io = std::make_shared<FaultyDiskIo>();
  s.internals.disk_io = io;
  FakeFetcher f;
  auto c = Open(s, f);
  io->HoldWrites(true);
  auto v = Version("stream", 4 * MiB);
  REQUIRE(ReadAll(*c, v, 0, 4 * MiB) == Expected(v, 0, 4 * MiB));
  c->Consumed(v, 0, 3 * MiB);  // blocks 0-2 passed; block 3 not
  CHECK(c->Stats().memory.releases == 0);
  CHECK(c->Stats().memory.used_bytes == 4 * MiB);

  io->HoldWrites(false);
  c->WaitForWrites();
  CHECK(c->Stats().memory.releases == 3);
  CHECK(c->Stats().memory.used_bytes == MiB);
  const size_t fetches = f.calls();
  CHECK(ReadAll(*c, v, 0, 4 * MiB) == Expected(v, 0, 4 * MiB));
  CHECK(f.calls() == fetches);
}

TEST_CASE(
    "Consumed() keeps a block whose disk copy is never written, and keeps all without a "
    "disk tier") {
  TempDir dir;
  auto s = DiskSetup(dir.path());
  s.options.memory_bytes = 32 * MiB;
  auto io = std::make_shared<FaultyDiskIo>();
  s.internals.disk_io = io;
  FakeFetcher f;
  auto c = Open(s, f);
  io->fail_writes = true;  // nothing reaches the disk
  auto v = Version("stream", 4 * MiB);
  REQUIRE(ReadAll(*c, v, 0, 4 * MiB) == Expected(v, 0, 4 * MiB));
  c->WaitForWrites();
  c->Consumed(v, 0, 4 * MiB);
  CHECK(c->Stats().memory.releases == 0);
  CHECK(c->Stats().memory.used_bytes == 4 * MiB);

  BlockCacheOptions mem_only = s.options;
  mem_only.disk_dir.clear();
  FakeFetcher g;
  auto m = BlockCacheImpl::Create(mem_only, SystemClock(), g.AsFetcher());
  REQUIRE(m.ok());
  REQUIRE(ReadAll(**m, v, 0, 4 * MiB) == Expected(v, 0, 4 * MiB));
  (*m)->Consumed(v, 0, 4 * MiB);
  CHECK((*m)->Stats().memory.releases == 0);
  CHECK((*m)->Stats().memory.used_bytes == 4 * MiB);
}

}  // namespace
}  // namespace strata
