#include "cache/disk_tier.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cache/disk_format.h"

namespace strata::cache {
namespace {

std::string Hex(uint64_t v, int width) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

DiskTier::DiskTier(const DiskTierOptions& options, std::shared_ptr<DiskIo> io)
    : options_(options), io_(std::move(io)) {}

DiskTier::~DiskTier() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<DiskTier>> DiskTier::Open(const DiskTierOptions& options,
                                                 std::shared_ptr<DiskIo> io) {
  std::unique_ptr<DiskTier> tier(new DiskTier(options, std::move(io)));
  auto policy = MakeEvictionPolicy(options.policy, options.limit_bytes);
  if (!policy.ok()) return policy.status();
  tier->policy_ = std::move(policy).value();
  STRATA_RETURN_IF_ERROR(tier->PrepareLayout());
  STRATA_RETURN_IF_ERROR(tier->LoadIndex());
  return tier;
}

Status DiskTier::LockDirectory() {
  std::string path = options_.dir + "/LOCK";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Status::IoError("cannot open cache lock file " + path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {0};
    ssize_t n = ::pread(lock_fd_, pid, sizeof(pid) - 1, 0);
    std::string owner = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "unknown";
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      return Status::Unavailable("cache directory " + options_.dir +
                                 " is in use by another strata process (pid " + owner + ")");
    }
    return Status::IoError("cannot lock " + path + ": " + std::strerror(err));
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 ||
      ::pwrite(lock_fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    spdlog::warn("cache: cannot record pid in {}: {}", path, std::strerror(errno));
  }
  return Status::Ok();
}

Status DiskTier::PrepareLayout() {
  // mkdir -p
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = options_.dir.find('/', pos + 1);
    std::string prefix = options_.dir.substr(0, pos);
    if (!prefix.empty()) STRATA_RETURN_IF_ERROR(io_->CreateDir(prefix));
  }
  STRATA_RETURN_IF_ERROR(LockDirectory());

  // A cache written with another geometry would be misread: start empty.
  const Geometry& g = options_.geometry;
  std::string format = "strata block cache v1\nblock_size=" + std::to_string(g.block_size) +
                       "\npage_size=" + std::to_string(g.page_size) + "\n";
  std::string format_path = options_.dir + "/FORMAT";
  std::string found;
  if (auto f = io_->OpenForRead(format_path); f.ok()) {
    found.resize(4096);
    std::span<char> dst(found);
    auto n = (*f)->ReadAt(0, std::span<const std::span<char>>(&dst, 1));
    found.resize(n.ok() ? *n : 0);
  }
  bool wipe = !found.empty() && found != format;
  if (found != format) {
    if (wipe) {
      spdlog::warn("cache: {} was written with another block/page size; discarding it",
                   options_.dir);
    }
    std::string tmp = format_path + ".tmp";
    io_->Remove(tmp).ok();
    std::string_view view(format);
    STRATA_RETURN_IF_ERROR(io_->WriteNewFile(tmp, {std::span<const char>(view)}));
    STRATA_RETURN_IF_ERROR(io_->Rename(tmp, format_path));
  }

