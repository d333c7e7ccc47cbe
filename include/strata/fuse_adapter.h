// FuseSession: the libfuse3 low-level adaptor between the kernel and a Vfs.
//
// This is the only place in strata that calls fuse_reply_* and turns a
// Status into an errno (through ToErrno). The Vfs is reached from every
// callback through fuse_req_userdata(): there is no global state.
//
// Life cycle: Mount() creates the session and mounts it; once it returns the
// mount is live (the kernel queues requests until Run() serves them), so a
// daemonizing CLI can tell its parent "mounted". Run() serves requests on a
// multithreaded loop until the filesystem is unmounted (fusermount3 -u) or
// SIGTERM/SIGINT/SIGHUP arrives (fuse_set_signal_handlers). The destructor
// unmounts if still mounted.
//
// Signals: libfuse's handlers end the loop only if the signal reaches the
// thread in Run(). Call BlockTerminationSignals() on the main thread before
// any other thread starts (store clients, pools): threads inherit the mask,
// and Run() unblocks the signals on its own thread only.
//
// Ownership: the caller owns the Vfs, which must outlive the FuseSession.
// Thread safety: Mount, Run and destruction from one thread; the callbacks
// run on libfuse's worker threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "strata/status.h"
#include "strata/vfs.h"

namespace strata {

struct FuseMountOptions {
  std::string mountpoint;  // absolute path
  std::string fsname;      // shown by mount(8): the source URL
  bool allow_other = false;
  bool clone_fd = true;
  int max_threads = 64;
  int max_idle_threads = 16;
  uint32_t max_read = 1 << 20;       // largest read request the kernel sends
  uint32_t max_readahead = 1 << 20;  // kernel readahead window (see SetKernelReadahead)
  double negative_timeout_s = 60;    // kernel negative dentry cache
  bool debug = false;                // libfuse's request trace on stderr
};

class FuseSession {
 public:
  static Result<std::unique_ptr<FuseSession>> Mount(Vfs* vfs, const FuseMountOptions& options);
  ~FuseSession();
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  // Serves until unmounted or signalled; Ok on a clean end.
  Status Run();

  struct Context;  // the fuse_req_userdata object

 private:
  explicit FuseSession(std::unique_ptr<Context> context);
  std::unique_ptr<Context> context_;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
// thread it starts later).
void BlockTerminationSignals();

}  // namespace strata
