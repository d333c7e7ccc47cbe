// The POSIX DiskIo's writes: O_DIRECT where the parts allow it, buffered for
// the rest, the same bytes either way; and block files written both ways read
// back identical through the disk tier.
#include "cache/disk_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "cache/block_cache_impl.h"
#include "cache/page_arena.h"
#include "cache_test_util.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using cache::DiskWrites;
using cache::PageArena;
using cache::PosixDiskIo;
using cache_test::Expected;
using cache_test::FakeFetcher;
using cache_test::ReadAll;
using cache_test::TempDir;
using cache_test::Version;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr size_t k4K = 4096;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<bool> InPageCache(const std::string& path);

// Whether the file system under `dir` writes O_DIRECT past the page cache:
// where it does not (it refuses O_DIRECT or 4 KiB-aligned direct writes, or,
// like tmpfs, takes them into the page cache), the writes fall back or stay
// cached and the page-cache checks below do not apply.
bool TakesDirect(const std::string& dir) {
  std::string probe = dir + "/direct-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0644);
  if (fd < 0) {
    ::unlink(probe.c_str());
    return false;
  }
  void* buf = nullptr;
  REQUIRE(::posix_memalign(&buf, k4K, k4K) == 0);
  std::memset(buf, 7, k4K);
  const bool wrote = ::pwrite(fd, buf, k4K, 0) == static_cast<ssize_t>(k4K);
  std::free(buf);
  ::close(fd);
  const bool direct = wrote && !InPageCache(probe).at(0);
  ::unlink(probe.c_str());
  return direct;
}

// For each 4 KiB of the file, whether it is in the page cache (mincore on a
// mapping: mapping alone reads nothing).
std::vector<bool> InPageCache(const std::string& path) {
  REQUIRE(::sysconf(_SC_PAGESIZE) == static_cast<long>(k4K));
  int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  const size_t size = static_cast<size_t>(st.st_size);
  std::vector<bool> out;
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE(map != MAP_FAILED);
    std::vector<unsigned char> vec((size + k4K - 1) / k4K);
    REQUIRE(::mincore(map, size, vec.data()) == 0);
    for (unsigned char v : vec) out.push_back(v & 1);
    ::munmap(map, size);
  }
  ::close(fd);
  return out;
}

// Counts the cached 4 KiB pages of `path` among [from, to) (in 4 KiB units).
size_t CachedPages(const std::string& path, size_t from, size_t to) {
  auto cached = InPageCache(path);
  size_t n = 0;
  for (size_t i = from; i < std::min(to, cached.size()); ++i) n += cached[i];
  return n;
}

// A buffer with `n` bytes of a pattern seeded by `seed`.
void Pattern(char* p, size_t n, int seed) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 12)) & 0xff);
}

struct Parts {
  std::vector<std::span<const char>> spans;
  std::string joined;
  void Add(const char* p, size_t n) {
    spans.emplace_back(p, n);
    joined.append(p, n);
  }
};