  STRATA_RETURN_IF_ERROR(io_->CreateDir(options_.dir + "/blocks"));
  for (int i = 0; i < 256; ++i) {
    std::string sub = options_.dir + "/blocks/" + Hex(i, 2);
    STRATA_RETURN_IF_ERROR(io_->CreateDir(sub));
    if (!wipe) continue;
    auto names = io_->ListDir(sub);
    if (!names.ok()) return names.status();
    for (const auto& n : *names) io_->Remove(sub + "/" + n).ok();
  }
  // Temp files are writes a crash interrupted: never complete, never indexed.
  std::string tmp_dir = options_.dir + "/tmp";
  STRATA_RETURN_IF_ERROR(io_->CreateDir(tmp_dir));
  auto temps = io_->ListDir(tmp_dir);
  if (!temps.ok()) return temps.status();
  for (const auto& n : *temps) STRATA_RETURN_IF_ERROR(io_->Remove(tmp_dir + "/" + n));
  return Status::Ok();
}

Status DiskTier::LoadIndex() {
  const Geometry& g = options_.geometry;
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < 256; ++i) {
    std::string sub = options_.dir + "/blocks/" + Hex(i, 2);
    auto names = io_->ListDir(sub);
    if (!names.ok()) return names.status();
    // Files spread evenly over the directories: size the index once.
    if (i == 0) index_.reserve(names->size() * 256 + names->size() * 32);
    for (const auto& name : *names) {
      auto f = BlockFileName::Parse(name, g.pages_per_block);
      uint64_t id = f ? BlockId(f->version, f->block) : 0;
      if (!f || static_cast<int>(id & 0xff) != i) {
        io_->Remove(sub + "/" + name).ok();  // not ours, or misplaced
        continue;
      }
      Entry e{f->object, f->version, f->block, f->mask, 0};
      // The header size is not known without reading the file; charge one
      // alignment unit for it and a full page for each page (an upper bound
      // unless keys are kilobytes long).
      e.bytes = kDataAlign + uint64_t{e.mask.Count()} * g.page_size;
      auto it = index_.find(id);
      if (it != index_.end()) {
        // Two files for one block: a crash between rename and unlink of the
        // older one. Keep the one with more pages.
        bool keep_new = e.version == it->second.version && e.block == it->second.block &&
                        e.mask.Count() > it->second.mask.Count();
        if (!keep_new) {
          io_->Remove(sub + "/" + name).ok();
          continue;
        }
        EraseLocked(id);
      }
      index_.emplace(id, e);
      policy_->OnInsert(id, e.bytes);
      used_ += e.bytes;
    }
  }
  // The limit may have shrunk since the last run.
  while (used_ > options_.limit_bytes) {
    auto victim = policy_->PickVictim();
    if (!victim) break;
    EraseLocked(*victim);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  return Status::Ok();
}

std::string DiskTier::PathOf(uint64_t id, const Entry& e) const {
  return options_.dir + "/blocks/" + Hex(id & 0xff, 2) + "/" +
         BlockFileName{e.object, e.version, e.block, e.mask}.ToString();
}

size_t DiskTier::Read(const ObjectVersion& v, VersionHash h, uint64_t block, uint32_t first,
                      uint32_t last, PageData* out) {
  uint64_t id = BlockId(h.version, block);
  uint32_t asked = last - first + 1;
  Entry e;
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(id);
    if (it != index_.end() && it->second.version == h.version && it->second.block == block) {
      e = it->second;
      for (uint32_t p = first; p <= last && !any; ++p) any = e.mask.Test(p);
      if (any) policy_->OnAccess(id);
    }
  }
  if (!any || !ReadVerified(id, e, v, h, first, last, out)) {
    misses_.fetch_add(asked, std::memory_order_relaxed);
    return 0;
  }
  size_t found = 0;
  uint64_t bytes = 0;
  for (uint32_t p = first; p <= last; ++p) {
    if (!e.mask.Test(p)) continue;
    ++found;
    bytes += out[p - first]->size();
  }
  hits_.fetch_add(found, std::memory_order_relaxed);
  misses_.fetch_add(asked - found, std::memory_order_relaxed);
  hit_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  return found;
}

bool DiskTier::ReadVerified(uint64_t id, const Entry& e, const ObjectVersion& v, VersionHash h,
                            uint32_t first, uint32_t last, PageData* out) {
  const Geometry& g = options_.geometry;
  std::string path = PathOf(id, e);
  auto fail = [&](const std::string& why) {
    checksum_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("cache: dropping {}: {}", path, why);
    DropIfSame(id, e);
    return false;
  };
  auto file = io_->OpenForRead(path);
  if (!file.ok()) {
    if (file.status().code() != Code::kNotFound) return fail(file.status().ToString());
    DropIfSame(id, e);  // removed behind our back: just forget it
    return false;
  }
  std::string head(kDataAlign, '\0');
  size_t need = 0;
  Result<BlockHeader> header = Status::NotFound("unread");
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::span<char> dst(head);
    auto n = (*file)->ReadAt(0, std::span<const std::span<char>>(&dst, 1));
    if (!n.ok()) return fail(n.status().ToString());
    header = BlockHeader::Decode(std::span<const char>(head.data(), *n), &need);
    if (header.ok() || header.status().code() != Code::kNotFound || *n < head.size()) break;
    head.resize(need);
  }
  if (!header.ok()) return fail("truncated or bad header: " + header.status().message());
  const BlockHeader& hd = *header;
  if (hd.store != v.store || hd.key != v.key || hd.etag != v.etag || hd.block != e.block ||
      hd.block_size != g.block_size || hd.page_size != g.page_size ||
      hd.pages_per_block != g.pages_per_block || hd.object_size != v.size || !(hd.mask == e.mask)) {
    return fail("header does not match the object version or the file name");
  }
  // The present pages in [first, last] are adjacent in the file.
  std::vector<std::shared_ptr<Page>> pages;
  std::vector<std::span<char>> spans;
  uint32_t first_present = last + 1;
  for (uint32_t p = first; p <= last; ++p) {
    if (!e.mask.Test(p)) continue;
    if (first_present > last) first_present = p;
    uint64_t len = g.PageLength(e.block * g.pages_per_block + p, v.size);
    if (len == 0) return fail("page beyond the end of the object");
    pages.push_back(std::make_shared<Page>(options_.arena, len));
    spans.emplace_back(pages.back()->data(), len);
  }
  uint64_t want = 0;
  for (auto s : spans) want += s.size();
  uint64_t offset = hd.DataStart() + uint64_t{e.mask.Rank(first_present)} * g.page_size;
  auto n = (*file)->ReadAt(offset, spans);
  if (!n.ok()) return fail(n.status().ToString());
  if (*n != want) return fail("truncated file");
  size_t k = 0;
  for (uint32_t p = first; p <= last; ++p) {
    if (!e.mask.Test(p)) continue;
    uint64_t page_index = e.block * g.pages_per_block + p;
    const Page& page = *pages[k++];
    if (PageChecksum(h.version, page_index * g.page_size, page.data(), page.size()) !=
        hd.checksums[e.mask.Rank(p)]) {
      return fail("checksum mismatch in page " + std::to_string(p));
    }
  }
  k = 0;
  for (uint32_t p = first; p <= last; ++p) {
    if (e.mask.Test(p)) out[p - first] = std::move(pages[k++]);
  }
  return true;
}

