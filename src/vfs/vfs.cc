#include "strata/vfs.h"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

namespace strata {

struct Vfs::Handle {
  uint64_t ino;
  ObjectVersion version;
  std::unique_ptr<FileReader> reader;
};

struct Vfs::DirHandle {
  uint64_t ino;
  uint64_t parent_ino;
  std::shared_ptr<const Listing> listing;
};

struct Vfs::State {
  std::mutex mu;  // guards the maps below; never held across a store request
  std::unordered_map<uint64_t, std::shared_ptr<Handle>> files;
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs;
  // Per inode the kernel still knows: the ETag at the last open (decides
  // keep_cache) and the last ETag listeners were told about.
  struct Seen {
    std::string opened_etag;
    std::string announced_etag;
  };
  std::unordered_map<uint64_t, Seen> seen;
  std::atomic<uint64_t> next_fh{1};
};

Vfs::Vfs(std::unique_ptr<Namespace> ns, std::shared_ptr<ReaderFactory> readers,
         std::string store_id, VfsOptions options)
    : ns_(std::move(ns)),
      readers_(std::move(readers)),
      store_id_(std::move(store_id)),
      options_(options),
      state_(std::make_unique<State>()) {}

Vfs::~Vfs() = default;

void Vfs::AddVersionChangeListener(VersionChangeListener listener) {
  listeners_.push_back(std::move(listener));
}

void Vfs::AddOpenListener(OpenListener listener) { open_listeners_.push_back(std::move(listener)); }

Entry Vfs::MakeEntry(const NodeInfo& info) const {
  Entry e;
  struct stat& st = e.attr;
  st.st_ino = info.ino;
  st.st_uid = options_.uid;
  st.st_gid = options_.gid;
  if (info.type == NodeType::kDirectory) {
    st.st_mode = S_IFDIR | options_.dir_mode;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | options_.file_mode;
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(info.size);
    st.st_blocks = static_cast<blkcnt_t>((info.size + 511) / 512);
  }
  st.st_blksize = options_.block_size;
  st.st_mtim.tv_sec = info.mtime_sec;
  st.st_atim.tv_sec = info.mtime_sec;
  st.st_ctim.tv_sec = info.mtime_sec;
  e.entry_timeout_s = options_.entry_timeout_s;
  e.attr_timeout_s = std::min(options_.attr_timeout_s, info.fresh_for_s);
  return e;
}

// Tells listeners, once per new ETag, that an inode opened before now holds
// another object version. With keep_cache non-null (an open) it also decides
// and records keep_cache.
void Vfs::NoteVersion(const NodeInfo& info, bool* keep_cache) {
  if (info.type != NodeType::kFile) return;
  bool announce = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->seen.find(info.ino);
    if (it == state_->seen.end()) {
      if (keep_cache == nullptr) return;  // never opened: nothing cached to drop
      it = state_->seen.emplace(info.ino, State::Seen{info.etag, info.etag}).first;
      *keep_cache = false;
      return;
    }
    State::Seen& seen = it->second;
    if (seen.opened_etag != info.etag && seen.announced_etag != info.etag) {
      seen.announced_etag = info.etag;
      announce = true;
    }
    if (keep_cache != nullptr) {
      *keep_cache = seen.opened_etag == info.etag;
      seen.opened_etag = info.etag;
    }
  }
  if (!announce) return;
  ObjectVersion now{store_id_, info.key, info.etag, info.size};
  for (const auto& listener : listeners_) listener(info.ino, now);
}

void Vfs::NotifyOpen(const NodeInfo& info, const ObjectVersion& version) {
  const uint64_t dir = ns_->ParentInode(info.ino);
  // The directory's key prefix: the file's key without its own name.
  const size_t slash = info.path.rfind('/');
  const size_t name_len =
      slash == std::string::npos ? info.path.size() : info.path.size() - slash - 1;
  if (name_len > info.key.size()) return;
  const std::string dir_key = info.key.substr(0, info.key.size() - name_len);
  OpenEvent event{version, dir, [this, dir, dir_key] {
                    std::vector<ObjectVersion> files;
                    Result<std::shared_ptr<const Listing>> listing = ns_->ReadDir(dir);
                    if (!listing.ok()) return files;
                    for (const ListingEntry& e : (*listing)->entries) {
                      if (e.type != NodeType::kFile) continue;
                      files.push_back(ObjectVersion{store_id_, dir_key + e.name, e.etag, e.size});
                    }
                    return files;
                  }};
  for (const auto& listener : open_listeners_) listener(event);
}

Result<Entry> Vfs::Lookup(uint64_t parent, std::string_view name) {
  Result<NodeInfo> info = ns_->Lookup(parent, name);
  if (!info.ok()) return info.status();
  NoteVersion(*info, nullptr);
  return MakeEntry(*info);
}

void Vfs::Forget(uint64_t ino, uint64_t nlookup) {
  if (!ns_->Forget(ino, nlookup)) return;
  // The kernel dropped the inode and its pages: nothing left to keep.
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->seen.erase(ino);
}

Result<Entry> Vfs::GetAttr(uint64_t ino) {
  Result<NodeInfo> info = ns_->GetAttr(ino);
  if (!info.ok()) return info.status();
  NoteVersion(*info, nullptr);
  return MakeEntry(*info);
}

