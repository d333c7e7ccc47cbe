// The libfuse3 low-level adaptor. Every callback has the same shape: unpack
// the request, call the Vfs, reply. Errors become errno only in ReplyError.
#define FUSE_USE_VERSION 312
#include "strata/fuse_adapter.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace strata {

struct FuseSession::Context {
  Vfs* vfs = nullptr;
  FuseMountOptions options;
  fuse_session* se = nullptr;
  bool mounted = false;

  // Kernel page-cache invalidations run on their own thread: calling
  // fuse_lowlevel_notify_inval_inode from inside a request handler can
  // deadlock against locks the kernel holds for that request.
  std::mutex inval_mu;
  std::condition_variable inval_cv;
  std::deque<uint64_t> inval_queue;  // guarded by inval_mu
  bool inval_stop = false;           // guarded by inval_mu
  std::thread inval_thread;

  void InvalidateLoop() {
    std::unique_lock<std::mutex> lock(inval_mu);
    while (true) {
      inval_cv.wait(lock, [&] { return inval_stop || !inval_queue.empty(); });
      if (inval_stop) return;
      uint64_t ino = inval_queue.front();
      inval_queue.pop_front();
      lock.unlock();
      // -ENOENT: the kernel no longer has the inode, nothing to drop.
      int rc = fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
      if (rc != 0 && rc != -ENOENT) {
        spdlog::debug("invalidating inode {}: {}", ino, std::strerror(-rc));
      }
      lock.lock();
    }
  }
};

namespace {

using Context = FuseSession::Context;

Context* Ctx(fuse_req_t req) { return static_cast<Context*>(fuse_req_userdata(req)); }

// The one place a Status becomes an errno.
void ReplyError(fuse_req_t req, const Status& status, const char* op) {
  int err = ToErrno(status);
  if (status.code() == Code::kNotFound || status.code() == Code::kReadOnly) {
    spdlog::trace("{}: {}", op, status.ToString());
  } else {
    spdlog::warn("{}: {}", op, status.ToString());
  }
  fuse_reply_err(req, err == 0 ? EIO : err);
}

fuse_entry_param EntryParam(const Entry& e) {
  fuse_entry_param p{};
  p.ino = e.attr.st_ino;
  p.generation = 0;
  p.attr = e.attr;
  p.attr_timeout = e.attr_timeout_s;
  p.entry_timeout = e.entry_timeout_s;
  return p;
}

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* ctx = static_cast<Context*>(userdata);
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);  // plus for the first pass over a directory only
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_AUTO_INVAL_DATA);
  // Read replies are written from memory with writev (fuse_reply_iov), so
  // splice is unused today; allowed for a later fuse_reply_data path that
  // would send pages straight from the disk tier's files.
  want(FUSE_CAP_SPLICE_WRITE);
  want(FUSE_CAP_SPLICE_MOVE);
  // Requests carry no payload on a read-only mount: splicing them in only
  // costs extra syscalls.
  conn->want &= ~FUSE_CAP_SPLICE_READ;
  // max_write also sizes the kernel's max_pages, which bounds read requests.
  conn->max_write = ctx->options.max_read;
  conn->max_read = ctx->options.max_read;
  // The kernel keeps the smaller of its offer and ours; see SetKernelReadahead.
  conn->max_readahead = std::max(conn->max_readahead, ctx->options.max_readahead);
  // Async readahead requests in flight at once (kernel default 12).
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  conn->time_gran = 1000000000;  // mtimes have one-second resolution
  spdlog::debug("fuse init: proto 7.{}, max_read {}, max_readahead {}, want {:#x}",
                conn->proto_minor, conn->max_read, conn->max_readahead, conn->want);
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Context* ctx = Ctx(req);
  Result<Entry> e = ctx->vfs->Lookup(parent, name);
  if (!e.ok()) {
    if (e.status().code() == Code::kNotFound && ctx->options.negative_timeout_s > 0) {
      // ino 0 with a timeout: the kernel caches the absence.
      fuse_entry_param neg{};
      neg.entry_timeout = ctx->options.negative_timeout_s;
      fuse_reply_entry(req, &neg);
      return;
    }
    ReplyError(req, e.status(), "lookup");
    return;
  }
  fuse_entry_param p = EntryParam(*e);
  fuse_reply_entry(req, &p);
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Ctx(req)->vfs->Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Vfs* vfs = Ctx(req)->vfs;
  for (size_t i = 0; i < count; ++i) vfs->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OpGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Result<Entry> e = Ctx(req)->vfs->GetAttr(ino);
  if (!e.ok()) return ReplyError(req, e.status(), "getattr");
  fuse_reply_attr(req, &e->attr, e->attr_timeout_s);
}

void OpOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Result<uint64_t> fh = Ctx(req)->vfs->OpenDir(ino);
  if (!fh.ok()) return ReplyError(req, fh.status(), "opendir");
  fi->fh = *fh;
  fuse_reply_open(req, fi);
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  std::vector<char> buf(size);
  size_t used = 0;
  std::string name;
  auto sink = [&](const DirEntry& e) {
    name.assign(e.name);
    size_t room = size - used;
    size_t need;
    if (plus) {
      fuse_entry_param p = EntryParam(e.entry);
      if (!e.counted) p.ino = 0;  // "." and "..": the kernel links no inode
      need = fuse_add_direntry_plus(req, buf.data() + used, room, name.c_str(), &p,
                                    static_cast<off_t>(e.offset));
    } else {
      need = fuse_add_direntry(req, buf.data() + used, room, name.c_str(), &e.entry.attr,
                               static_cast<off_t>(e.offset));
    }
    if (need > room) return false;
    used += need;
    return true;
  };
  Status st = Ctx(req)->vfs->ReadDir(ino, fi->fh, static_cast<uint64_t>(off), plus, sink);
  if (!st.ok()) return ReplyError(req, st, plus ? "readdirplus" : "readdir");
  fuse_reply_buf(req, buf.data(), used);
}

void OpReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, false);
}

void OpReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirCommon(req, ino, size, off, fi, true);
}

void OpReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Status st = Ctx(req)->vfs->ReleaseDir(fi->fh);
  if (!st.ok()) return ReplyError(req, st, "releasedir");
  fuse_reply_err(req, 0);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Result<OpenResult> r = Ctx(req)->vfs->Open(ino, fi->flags);
  if (!r.ok()) return ReplyError(req, r.status(), "open");
  fi->fh = r->fh;
  fi->keep_cache = r->keep_cache ? 1 : 0;
  fi->direct_io = 0;
  fi->noflush = 1;  // nothing to flush on a read-only file
  fuse_reply_open(req, fi);
}

// Replies with the bytes where they lie (the cache's page buffers): libfuse
// writes the header and the pieces to /dev/fuse with one writev, so the only
// copy is the kernel's into the reader's pages. The caller's pins keep the
// pieces alive until this returns. (fuse_reply_data would not do: without
// splice it copies several memory buffers into one.)
void ReplyBuffers(fuse_req_t req, const ReadBuffers& data) {
  if (data.pieces.empty()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  // fuse_reply_iov adds one iovec for the header; writev takes at most
  // IOV_MAX. Only tiny cache pages and huge reads get near it: copy then.
  if (data.pieces.size() + 1 > IOV_MAX) {
    std::unique_ptr<char[]> flat(new char[data.size()]);
    size_t n = data.CopyTo(std::span<char>(flat.get(), data.size()));
    fuse_reply_buf(req, flat.get(), n);
    return;
  }
  std::vector<iovec> iov(data.pieces.size());
  for (size_t i = 0; i < iov.size(); ++i) {
    // writev only reads the bytes; iovec has no const.
    iov[i].iov_base = const_cast<char*>(data.pieces[i].data());
    iov[i].iov_len = data.pieces[i].size();
  }
  fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Result<ReadBuffers> data = Ctx(req)->vfs->ReadPinned(fi->fh, static_cast<uint64_t>(off), size);
  if (!data.ok()) return ReplyError(req, data.status(), "read");
  ReplyBuffers(req, *data);
  // The pins in `data` are released here, after the reply is written.
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Status st = Ctx(req)->vfs->Release(fi->fh);
  if (!st.ok()) return ReplyError(req, st, "release");
  fuse_reply_err(req, 0);
}

void OpStatFs(fuse_req_t req, fuse_ino_t) {
  Result<struct statvfs> st = Ctx(req)->vfs->StatFs();
  if (!st.ok()) return ReplyError(req, st.status(), "statfs");
  fuse_reply_statfs(req, &*st);
}

// The modifying operations, all refused by the read-only Vfs.
void RefuseModify(fuse_req_t req, const char* op) {
  ReplyError(req, Ctx(req)->vfs->Modify(op), op);
}
void OpSetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
  RefuseModify(req, "setattr");
}
void OpMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) { RefuseModify(req, "mknod"); }
void OpMkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) { RefuseModify(req, "mkdir"); }
void OpUnlink(fuse_req_t req, fuse_ino_t, const char*) { RefuseModify(req, "unlink"); }
void OpRmdir(fuse_req_t req, fuse_ino_t, const char*) { RefuseModify(req, "rmdir"); }
void OpSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
  RefuseModify(req, "symlink");
}
void OpRename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  RefuseModify(req, "rename");
}
void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { RefuseModify(req, "link"); }
void OpWrite(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
  RefuseModify(req, "write");
}
void OpCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  RefuseModify(req, "create");
}
void OpSetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  RefuseModify(req, "setxattr");
}
void OpRemoveXattr(fuse_req_t req, fuse_ino_t, const char*) { RefuseModify(req, "removexattr"); }
void OpFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) {
  RefuseModify(req, "fallocate");
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetAttr;
  ops.opendir = OpOpenDir;
  ops.readdir = OpReadDir;
  ops.readdirplus = OpReadDirPlus;
  ops.releasedir = OpReleaseDir;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.release = OpRelease;
  ops.statfs = OpStatFs;
  ops.setattr = OpSetAttr;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.write = OpWrite;
  ops.create = OpCreate;
  ops.setxattr = OpSetXattr;
  ops.removexattr = OpRemoveXattr;
  ops.fallocate = OpFallocate;
  // getxattr/listxattr/access/flush stay unset: libfuse answers ENOSYS and
  // the kernel stops asking.
  return ops;
}