bool DiskTier::Contains(VersionHash h, uint64_t block, uint32_t page) {
  uint64_t id = BlockId(h.version, block);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(id);
  return it != index_.end() && it->second.version == h.version && it->second.block == block &&
         it->second.mask.Test(page);
}

PageMask DiskTier::ResidentPages(VersionHash h, uint64_t block) {
  uint64_t id = BlockId(h.version, block);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end() || it->second.version != h.version || it->second.block != block) {
    return PageMask(options_.geometry.pages_per_block);
  }
  return it->second.mask;
}

void DiskTier::DropIfSame(uint64_t id, const Entry& e) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(id);
  if (it != index_.end() && it->second.version == e.version && it->second.block == e.block &&
      it->second.mask == e.mask) {
    EraseLocked(id);
  }
}

void DiskTier::EraseLocked(uint64_t id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  io_->Remove(PathOf(id, it->second)).ok();  // already gone is fine
  used_ -= it->second.bytes;
  policy_->OnRemove(id);
  index_.erase(it);
}

bool DiskTier::MakeRoomLocked(uint64_t bytes) {
  if (bytes > options_.limit_bytes) return false;
  while (used_ + reserved_ + bytes > options_.limit_bytes) {
    auto victim = policy_->PickVictim();
    if (!victim) return false;
    EraseLocked(*victim);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  auto free = io_->FreeBytes(options_.dir);
  if (!free.ok()) return true;  // cannot tell: the write itself will fail if full
  uint64_t avail = *free;
  while (avail < options_.free_floor_bytes + bytes) {
    auto victim = policy_->PickVictim();
    if (!victim) return false;
    auto it = index_.find(*victim);
    avail += it == index_.end() ? 0 : it->second.bytes;
    EraseLocked(*victim);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

void DiskTier::WriteFailed(const Status& status) {
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  if (warned_write_) return;
  warned_write_ = true;
  spdlog::warn("cache: cannot write to the disk cache {} ({}); reads go on from the store",
               options_.dir, status.ToString());
}

void DiskTier::Write(const PutToken& token, uint64_t object_size, uint64_t block,
                     const std::vector<std::pair<uint32_t, PageData>>& pages) {
  if (!token.valid() || pages.empty()) return;
  const Geometry& g = options_.geometry;
  const VersionKey& vk = *token.version();
  uint64_t id = BlockId(vk.hash.version, block);

  std::vector<PageData> all(g.pages_per_block);
  PageMask mask(g.pages_per_block);
  for (const auto& [p, data] : pages) {
    all[p] = data;
    mask.Set(p);
  }
  Entry old;
  bool have_old = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(id);
    if (it != index_.end() && it->second.version == vk.hash.version && it->second.block == block) {
      old = it->second;
      have_old = true;
    }
  }
  if (have_old && old.mask.Contains(mask)) return;  // nothing new
  if (have_old) {
    // Keep what is already on disk: the new file replaces the old one.
    ObjectVersion v{vk.store, vk.key, vk.etag, object_size};
    std::vector<PageData> existing(g.pages_per_block);
    if (ReadVerified(id, old, v, vk.hash, 0, g.pages_per_block - 1, existing.data())) {
      for (uint32_t p = 0; p < g.pages_per_block; ++p) {
        if (!all[p] && existing[p]) {
          all[p] = std::move(existing[p]);
          mask.Set(p);
        }
      }
    }
  }

  BlockHeader header;
  header.store = vk.store;
  header.key = vk.key;
  header.etag = vk.etag;
  header.block_size = g.block_size;
  header.page_size = static_cast<uint32_t>(g.page_size);
  header.pages_per_block = g.pages_per_block;
  header.block = block;
  header.object_size = object_size;
  header.mask = mask;
  uint64_t bytes = 0;
  for (uint32_t p = 0; p < g.pages_per_block; ++p) {
    if (!all[p]) continue;
    uint64_t offset = (block * g.pages_per_block + p) * g.page_size;
    header.checksums.push_back(
        PageChecksum(vk.hash.version, offset, all[p]->data(), all[p]->size()));
    bytes += all[p]->size();
  }
  std::string head = header.Encode();
  bytes += head.size();
  std::vector<std::span<const char>> parts{std::span<const char>(head)};
  for (const auto& page : all) {
    if (page) parts.emplace_back(page->data(), page->size());
  }

  std::string temp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!MakeRoomLocked(bytes)) {
      temp.clear();
    } else {
      reserved_ += bytes;
      temp = options_.dir + "/tmp/" + Hex(id, 16) + "." + std::to_string(temp_seq_++) + ".tmp";
    }
  }
  if (temp.empty()) {
    WriteFailed(Status::NoSpace("no room under the cache limit and free-space floor"));
    return;
  }
  Status st = io_->WriteNewFile(temp, parts);
  Status failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reserved_ -= bytes;
    if (!st.ok()) {
      failed = st;
    } else if (!token.valid()) {
      io_->Remove(temp).ok();  // invalidated while writing
      return;
    } else {
      Entry e{vk.hash.object, vk.hash.version, block, mask, bytes};
      std::string final_path = PathOf(id, e);
      Status renamed = io_->Rename(temp, final_path);
      if (!renamed.ok()) {
        io_->Remove(temp).ok();
        failed = renamed;
      } else {
        auto it = index_.find(id);
        bool same =
            it != index_.end() && it->second.version == e.version && it->second.block == block;
        if (it != index_.end()) {
          if (PathOf(id, it->second) != final_path) io_->Remove(PathOf(id, it->second)).ok();
          used_ -= it->second.bytes;
          if (!same) policy_->OnRemove(id);
          index_.erase(it);
        }
        index_.emplace(id, e);
        used_ += bytes;
        if (same) {
          policy_->OnResize(id, bytes);
        } else {
          policy_->OnInsert(id, bytes);
        }
        inserted_bytes_.fetch_add(bytes, std::memory_order_relaxed);
      }
    }
  }
  if (!failed.ok()) WriteFailed(failed);
}

