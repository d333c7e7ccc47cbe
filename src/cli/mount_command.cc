// `strata mount`: validate, (daemonize), build the store, mount, serve.
//
// Daemon hand-shake: the parent forks before any thread exists (store
// clients start threads, and fork() copies only the calling thread). The
// child builds everything, mounts, and writes one line to a pipe: "ok" once
// the mount is live, or "error <message>". The parent prints the error line
// or exits 0, so a script can use the mount on its next line.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "metrics_writer.h"
#include "mount_context.h"
#include "mountpoint.h"
#include "source.h"
#include "strata/fuse_adapter.h"
#include "strata/mount_table.h"

namespace strata::cli {
namespace {

// Where the outcome of mounting goes: the parent's pipe, or stderr.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void Ok() { Send("ok\n"); }
  void Error(const std::string& message) {
    if (fd_ < 0) {
      PrintError(message);  // foreground: the one line, not also a log line
    } else {
      spdlog::error("{}", message);
      std::string line = message;
      for (char& c : line) {
        if (c == '\n') c = ' ';
      }
      Send("error " + line + "\n");
    }
  }

 private:
  void Send(const std::string& text) {
    if (fd_ < 0) return;
    ssize_t unused = ::write(fd_, text.data(), text.size());
    (void)unused;
    ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

// Everything after the checks, in the process that serves the mount.
int ServeMount(const Config& config, const Source& source, const std::string& mountpoint,
               Reporter* reporter) {
  BlockTerminationSignals();
  Result<std::unique_ptr<MountContext>> ctx = BuildMountContext(config, source);
  if (!ctx.ok()) {
    reporter->Error(ctx.status().message());
    return kExitFailure;
  }
  FuseMountOptions fopts;
  fopts.mountpoint = mountpoint;
  fopts.fsname = source.url;
  fopts.allow_other = config.allow_other;
  fopts.clone_fd = config.clone_fd;
  fopts.max_threads = config.max_threads;
  fopts.max_idle_threads = config.max_idle_threads;
  fopts.negative_timeout_s = config.negative_ttl;
  Result<std::unique_ptr<FuseSession>> session = FuseSession::Mount((*ctx)->vfs.get(), fopts);
  if (!session.ok()) {
    reporter->Error(session.status().message());
    return kExitFailure;
  }
  // Best effort: a wider kernel readahead window than FUSE init can ask for.
  Status ra = SetKernelReadahead(mountpoint, fopts.max_readahead / 1024);
  if (!ra.ok()) spdlog::debug("kernel readahead left at its default: {}", ra.message());
  spdlog::info("mounted {} on {}", source.url, mountpoint);
  reporter->Ok();
  std::unique_ptr<MetricsWriter> metrics;
  if (!config.metrics_file.empty()) {
    metrics = std::make_unique<MetricsWriter>(config.metrics_file, &(*ctx)->read_path);
  }
  Status served = (*session)->Run();
  metrics.reset();
  session->reset();
  spdlog::info("unmounted {}", mountpoint);
  if (!served.ok()) {
    spdlog::error("{}", served.message());
    return kExitFailure;
  }
  return kExitOk;
}

// The parent side of the hand-shake.
int AwaitChild(int fd, pid_t child) {
  std::string line;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (line == "ok") return kExitOk;
  if (line.rfind("error ", 0) == 0) {
    PrintError(line.substr(6));
    return kExitFailure;
  }
  PrintError("the strata daemon (pid " + std::to_string(child) + ") exited before mounting");
  return kExitFailure;
}

// The child side: a session of its own, no terminal, cwd "/".
void Detach(const Config& config) {
  ::setsid();
  if (::chdir("/") != 0) spdlog::debug("chdir /: {}", std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    if (null_fd > STDERR_FILENO) ::close(null_fd);
  }
  SetupLogging(config.log_level, config.log_file, false);
}

}  // namespace

void PrintError(const std::string& message) {
  std::fprintf(stderr, "strata: error: %s\n", message.c_str());
  std::fflush(stderr);
}

int RunMount(Config config) {
  Result<Source> source = ParseSource(config.source);
  if (!source.ok()) {
    PrintError(source.status().message());
    return kExitUsage;
  }
  Status mp = CheckMountpoint(config.mountpoint);
  if (!mp.ok()) {
    PrintError(mp.message());
    return kExitFailure;
  }
  Result<std::string> mountpoint = RealPath(config.mountpoint);
  if (!mountpoint.ok()) {
    PrintError(mountpoint.status().message());
    return kExitFailure;
  }
  // The daemon runs in "/": relative paths must not change meaning.
  config.log_file = Absolute(config.log_file);
  config.cache_dir = Absolute(config.cache_dir);
  config.metrics_file = Absolute(config.metrics_file);
  if (!config.log_file.empty()) {
    // A daemon has no stderr: a log file it cannot write must fail now.
    int fd = ::open(config.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      PrintError("cannot open log file '" + config.log_file + "': " + std::strerror(errno));
      return kExitFailure;
    }
    ::close(fd);
  }

  if (config.foreground) {
    SetupLogging(config.log_level, config.log_file, true);
    Reporter reporter(-1);
    return ServeMount(config, *source, *mountpoint, &reporter);
  }

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    PrintError(std::string("cannot create a pipe: ") + std::strerror(errno));
    return kExitFailure;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    PrintError(std::string("cannot fork: ") + std::strerror(errno));
    return kExitFailure;
  }
  if (pid > 0) {
    ::close(fds[1]);
    return AwaitChild(fds[0], pid);
  }
  ::close(fds[0]);
  Detach(config);
  Reporter reporter(fds[1]);
  int rc = ServeMount(config, *source, *mountpoint, &reporter);
  spdlog::shutdown();
  ::_exit(rc);
}

}  // namespace strata::cli
