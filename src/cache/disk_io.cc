#include "cache/disk_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
      // Skip the iovecs that are complete; trim the partial one.
      size_t left = static_cast<size_t>(n);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    return done;
  }

 private:
  int fd_;
  std::string path_;
};

class PosixDiskIoImpl final : public DiskIo {
 public:
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    return std::unique_ptr<ReadableFile>(std::make_unique<PosixReadableFile>(fd, path));
  }

  Status WriteNewFile(const std::string& path,
                      const std::vector<std::span<const char>>& parts) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("create", path, errno);
    Status st;
    uint64_t offset = 0;
    for (auto part : parts) {
      size_t done = 0;
      while (done < part.size()) {
        ssize_t n =
            ::pwrite(fd, part.data() + done, part.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          st = Errno("write", path, n < 0 ? errno : ENOSPC);
          break;
        }
        done += static_cast<size_t>(n);
      }
      if (!st.ok()) break;
      offset += part.size();
    }
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
};

}  // namespace

std::shared_ptr<DiskIo> PosixDiskIo() { return std::make_shared<PosixDiskIoImpl>(); }

}  // namespace strata::cache
