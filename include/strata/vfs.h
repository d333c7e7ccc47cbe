// Vfs: the filesystem core, one method per filesystem operation, on inode
// numbers, returning Status/Result. It knows nothing of libfuse; the fuse
// adaptor turns its results into replies and its Status into errno, and unit
// tests drive it directly.
//
// Read-only for now: every operation that would change the tree returns
// ReadOnly (EROFS).
//
// Open captures the object version (key, ETag, size) of the file at that
// moment; every read through that handle reads that version or fails with
// Stale. Tier 0 of the cache is the kernel's page cache: Open reports
// keep_cache when the inode's ETag equals the ETag at its previous open, and
// tells version-change listeners (the fuse adaptor invalidates the kernel's
// pages; a block cache may drop old blocks) when it sees the ETag change.
//
// Ownership: one per mount, owned by the mount context; holds the Namespace
// and the ReaderFactory. Thread safety: every method may be called from any
// FUSE thread at once; a handle may be read by several threads at once.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/namespace.h"
#include "strata/read_buffers.h"
#include "strata/reader.h"
#include "strata/status.h"

namespace strata {

struct VfsOptions {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t file_mode = 0444;  // read-only: no write bits
  uint32_t dir_mode = 0555;
  uint32_t block_size = 1 << 20;  // st_blksize: the I/O size tools should use
  double entry_timeout_s = 60;    // kernel dentry cache
  double attr_timeout_s = 60;     // kernel attribute cache
};

// A lookup's answer: the attributes and how long the kernel may keep them.
struct Entry {
  struct stat attr {};
  double entry_timeout_s = 0;
  double attr_timeout_s = 0;
};

struct OpenResult {
  uint64_t fh = 0;
  bool keep_cache = false;  // the kernel may keep the inode's cached pages
};

// One entry handed to a ReadDir callback. `offset` is the offset of the
// NEXT entry (what the kernel passes back to continue). With plus, `entry`
// carries full attributes and `counted` says whether the entry holds a
// lookup (not for "." and "..", which the kernel never counts).
struct DirEntry {
  std::string_view name;
  uint64_t offset = 0;
  Entry entry;
  bool counted = false;
};

// Called per entry; returns false when the reply buffer is full (the entry
// was not added). A counted entry that was not added has its lookup undone.
using DirEntrySink = std::function<bool(const DirEntry& entry)>;

// Called with an inode whose object changed (new ETag) after it was opened.
using VersionChangeListener = std::function<void(uint64_t ino, const ObjectVersion& now)>;

// What an open tells open listeners: the object version opened, the inode of
// its directory, and a way to list that directory's files as object versions
// (from the listing cache while fresh; call it only when needed).
struct OpenEvent {
  const ObjectVersion& version;
  uint64_t dir_ino = 0;
  std::function<std::vector<ObjectVersion>()> list_dir_files;
};
using OpenListener = std::function<void(const OpenEvent& event)>;

class Vfs {
 public:
  Vfs(std::unique_ptr<Namespace> ns, std::shared_ptr<ReaderFactory> readers, std::string store_id,
      VfsOptions options);
  ~Vfs();
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // Listeners are added before the mount starts serving (not thread-safe
  // against concurrent operations).
  void AddVersionChangeListener(VersionChangeListener listener);
  // Called on every successful open of a file, on the opening thread.
  void AddOpenListener(OpenListener listener);

  Result<Entry> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t nlookup);
  Result<Entry> GetAttr(uint64_t ino);

  Result<uint64_t> OpenDir(uint64_t ino);
  // Emits entries from `offset` on ("." and ".." first) until `sink` says
  // the buffer is full or the listing ends.
  Status ReadDir(uint64_t ino, uint64_t fh, uint64_t offset, bool plus, const DirEntrySink& sink);
  Status ReleaseDir(uint64_t fh);

  // `flags` are open(2) flags; anything but O_RDONLY access is ReadOnly.
  Result<OpenResult> Open(uint64_t ino, int flags);
  Result<size_t> Read(uint64_t fh, uint64_t offset, std::span<char> dst);
  // The same bytes as Read with dst.size() == size, by reference into the
  // reader's buffers (see read_buffers.h): the fuse adaptor replies from them
  // without a copy. Empty at or past the end of the file.
  Result<ReadBuffers> ReadPinned(uint64_t fh, uint64_t offset, size_t size);
  Status Release(uint64_t fh);

  Result<struct statvfs> StatFs();

  // Every operation that would modify the tree (write, create, mkdir,
  // unlink, rename, setattr, ...): the one answer of a read-only mount.
  Status Modify(std::string_view operation);

  const VfsOptions& options() const { return options_; }
  Namespace& ns() { return *ns_; }

 private:
  struct Handle;
  struct DirHandle;
  Entry MakeEntry(const NodeInfo& info) const;
  Result<std::shared_ptr<Handle>> FindFile(uint64_t fh);
  void NoteVersion(const NodeInfo& info, bool* keep_cache);
  void NotifyOpen(const NodeInfo& info, const ObjectVersion& version);

  std::unique_ptr<Namespace> ns_;
  std::shared_ptr<ReaderFactory> readers_;
  std::string store_id_;
  VfsOptions options_;
  std::vector<VersionChangeListener> listeners_;
  std::vector<OpenListener> open_listeners_;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace strata
