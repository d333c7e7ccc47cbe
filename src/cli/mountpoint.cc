#include "mountpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "strata/mount_table.h"

namespace strata::cli {

Result<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return Status::NotFound("'" + path + "': " + std::strerror(errno));
  }
  return std::string(buf);
}

bool IsMountPoint(const std::string& abs) {
  Result<std::vector<MountInfoEntry>> mounts = ReadMountInfo();
  if (mounts.ok() && FindMount(*mounts, abs)) return true;
  // Fallback (no /proc): a mount root sits on another device than its parent.
  struct stat self {
  }, parent{};
  if (abs == "/") return true;
  if (::stat(abs.c_str(), &self) != 0 || ::stat((abs + "/..").c_str(), &parent) != 0) {
    return false;
  }
  return self.st_dev != parent.st_dev;
}

Status CheckMountpoint(const std::string& path) {
  const std::string quoted = "mountpoint '" + path + "'";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    // A FUSE mount whose daemon died answers ENOTCONN: it is still mounted.
    if (err == ENOTCONN) return Status::InvalidArgument(quoted + " is already a mount point");
    if (err == ENOENT) return Status::NotFound(quoted + " does not exist");
    return Status::InvalidArgument(quoted + ": " + std::strerror(err));
  }
  if (!S_ISDIR(st.st_mode)) return Status::NotADirectory(quoted + " is not a directory");
  Result<std::string> abs = RealPath(path);
  if (!abs.ok()) return Status::InvalidArgument(quoted + ": " + abs.status().message());
  if (IsMountPoint(*abs)) return Status::InvalidArgument(quoted + " is already a mount point");
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return Status::PermissionDenied(quoted + " cannot be read: " + std::strerror(errno));
  }
  bool empty = true;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  if (!empty) return Status::InvalidArgument(quoted + " is not empty");
  return Status::Ok();
}

}  // namespace strata::cli