Result<uint64_t> Vfs::OpenDir(uint64_t ino) {
  Result<std::shared_ptr<const Listing>> listing = ns_->ReadDir(ino);
  if (!listing.ok()) return listing.status();
  auto handle = std::make_shared<DirHandle>(DirHandle{ino, ns_->ParentInode(ino), *listing});
  uint64_t fh = state_->next_fh++;
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->dirs.emplace(fh, std::move(handle));
  return fh;
}

Status Vfs::ReadDir(uint64_t ino, uint64_t fh, uint64_t offset, bool plus,
                    const DirEntrySink& sink) {
  std::shared_ptr<DirHandle> dir;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->dirs.find(fh);
    if (it == state_->dirs.end()) return Status::InvalidArgument("bad directory handle");
    dir = it->second;
  }
  if (dir->ino != ino) return Status::InvalidArgument("handle of another directory");
  const auto& entries = dir->listing->entries;
  for (uint64_t i = offset; i < entries.size() + 2; ++i) {
    DirEntry out;
    out.offset = i + 1;
    if (i < 2) {
      out.name = i == 0 ? "." : "..";
      out.entry.attr.st_ino = i == 0 ? dir->ino : dir->parent_ino;
      out.entry.attr.st_mode = S_IFDIR | options_.dir_mode;
      if (!sink(out)) return Status::Ok();
      continue;
    }
    const ListingEntry& e = entries[i - 2];
    out.name = e.name;
    if (plus) {
      Result<NodeInfo> info = ns_->Ref(ino, e);
      if (!info.ok()) return info.status();
      out.entry = MakeEntry(*info);
      out.counted = true;
      if (!sink(out)) {
        Forget(info->ino, 1);
        return Status::Ok();
      }
    } else {
      out.entry.attr.st_ino = ns_->InodeFor(ino, e.name);
      out.entry.attr.st_mode = e.type == NodeType::kDirectory ? S_IFDIR : S_IFREG;
      if (!sink(out)) return Status::Ok();
    }
  }
  return Status::Ok();
}

Status Vfs::ReleaseDir(uint64_t fh) {
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->dirs.erase(fh) == 0) return Status::InvalidArgument("bad directory handle");
  return Status::Ok();
}

Result<OpenResult> Vfs::Open(uint64_t ino, int flags) {
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) {
    return Modify("open for writing");
  }
  Result<NodeInfo> info = ns_->GetAttr(ino);
  if (!info.ok()) return info.status();
  if (info->type == NodeType::kDirectory) return Status::IsADirectory(info->path);
  OpenResult out;
  NoteVersion(*info, &out.keep_cache);
  auto handle = std::make_shared<Handle>();
  handle->ino = ino;
  handle->version = ObjectVersion{store_id_, info->key, info->etag, info->size};
  handle->reader = readers_->Open(ino, handle->version);
  if (!open_listeners_.empty()) NotifyOpen(*info, handle->version);
  std::lock_guard<std::mutex> lock(state_->mu);
  out.fh = state_->next_fh++;
  state_->files.emplace(out.fh, std::move(handle));
  return out;
}

Result<std::shared_ptr<Vfs::Handle>> Vfs::FindFile(uint64_t fh) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->files.find(fh);
  if (it == state_->files.end()) return Status::InvalidArgument("bad file handle");
  return it->second;
}

Result<size_t> Vfs::Read(uint64_t fh, uint64_t offset, std::span<char> dst) {
  Result<std::shared_ptr<Handle>> handle = FindFile(fh);
  if (!handle.ok()) return handle.status();
  if (offset >= (*handle)->version.size || dst.empty()) return size_t{0};
  return (*handle)->reader->Read(offset, dst);
}

Result<ReadBuffers> Vfs::ReadPinned(uint64_t fh, uint64_t offset, size_t size) {
  Result<std::shared_ptr<Handle>> handle = FindFile(fh);
  if (!handle.ok()) return handle.status();
  if (offset >= (*handle)->version.size || size == 0) return ReadBuffers{};
  return (*handle)->reader->ReadPinned(offset, size);
}

Status Vfs::Release(uint64_t fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->files.find(fh);
    if (it == state_->files.end()) return Status::InvalidArgument("bad file handle");
    handle = std::move(it->second);
    state_->files.erase(it);
  }
  // The reader is destroyed here, outside the lock (it may wait for its own
  // readahead to stop).
  return Status::Ok();
}

Result<struct statvfs> Vfs::StatFs() {
  // An object store has no capacity to report; large numbers keep tools
  // that check free space (installers, df-based checks) from refusing.
  struct statvfs st {};
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_blocks = (1ull << 50) / 4096;  // 1 PiB
  st.f_bfree = st.f_blocks;
  st.f_bavail = st.f_blocks;
  st.f_files = 1ull << 32;
  st.f_ffree = st.f_files;
  st.f_favail = st.f_files;
  st.f_namemax = kMaxNameBytes;
  st.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
  return st;
}

Status Vfs::Modify(std::string_view operation) {
  return Status::ReadOnly(std::string(operation) + ": strata mounts are read-only");
}

}  // namespace strata