void DiskTier::DropObject(const std::string& store, const std::string& key,
                          const std::string& keep_etag) {
  VersionHash keep = VersionHash::Of(store, key, keep_etag);
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> drop;
  for (const auto& [id, e] : index_) {
    if (e.object == keep.object && (keep_etag.empty() || e.version != keep.version)) {
      drop.push_back(id);
    }
  }
  for (uint64_t id : drop) EraseLocked(id);
}

void DiskTier::EnforceFreeFloor() {
  std::lock_guard<std::mutex> lock(mu_);
  auto free = io_->FreeBytes(options_.dir);
  if (!free.ok()) return;
  uint64_t avail = *free;
  while (avail < options_.free_floor_bytes) {
    auto victim = policy_->PickVictim();
    if (!victim) return;
    auto it = index_.find(*victim);
    avail += it == index_.end() ? 0 : it->second.bytes;
    EraseLocked(*victim);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

TierStats DiskTier::Stats() const {
  TierStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.hit_bytes = hit_bytes_.load(std::memory_order_relaxed);
  s.inserted_bytes = inserted_bytes_.load(std::memory_order_relaxed);
  s.evictions = evictions_.load(std::memory_order_relaxed);
  s.checksum_failures = checksum_failures_.load(std::memory_order_relaxed);
  s.write_errors = write_errors_.load(std::memory_order_relaxed);
  s.limit_bytes = options_.limit_bytes;
  std::lock_guard<std::mutex> lock(mu_);
  s.used_bytes = used_ + reserved_;
  return s;
}

size_t DiskTier::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.size();
}

}  // namespace strata::cache
