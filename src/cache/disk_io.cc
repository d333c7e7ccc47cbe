#include "cache/disk_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cache/disk_format.h"

namespace strata::cache {
namespace {

Status Errno(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(msg);
    case ENOSPC:
    case EDQUOT:
      return Status::NoSpace(msg);
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(msg);
    case EROFS:
      return Status::ReadOnly(msg);
    default:
      return Status::IoError(msg);
  }
}

// Unaligned parts up to this size in all are copied to an aligned buffer to
// go O_DIRECT (a block header is 4 KiB); larger ones (page buffers not from a
// PageArena) would cost the same copy the page cache does, so they go
// buffered.
constexpr size_t kMaxBounce = 64 << 10;

// The block format pads its header so that the pages start aligned.
static_assert(kDataAlign % kDirectAlign == 0);

bool Aligned(uint64_t v) { return v % kDirectAlign == 0; }
bool Aligned(const void* p) { return Aligned(reinterpret_cast<uintptr_t>(p)); }

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

// The file's bytes as iovecs, and how many of them may go O_DIRECT.
struct WritePlan {
  std::vector<iovec> iov;  // empty parts left out
  uint64_t total = 0;
  // Bytes [0, direct_end) are aligned in memory, length and file offset.
  uint64_t direct_end = 0;
  std::unique_ptr<char, FreeDeleter> bounce;  // aligned copies of small parts
};

// The direct prefix ends at the first part that is neither aligned nor small
// enough to copy; that part may still add its aligned head if it starts at an
// aligned address. Only a DiskTier's last page of an object is short, and
// its buffer comes from the heap, not the arena: it goes buffered.
WritePlan Plan(const std::vector<std::span<const char>>& parts, bool direct) {
  WritePlan plan;
  plan.iov.reserve(parts.size());
  std::vector<bool> copy(parts.size());
  size_t bounce_len = 0;
  bool open = direct;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto part = parts[i];
    plan.total += part.size();
    if (!open) continue;
    const bool whole = Aligned(part.size());
    if (whole && Aligned(part.data())) {
      plan.direct_end += part.size();
    } else if (whole && bounce_len + part.size() <= kMaxBounce) {
      copy[i] = true;
      bounce_len += part.size();
      plan.direct_end += part.size();
    } else {
      if (Aligned(part.data())) plan.direct_end += part.size() / kDirectAlign * kDirectAlign;
      open = false;
    }
  }
  void* bounce = nullptr;
  if (bounce_len > 0 && ::posix_memalign(&bounce, kDirectAlign, bounce_len) != 0) {
    plan.direct_end = 0;  // no memory for the copy: all buffered
    std::fill(copy.begin(), copy.end(), false);
  }
  plan.bounce.reset(static_cast<char*>(bounce));
  char* next = plan.bounce.get();
  for (size_t i = 0; i < parts.size(); ++i) {
    auto part = parts[i];
    if (part.empty()) continue;
    void* base = const_cast<char*>(part.data());  // iovec is not const; pwritev only reads
    if (copy[i]) {
      std::memcpy(next, part.data(), part.size());
      base = next;
      next += part.size();
    }
    plan.iov.push_back({base, part.size()});
  }
  return plan;
}

// After a vectored call moved n bytes: skips the iovecs from `first` on that
// are complete and trims the partial one.
void Advance(std::vector<iovec>& iov, size_t& first, size_t n) {
  while (first < iov.size() && n >= iov[first].iov_len) n -= iov[first++].iov_len;
  if (n) {
    iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + n;
    iov[first].iov_len -= n;
  }
}

struct WriteResult {
  uint64_t done = 0;
  int err = 0;
};

