// `strata unmount MOUNTPOINT`: fusermount3 -u for users, umount2 for root.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "commands.h"
#include "mountpoint.h"
#include "strata/mount_table.h"

namespace strata::cli {
namespace {

// Runs fusermount3 -u quietly; returns its exit status (127: not runnable).
int RunFusermount(const std::string& path) {
  pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
    ::execlp("fusermount3", "fusermount3", "-u", "--", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}

}  // namespace

int RunUnmount(const std::string& mountpoint) {
  // A dead daemon leaves a mount that stat() cannot enter (ENOTCONN); the
  // mount table still lists it, so look there with the path made absolute
  // without touching the mount itself.
  std::string abs = mountpoint;
  if (abs.empty() || abs[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) != nullptr) abs = std::string(cwd) + "/" + abs;
  }
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  Result<std::string> real = RealPath(mountpoint);
  if (real.ok()) abs = *real;
  if (!IsMountPoint(abs)) {
    PrintError("'" + mountpoint + "' is not mounted");
    return kExitFailure;
  }
  if (::geteuid() == 0) {
    if (::umount2(abs.c_str(), 0) == 0) return kExitOk;
    int err = errno;
    PrintError("cannot unmount '" + mountpoint + "': " + std::strerror(err));
    return kExitFailure;
  }
  int rc = RunFusermount(abs);
  if (rc == 0) return kExitOk;
  if (rc == 127) {
    PrintError("cannot unmount '" + mountpoint + "': fusermount3 not found");
  } else {
    PrintError("cannot unmount '" + mountpoint + "': fusermount3 -u failed (busy?)");
  }
  return kExitFailure;
}

}  // namespace strata::cli