TEST_CASE("PosixDiskIo writes the exact concatenation of its parts, direct or buffered") {
  TempDir dir;
  const bool direct_fs = TakesDirect(dir.path());
  if (!direct_fs) WARN("no O_DIRECT on " << dir.path() << ": page-cache checks skipped");
  PageArena arena(64 * KiB, 2 * MiB);
  std::vector<char> header(k4K + 1);  // one byte in: surely not 4 KiB-aligned
  Pattern(header.data() + 1, k4K, 1);
  char* pages[3];
  for (int i = 0; i < 3; ++i) {
    pages[i] = arena.Allocate();
    Pattern(pages[i], 64 * KiB, 10 + i);
  }
  std::vector<char> heap_tail(34465);  // the short last page of a 100,001-byte object
  Pattern(heap_tail.data(), heap_tail.size(), 20);

  // Header, a present page, a gap in the mask (nothing to write), two more
  // pages, the short tail from the heap.
  Parts block;
  block.Add(header.data() + 1, k4K);
  block.Add(pages[0], 64 * KiB);
  block.Add(pages[1], 0);
  block.Add(pages[1], 64 * KiB);
  block.Add(pages[2], 64 * KiB);
  block.Add(heap_tail.data(), heap_tail.size());
  const size_t aligned_end = (k4K + 3 * 64 * KiB) / k4K;

  for (auto mode : {DiskWrites::kDirect, DiskWrites::kBuffered}) {
    auto io = PosixDiskIo(mode);
    std::string path = dir.path() + (mode == DiskWrites::kDirect ? "/direct" : "/buffered");
    REQUIRE(io->WriteNewFile(path, block.spans).ok());
    if (direct_fs) {
      // Direct: header and pages never enter the page cache; the tail does.
      // Buffered: everything does (dirty pages stay until written back).
      size_t expect = mode == DiskWrites::kDirect ? 0 : aligned_end;
      CHECK(CachedPages(path, 0, aligned_end) == expect);
      CHECK(CachedPages(path, aligned_end, SIZE_MAX) == 9);  // 34,465 bytes
    }
    CHECK(Slurp(path) == block.joined);
    // The file must be new, as before.
    CHECK_FALSE(io->WriteNewFile(path, block.spans).ok());
  }

  SECTION("an aligned short page goes direct up to its last whole 4 KiB") {
    char* slot = arena.Allocate();
    Pattern(slot, 64 * KiB, 30);
    Parts tail;
    tail.Add(header.data() + 1, k4K);
    tail.Add(slot, 34465);
    std::string path = dir.path() + "/aligned-tail";
    REQUIRE(PosixDiskIo()->WriteNewFile(path, tail.spans).ok());
    if (direct_fs) {
      CHECK(CachedPages(path, 0, 1 + 34465 / k4K) == 0);
      CHECK(CachedPages(path, 1 + 34465 / k4K, SIZE_MAX) == 1);
    }
    CHECK(Slurp(path) == tail.joined);
    arena.Free(slot);
  }

  SECTION("a large unaligned part and everything after it go buffered") {
    std::vector<char> big(128 * KiB + 1);
    Pattern(big.data() + 1, 128 * KiB, 40);
    Parts mixed;
    mixed.Add(pages[0], 64 * KiB);
    mixed.Add(big.data() + 1, 128 * KiB);  // too big to copy aligned
    mixed.Add(pages[1], 64 * KiB);
    std::string path = dir.path() + "/mixed";
    REQUIRE(PosixDiskIo()->WriteNewFile(path, mixed.spans).ok());
    if (direct_fs) {
      CHECK(CachedPages(path, 0, 16) == 0);
      CHECK(CachedPages(path, 16, SIZE_MAX) == 48);
    }
    CHECK(Slurp(path) == mixed.joined);
  }

  SECTION("text that is no block file is written as it is") {
    std::string text = "strata block cache v1\n";
    std::string path = dir.path() + "/FORMAT";
    REQUIRE(PosixDiskIo()->WriteNewFile(path, {std::span<const char>(text)}).ok());
    CHECK(Slurp(path) == text);
    std::string empty_path = dir.path() + "/empty";
    REQUIRE(PosixDiskIo()->WriteNewFile(empty_path, {}).ok());
    CHECK(fs::file_size(empty_path) == 0);
  }
  for (char* p : pages) arena.Free(p);
}

TEST_CASE("PosixDiskIo writes more parts than one pwritev takes (IOV_MAX)") {
  TempDir dir;
  const bool direct_fs = TakesDirect(dir.path());
  PageArena arena(k4K, 2 * MiB);
  std::vector<char*> slots;
  Parts parts;
  for (int i = 0; i < 2500; ++i) {
    slots.push_back(arena.Allocate());
    Pattern(slots.back(), k4K, i);
    parts.Add(slots.back(), k4K);
  }
  for (auto mode : {DiskWrites::kDirect, DiskWrites::kBuffered}) {
    std::string path = dir.path() + (mode == DiskWrites::kDirect ? "/direct" : "/buffered");
    REQUIRE(PosixDiskIo(mode)->WriteNewFile(path, parts.spans).ok());
    if (direct_fs && mode == DiskWrites::kDirect) CHECK(CachedPages(path, 0, SIZE_MAX) == 0);
    CHECK(Slurp(path) == parts.joined);
  }
  for (char* s : slots) arena.Free(s);
}

// Caps the size of files this process writes (writes past it fail with
// EFBIG, as a full disk fails them with ENOSPC) until destroyed.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = saved_;
    lim.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = SIG_DFL;
};

TEST_CASE("A write that fails part-way reports the error and leaves no file") {
  TempDir dir;
  PageArena arena(64 * KiB, 2 * MiB);
  std::vector<char> header(k4K + 1);
  Pattern(header.data() + 1, k4K, 1);
  char* pages[2] = {arena.Allocate(), arena.Allocate()};
  std::vector<std::span<const char>> parts{
      {header.data() + 1, k4K}, {pages[0], 64 * KiB}, {pages[1], 64 * KiB}};
  for (auto mode : {DiskWrites::kDirect, DiskWrites::kBuffered}) {
    auto io = PosixDiskIo(mode);
    std::string path = dir.path() + "/partial";
    Status st;
    {
      // Room for the header and one page: the first write comes back short
      // (direct: the rest is retried buffered) and the next one fails.
      FileSizeLimit limit(k4K + 64 * KiB);
      st = io->WriteNewFile(path, parts);
    }
    CHECK(st.code() == Code::kIoError);
    CHECK_THAT(st.message(), Catch::Contains("File too large"));
    CHECK_FALSE(fs::exists(path));
    // Nothing sticks: the next write succeeds, in the same mode.
    REQUIRE(io->WriteNewFile(path, parts).ok());
    CHECK(fs::file_size(path) == k4K + 128 * KiB);
    fs::remove(path);
  }
  // Errors before the first byte keep their mapping.
  auto st = PosixDiskIo()->WriteNewFile(dir.path() + "/no/such/dir", parts);
  CHECK(st.code() == Code::kNotFound);
  for (char* p : pages) arena.Free(p);
}