// Writes bytes [from, to) of the concatenation of `all` at the same file
// offsets, IOV_MAX iovecs per call, on through short writes — unless
// `stop_when_short`: after a short O_DIRECT write the rest may not be aligned.
WriteResult WriteRange(int fd, const std::vector<iovec>& all, uint64_t from, uint64_t to,
                       bool stop_when_short) {
  std::vector<iovec> iov;
  uint64_t pos = 0;
  for (const iovec& v : all) {
    const uint64_t begin = pos, end = pos + v.iov_len;
    pos = end;
    if (end <= from || begin >= to) continue;
    const uint64_t lo = std::max(begin, from), hi = std::min(end, to);
    iov.push_back({static_cast<char*>(v.iov_base) + (lo - begin), hi - lo});
  }
  WriteResult r;
  size_t first = 0;  // first iovec not fully written
  while (from + r.done < to) {
    const size_t count = std::min<size_t>(iov.size() - first, IOV_MAX);
    size_t asked = 0;
    for (size_t i = first; i < first + count; ++i) asked += iov[i].iov_len;
    ssize_t n = ::pwritev(fd, iov.data() + first, static_cast<int>(count),
                          static_cast<off_t>(from + r.done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.err = n < 0 ? errno : ENOSPC;
      return r;
    }
    r.done += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < asked && stop_when_short) return r;
    Advance(iov, first, static_cast<size_t>(n));
  }
  return r;
}

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixReadableFile() override { ::close(fd_); }

  Result<size_t> ReadAt(uint64_t offset, std::span<const std::span<char>> dsts) override {
    std::vector<iovec> iov;
    iov.reserve(dsts.size());
    size_t want = 0;
    for (auto d : dsts) {
      iov.push_back({d.data(), d.size()});
      want += d.size();
    }
    size_t done = 0;
    size_t first = 0;  // first iovec not fully read
    while (done < want) {
      ssize_t n = ::preadv(fd_, iov.data() + first,
                           static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX)),
                           static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("read", path_, errno);
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
      Advance(iov, first, static_cast<size_t>(n));
    }
    return done;
  }

 private:
  int fd_;
  std::string path_;
};

class PosixDiskIoImpl final : public DiskIo {
 public:
  explicit PosixDiskIoImpl(DiskWrites writes) : direct_(writes == DiskWrites::kDirect) {}

  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    return std::unique_ptr<ReadableFile>(std::make_unique<PosixReadableFile>(fd, path));
  }

  Status WriteNewFile(const std::string& path,
                      const std::vector<std::span<const char>>& parts) override {
    WritePlan plan = Plan(parts, direct_.load(std::memory_order_relaxed));
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd = -1;
    bool direct = false;
    if (plan.direct_end > 0) {
      fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
      if (fd >= 0) {
        direct = true;
      } else if (errno == EINVAL) {
        // Linux checks O_DIRECT after creating the file, and O_EXCL rules out
        // that it was someone else's: remove it before creating it again.
        ::unlink(path.c_str());
        DirectRefused(path, "open");
      } else {
        return Errno("create", path, errno);
      }
    }
    if (fd < 0) fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Errno("create", path, errno);

    uint64_t done = 0;
    WriteResult r;
    if (direct) {
      r = WriteRange(fd, plan.iov, 0, plan.direct_end, /*stop_when_short=*/true);
      done = r.done;
      if (r.err == EINVAL) {
        // The file system takes O_DIRECT but not at our alignment (a larger
        // logical block): buffered from here on.
        DirectRefused(path, "write");
        r.err = 0;
      }
    }
    if (r.err == 0 && done < plan.total) {
      // The tail, or the rest after a short direct write (whose end need not
      // be aligned any more), through the page cache.
      const int fl = direct ? ::fcntl(fd, F_GETFL) : 0;
      if (direct && (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_DIRECT) != 0)) {
        r.err = errno;
      } else {
        r = WriteRange(fd, plan.iov, done, plan.total, /*stop_when_short=*/false);
        done += r.done;
      }
    }
    Status st = r.err ? Errno("write", path, r.err) : Status::Ok();
    if (::close(fd) != 0 && st.ok()) st = Errno("close", path, errno);
    if (!st.ok()) ::unlink(path.c_str());
    return st;
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename", from, errno);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path, errno);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Errno("list", dir, errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    ::closedir(d);
    return names;
  }

  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir", dir, errno);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Errno("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) return Status::NotADirectory(dir + " is not a directory");
    return Status::Ok();
  }

  Result<uint64_t> FreeBytes(const std::string& dir) override {
    struct statvfs st;
    if (::statvfs(dir.c_str(), &st) != 0) return Errno("statvfs", dir, errno);
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

 private:
  void DirectRefused(const std::string& path, const char* what) {
    if (direct_.exchange(false)) {
      spdlog::info("cache: {} refuses O_DIRECT ({}): writing cache files through the page cache",
                   path, what);
    }
  }

  std::atomic<bool> direct_;  // false once the file system refused O_DIRECT
};

}  // namespace

std::shared_ptr<DiskIo> PosixDiskIo(DiskWrites writes) {
  return std::make_shared<PosixDiskIoImpl>(writes);
}

}  // namespace strata::cache