// libfuse's own messages go to strata's log instead of stderr.
void LogFromFuse(fuse_log_level level, const char* fmt, va_list ap) {
  char line[1024];
  std::vsnprintf(line, sizeof(line), fmt, ap);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (level <= FUSE_LOG_ERR) {
    spdlog::error("libfuse: {}", text);
  } else if (level <= FUSE_LOG_NOTICE) {
    spdlog::info("libfuse: {}", text);
  } else {
    spdlog::debug("libfuse: {}", text);
  }
}

// Mount options are comma-separated: escape commas in values.
std::string EscapeOption(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

FuseSession::FuseSession(std::unique_ptr<Context> context) : context_(std::move(context)) {}

Result<std::unique_ptr<FuseSession>> FuseSession::Mount(Vfs* vfs, const FuseMountOptions& options) {
  fuse_set_log_func(LogFromFuse);
  auto ctx = std::make_unique<Context>();
  ctx->vfs = vfs;
  ctx->options = options;

  // "ro": the kernel refuses writes before they reach us.
  // default_permissions: the kernel checks modes against uid/gid.
  std::string opts =
      "ro,default_permissions,subtype=strata,fsname=" + EscapeOption(options.fsname) +
      ",max_read=" + std::to_string(options.max_read);
  if (options.allow_other) opts += ",allow_other";
  std::vector<std::string> argv_storage = {"strata", "-o", opts};
  if (options.debug) argv_storage.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  fuse_lowlevel_ops ops = MakeOps();
  ctx->se = fuse_session_new(&args, &ops, sizeof(ops), ctx.get());
  fuse_opt_free_args(&args);
  if (ctx->se == nullptr) return Status::Internal("cannot create the FUSE session");
  if (fuse_session_mount(ctx->se, options.mountpoint.c_str()) != 0) {
    fuse_session_destroy(ctx->se);
    return Status::IoError("cannot mount FUSE at '" + options.mountpoint + "'");
  }
  ctx->mounted = true;
  Context* raw = ctx.get();
  ctx->inval_thread = std::thread([raw] { raw->InvalidateLoop(); });
  vfs->AddVersionChangeListener([raw](uint64_t ino, const ObjectVersion&) {
    std::lock_guard<std::mutex> lock(raw->inval_mu);
    raw->inval_queue.push_back(ino);
    raw->inval_cv.notify_one();
  });
  return std::unique_ptr<FuseSession>(new FuseSession(std::move(ctx)));
}

Status FuseSession::Run() {
  Context& ctx = *context_;
  // libfuse installs its handlers only over the default disposition; a shell
  // starts background jobs with SIGINT ignored, and SIGINT must still unmount.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  if (fuse_set_signal_handlers(ctx.se) != 0) {
    return Status::Internal("cannot install signal handlers");
  }
  sigset_t signals = TerminationSignals();
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);

  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, ctx.options.clone_fd ? 1 : 0);
  fuse_loop_cfg_set_max_threads(cfg, static_cast<unsigned>(ctx.options.max_threads));
  fuse_loop_cfg_set_idle_threads(cfg, static_cast<unsigned>(ctx.options.max_idle_threads));
  int rc = fuse_session_loop_mt(ctx.se, cfg);
  fuse_loop_cfg_destroy(cfg);

  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  fuse_remove_signal_handlers(ctx.se);
  fuse_session_unmount(ctx.se);
  ctx.mounted = false;
  if (rc < 0) return Status::IoError(std::string("FUSE loop: ") + std::strerror(-rc));
  if (rc > 0) spdlog::info("signal {}: unmounted {}", rc, ctx.options.mountpoint);
  return Status::Ok();
}

FuseSession::~FuseSession() {
  Context& ctx = *context_;
  {
    std::lock_guard<std::mutex> lock(ctx.inval_mu);
    ctx.inval_stop = true;
  }
  ctx.inval_cv.notify_one();
  if (ctx.inval_thread.joinable()) ctx.inval_thread.join();
  if (ctx.mounted) fuse_session_unmount(ctx.se);
  fuse_session_destroy(ctx.se);
}

}  // namespace strata