// Every block file under `dir`, by path relative to it, with its bytes.
std::map<std::string, std::string> BlockFileBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/blocks")) {
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = Slurp(e.path());
  }
  return out;
}

TEST_CASE("Block files written with O_DIRECT are the buffered ones byte for byte and read back") {
  TempDir direct_dir, buffered_dir;
  const bool direct_fs = TakesDirect(direct_dir.path());
  auto tail = Version("tail", 100001);  // page 1 is 34,465 bytes
  auto sparse = Version("sparse", 2 * MiB);
  auto whole = Version("whole", 2 * MiB + 5);
  auto setup = [](const std::string& dir, DiskWrites mode) {
    BlockCacheOptions o;
    o.block_size = MiB;
    o.page_size = 64 * KiB;
    o.memory_bytes = 0;  // every read after the first goes to the disk tier
    o.disk_dir = dir;
    o.disk_bytes = 64 * MiB;
    o.disk_free_floor_bytes = 0;
    cache::CacheInternals internals;
    internals.disk_io = PosixDiskIo(mode);
    return std::make_pair(o, internals);
  };

  for (auto mode : {DiskWrites::kDirect, DiskWrites::kBuffered}) {
    const std::string& dir = mode == DiskWrites::kDirect ? direct_dir.path() : buffered_dir.path();
    auto [options, internals] = setup(dir, mode);
    FakeFetcher f;
    auto c = cache::BlockCacheImpl::Create(options, SystemClock(), f.AsFetcher(), internals);
    REQUIRE(c.ok());
    CHECK(ReadAll(**c, tail, 0, 100001) == Expected(tail, 0, 100001));
    CHECK(ReadAll(**c, whole, 0, 2 * MiB + 5) == Expected(whole, 0, 2 * MiB + 5));
    // Pages 0, 3 and 7 of block 0, one at a time: each write merges the
    // pages already on disk into a new file, non-contiguous in the block.
    for (uint64_t page : {3, 0, 7}) {
      (*c)->WaitForWrites();
      CHECK(ReadAll(**c, sparse, page * 64 * KiB + 10, 100) ==
            Expected(sparse, page * 64 * KiB + 10, 100));
    }
    (*c)->WaitForWrites();
    CHECK((*c)->disk_entries() == 5);
    if (direct_fs && mode == DiskWrites::kDirect) {
      // Only a short last page of an object went through the page cache.
      for (const auto& e : fs::recursive_directory_iterator(dir + "/blocks")) {
        if (!e.is_regular_file()) continue;
        const uint64_t size = e.file_size();
        const uint64_t short_tail = (size - k4K) % (64 * KiB);
        INFO(e.path().string());
        CHECK(CachedPages(e.path(), 0, (size - short_tail) / k4K) == 0);
      }
    }
  }

  auto direct_files = BlockFileBytes(direct_dir.path());
  CHECK(direct_files.size() == 5);
  CHECK(direct_files == BlockFileBytes(buffered_dir.path()));

  // A new cache on the direct-written files: every byte from disk, verified.
  auto [options, internals] = setup(direct_dir.path(), DiskWrites::kDirect);
  FakeFetcher f;
  auto c = cache::BlockCacheImpl::Create(options, SystemClock(), f.AsFetcher(), internals);
  REQUIRE(c.ok());
  CHECK(ReadAll(**c, tail, 0, 100001) == Expected(tail, 0, 100001));
  CHECK(ReadAll(**c, whole, 0, 2 * MiB + 5) == Expected(whole, 0, 2 * MiB + 5));
  for (uint64_t page : {0, 3, 7}) {
    CHECK(ReadAll(**c, sparse, page * 64 * KiB, 64 * KiB) ==
          Expected(sparse, page * 64 * KiB, 64 * KiB));
  }
  CHECK(f.calls() == 0);
  CHECK((*c)->Stats().disk.checksum_failures == 0);
  CHECK((*c)->ResidentPrefix(sparse, 0, 2 * MiB) == 64 * KiB);  // page 1 was never read
}

}  // namespace
}  // namespace strata
