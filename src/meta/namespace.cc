#include "strata/namespace.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "strata/thread_pool.h"

namespace strata {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::chrono::steady_clock::duration Ttl(double seconds) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds));
}

std::string JoinPath(const std::string& parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string p = parent;
  p += '/';
  p += name;
  return p;
}

std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

using ListingResult = Result<std::shared_ptr<const Listing>>;

}  // namespace

const ListingEntry* Listing::Find(std::string_view name) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const ListingEntry& e, std::string_view n) { return e.name < n; });
  if (it == entries.end() || it->name != name) return nullptr;
  return &*it;
}

bool Namespace::IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  if (name == "." || name == "..") return false;
  return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

struct Namespace::Impl {
  struct Node {
    NodeInfo info;
    uint64_t lookups = 0;
    SteadyTime attr_expiry;
  };
  struct CachedListing {
    std::shared_ptr<const Listing> listing;
    SteadyTime expiry;
    bool children_queued = false;  // its subdirectories' listings were fetched ahead
  };

  std::shared_ptr<ObjectStore> store;
  NamespaceOptions options;
  std::shared_ptr<Clock> clock;
  int64_t mount_time_sec;

  // One lock over all tables; never held across a store request.
  mutable std::mutex mu;
  std::unordered_map<uint64_t, Node> nodes;                 // guarded by mu
  std::unordered_map<std::string, uint64_t> by_path;        // guarded by mu
  std::unordered_map<std::string, CachedListing> listings;  // by dir path; guarded by mu
  std::unordered_map<std::string, SteadyTime> negatives;    // by path; guarded by mu
  // Listings being fetched, so concurrent readers of one directory share one
  // listing (DataLoader workers all list the dataset at start-up).
  std::unordered_map<std::string, std::shared_future<ListingResult>> listing_fetches;  // mu
  std::unordered_set<std::string> warned_keys;  // guarded by mu
  size_t prune_threshold = 4096;                // guarded by mu
  NamespaceStats stats;                         // guarded by mu

  // Listings of subdirectories fetched ahead (options.listing_prefetch
  // threads). Set by the constructor; declared after every table it uses, so
  // it stops (dropping queued work, joining running work) before they go.
  std::unique_ptr<ThreadPool> prefetch_pool;

  SteadyTime Now() const { return clock->Steady(); }

  // The listing of directory `path`: cached while fresh, else fetched once
  // for all concurrent callers.
  ListingResult ListPath(const std::string& path) {
    std::promise<ListingResult> promise;
    std::shared_future<ListingResult> joined;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto cached = listings.find(path);
      if (cached != listings.end() && Now() < cached->second.expiry) {
        return cached->second.listing;
      }
      auto inflight = listing_fetches.find(path);
      if (inflight != listing_fetches.end()) {
        joined = inflight->second;
      } else {
        listing_fetches.emplace(path, promise.get_future().share());
      }
    }
    if (joined.valid()) return joined.get();
    ListingResult fetched = FetchListing(path);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (fetched.ok() && options.listing_ttl_s > 0) {
        listings[path] = {*fetched, Now() + Ttl(options.listing_ttl_s)};
        PruneIfLarge();
      }
      listing_fetches.erase(path);
    }
    promise.set_value(fetched);
    return fetched;
  }

  // Queues, once per cached listing of `path`, the fetch of its
  // subdirectories' listings that are neither fresh nor in flight. One level
  // only: the fetched listings queue nothing, so reading the root does not
  // walk the bucket; a walk that goes on reads the next level and queues it.
  void QueueChildren(const std::string& path, const std::shared_ptr<const Listing>& listing) {
    constexpr size_t kMaxPrefetchedChildren = 1024;
    std::vector<std::string> todo;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = listings.find(path);
      if (it == listings.end() || it->second.listing != listing || it->second.children_queued) {
        return;
      }
      it->second.children_queued = true;
      const SteadyTime now = Now();
      for (const ListingEntry& e : listing->entries) {
        if (e.type != NodeType::kDirectory) continue;
        std::string child = JoinPath(path, e.name);
        auto c = listings.find(child);
        if (c != listings.end() && now < c->second.expiry) continue;
        if (listing_fetches.count(child) != 0) continue;
        todo.push_back(std::move(child));
        if (todo.size() == kMaxPrefetchedChildren) break;
      }
      stats.listing_prefetches += todo.size();
    }
    // A failed fetch is not cached: the reader's own ReadDir reports it.
    for (std::string& child : todo) {
      prefetch_pool->Submit([this, child = std::move(child)] { ListPath(child).ok(); });
    }
  }

  std::string FileKey(const std::string& path) const { return options.key_prefix + path; }
  std::string DirKey(const std::string& path) const {
    return path.empty() ? options.key_prefix : options.key_prefix + path + "/";
  }

  uint64_t HashIno(const std::string& path) const {
    uint64_t h = XXH3_64bits(path.data(), path.size());
    return h <= kRootInode ? h + 2 : h;
  }

  // Requires mu.
  void WarnOnce(const std::string& key, const std::string& why, uint64_t* counter) {
    if (!warned_keys.insert(key).second) return;
    ++*counter;
    spdlog::warn("skipping key '{}': {}", key, why);
  }

  // Requires mu. The live inode of `path` with `type`, created if needed.
  Node& Upsert(const std::string& path, NodeType type) {
    auto it = by_path.find(path);
    if (it != by_path.end()) {
      Node& existing = nodes.at(it->second);
      if (existing.info.type == type) return existing;
      // A path that changed type gets a new inode: the kernel must not see
      // one inode switch between file and directory. The old inode stays
      // until the kernel forgets it.
      by_path.erase(it);
    }
    uint64_t ino = HashIno(path);
    while (ino <= kRootInode || nodes.count(ino) != 0) ++ino;
    Node& n = nodes[ino];
    n.info.ino = ino;
    n.info.type = type;
    n.info.path = path;
    n.info.key = type == NodeType::kFile ? FileKey(path) : DirKey(path);
    n.info.mtime_sec = mount_time_sec;
    by_path[path] = ino;
    stats.live_inodes = nodes.size();
    return n;
  }

  // Requires mu. A copy of the node's info for a caller.
  NodeInfo Out(const Node& n) const {
    NodeInfo info = n.info;
    if (info.type == NodeType::kDirectory) {
      info.fresh_for_s = options.attr_ttl_s;
    } else {
      info.fresh_for_s =
          std::max(0.0, std::chrono::duration<double>(n.attr_expiry - clock->Steady()).count());
    }
    return info;
  }

  // Requires mu.
  void Fill(Node* n, const ListingEntry& e, SteadyTime expiry) {
    n->info.size = e.type == NodeType::kFile ? e.size : 0;
    n->info.etag = e.etag;
    n->info.mtime_sec = e.type == NodeType::kFile ? e.mtime_sec : mount_time_sec;
    n->attr_expiry = expiry;
  }

  // Requires mu. Answers the lookup of `name` (full path `path`) from a
  // complete listing of its parent.
  Result<NodeInfo> AnswerFromListing(const Listing& listing, const std::string& path,
                                     std::string_view name, SteadyTime expiry) {
    const ListingEntry* e = listing.Find(name);
    if (e == nullptr) return Status::NotFound("no entry '" + path + "'");
    Node& n = Upsert(path, e->type);
    Fill(&n, *e, expiry);
    n.lookups++;
    return Out(n);
  }

  // Requires mu. The fresh cached listing of `dir_path`, or null.
  const Listing* FreshListing(const std::string& dir_path) {
    auto it = listings.find(dir_path);
    if (it == listings.end()) return nullptr;
    if (Now() >= it->second.expiry) return nullptr;
    return it->second.listing.get();
  }

  // Requires mu. Drops expired listings and negative entries once the tables
  // grow past a threshold, so memory follows the working set.
  void PruneIfLarge() {
    if (listings.size() + negatives.size() < prune_threshold) return;
    SteadyTime now = Now();
    std::erase_if(listings, [&](const auto& kv) { return now >= kv.second.expiry; });
    std::erase_if(negatives, [&](const auto& kv) { return now >= kv.second; });
    if (listings.size() + negatives.size() >= prune_threshold / 2) prune_threshold *= 2;
  }

  // Requires mu. Parent must be a live directory.
  Result<const Node*> ParentDir(uint64_t parent) {
    auto it = nodes.find(parent);
    if (it == nodes.end()) return Status::NotFound("no inode " + std::to_string(parent));
    if (it->second.info.type != NodeType::kDirectory) {
      return Status::NotADirectory("'" + it->second.info.path + "' is not a directory");
    }
    return &it->second;
  }

  // Asks the store what `path` is: a directory (some key below path/), a
  // file (the key itself) or nothing. No lock held.
  Result<ListingEntry> Probe(const std::string& path) {
    ListRequest probe;
    probe.prefix = DirKey(path);
    // Flat (no delimiter): the first key at any depth proves the directory,
    // even on servers whose delimiter listings drop deep-only prefixes.
    probe.delimiter.clear();
    probe.max_keys = 1;
    auto listing = std::async(std::launch::async, [this, probe] { return store->List(probe); });
    Result<ObjectInfo> head = store->Head(FileKey(path));
    Result<ListPage> page = listing.get();
    {
      std::lock_guard<std::mutex> lock(mu);
      stats.heads++;
      stats.lists++;
    }
    ListingEntry e;
    e.name = BaseName(path);
    if (page.ok() && (!page->objects.empty() || !page->common_prefixes.empty())) {
      if (head.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        WarnOnce(FileKey(path), "a directory of the same name hides this file",
                 &stats.hidden_files);
      }
      e.type = NodeType::kDirectory;
      return e;
    }
    if (!page.ok() && page.status().code() != Code::kNotFound) return page.status();
    if (!head.ok()) return head.status();
    e.type = NodeType::kFile;
    e.size = head->size;
    e.etag = head->etag;
    e.mtime_sec = head->mtime_sec;
    return e;
  }

  // All pages of the listing of `dir_path`, turned into POSIX entries. No
  // lock held except to count and warn.
  ListingResult FetchListing(const std::string& dir_path) {
    const std::string prefix = DirKey(dir_path);
    auto listing = std::make_shared<Listing>();
    listing->dir_path = dir_path;
    std::vector<ListingEntry> files;
    std::vector<ListingEntry> dirs;
    ListRequest req;
    req.prefix = prefix;
    req.max_keys = options.list_page_size;
    do {
      Result<ListPage> page = store->List(req);
      {
        std::lock_guard<std::mutex> lock(mu);
        stats.lists++;
      }
      if (!page.ok()) return page.status();
      std::lock_guard<std::mutex> lock(mu);
      for (const ObjectInfo& o : page->objects) {
        if (o.key.size() < prefix.size() || o.key.compare(0, prefix.size(), prefix) != 0) continue;
        std::string name = o.key.substr(prefix.size());
        if (name.empty()) continue;  // this directory's own marker object
        if (!IsValidName(name)) {
          WarnOnce(o.key, "not a valid POSIX name", &stats.skipped_keys);
          continue;
        }
        files.push_back({name, NodeType::kFile, o.size, o.etag, o.mtime_sec});
      }
      for (const std::string& cp : page->common_prefixes) {
        if (cp.size() <= prefix.size() || cp.compare(0, prefix.size(), prefix) != 0 ||
            cp.back() != '/') {
          continue;
        }
        std::string name = cp.substr(prefix.size(), cp.size() - prefix.size() - 1);
        if (!IsValidName(name)) {
          WarnOnce(cp, "not a valid POSIX name", &stats.skipped_keys);
          continue;
        }
        dirs.push_back({name, NodeType::kDirectory, 0, "", mount_time_sec});
      }
      req.continuation_token = page->next_continuation_token;
    } while (!req.continuation_token.empty());

    auto by_name = [](const ListingEntry& a, const ListingEntry& b) { return a.name < b.name; };
    std::sort(files.begin(), files.end(), by_name);
    std::sort(dirs.begin(), dirs.end(), by_name);
    std::lock_guard<std::mutex> lock(mu);
    // Merge; on a name that is both, the directory wins (see the header).
    auto f = files.begin();
    auto d = dirs.begin();
    while (f != files.end() || d != dirs.end()) {
      if (d == dirs.end() || (f != files.end() && f->name < d->name)) {
        listing->entries.push_back(std::move(*f++));
      } else {
        if (f != files.end() && f->name == d->name) {
          WarnOnce(prefix + f->name, "a directory of the same name hides this file",
                   &stats.hidden_files);
          ++f;
        }
        if (listing->entries.empty() || listing->entries.back().name != d->name) {
          listing->entries.push_back(std::move(*d));
        }
        ++d;
      }
    }
    return std::shared_ptr<const Listing>(std::move(listing));
  }
};

Namespace::Namespace(std::shared_ptr<ObjectStore> store, NamespaceOptions options,
                     std::shared_ptr<Clock> clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = std::move(store);
  impl_->options = std::move(options);
  impl_->clock = std::move(clock);
  impl_->mount_time_sec =
      std::chrono::duration_cast<std::chrono::seconds>(impl_->clock->Now().time_since_epoch())
          .count();
  Impl::Node& root = impl_->nodes[kRootInode];
  root.info.ino = kRootInode;
  root.info.type = NodeType::kDirectory;
  root.info.key = impl_->DirKey("");
  root.info.mtime_sec = impl_->mount_time_sec;
  root.lookups = 1;  // the kernel never forgets the root
  if (impl_->options.listing_prefetch > 0 && impl_->options.listing_ttl_s > 0) {
    impl_->prefetch_pool =
        std::make_unique<ThreadPool>(static_cast<size_t>(impl_->options.listing_prefetch));
  }
  impl_->by_path[""] = kRootInode;
  impl_->stats.live_inodes = 1;
}

Namespace::~Namespace() = default;

Result<NodeInfo> Namespace::Lookup(uint64_t parent, std::string_view name) {
  if (name.size() > kMaxNameBytes) return Status::NameTooLong(std::string(name.substr(0, 64)));
  if (!IsValidName(name)) return Status::NotFound("not a valid name");
  Impl& m = *impl_;
  std::string path;
  bool relist = false;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    Result<const Impl::Node*> dir = m.ParentDir(parent);
    if (!dir.ok()) return dir.status();
    path = JoinPath((*dir)->info.path, name);

    if (const Listing* listing = m.FreshListing((*dir)->info.path)) {
      m.stats.listing_hits++;
      return m.AnswerFromListing(*listing, path, name, m.listings[(*dir)->info.path].expiry);
    }
    auto neg = m.negatives.find(path);
    if (neg != m.negatives.end()) {
      if (m.Now() < neg->second) {
        m.stats.negative_hits++;
        return Status::NotFound("no entry '" + path + "'");
      }
      m.negatives.erase(neg);
    }
    auto live = m.by_path.find(path);
    if (live != m.by_path.end()) {
      Impl::Node& n = m.nodes.at(live->second);
      if (m.Now() < n.attr_expiry) {
        n.lookups++;
        return m.Out(n);
      }
    }
    relist = m.listings.count((*dir)->info.path) > 0;
  }

  // The parent was listed before and its listing expired: one LIST of the
  // parent (shared with concurrent lookups and readdirs) answers this and
  // every sibling lookup, where probing would cost a HEAD and a LIST per name
  // (a DataLoader opening every file of a class folder after the TTL).
  if (relist) {
    Result<std::shared_ptr<const Listing>> listing = ReadDir(parent);
    // A name the new listing lacks still gets the probe below: a server whose
    // delimiter listings miss deep-only prefixes must not hide them for good.
    if (listing.ok() && (*listing)->Find(name) != nullptr) {
      std::lock_guard<std::mutex> lock(m.mu);
      if (!m.ParentDir(parent).ok()) return Status::NotFound("no entry '" + path + "'");
      m.stats.listing_hits++;
      return m.AnswerFromListing(**listing, path, name, m.Now() + Ttl(m.options.listing_ttl_s));
    }
  }

  Result<ListingEntry> found = m.Probe(path);
  std::lock_guard<std::mutex> lock(m.mu);
  if (!found.ok()) {
    if (found.status().code() == Code::kNotFound && m.options.negative_ttl_s > 0) {
      m.negatives[path] = m.Now() + Ttl(m.options.negative_ttl_s);
      m.PruneIfLarge();
    }
    return found.status();
  }
  // The parent may have been forgotten while we asked the store.
  Result<const Impl::Node*> dir = m.ParentDir(parent);
  if (!dir.ok()) return dir.status();
  Impl::Node& n = m.Upsert(path, found->type);
  m.Fill(&n, *found, m.Now() + Ttl(m.options.attr_ttl_s));
  n.lookups++;
  return m.Out(n);
}

Result<NodeInfo> Namespace::Ref(uint64_t parent, const ListingEntry& entry) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Result<const Impl::Node*> dir = m.ParentDir(parent);
  if (!dir.ok()) return dir.status();
  Impl::Node& n = m.Upsert(JoinPath((*dir)->info.path, entry.name), entry.type);
  m.Fill(&n, entry, m.Now() + Ttl(m.options.attr_ttl_s));
  n.lookups++;
  return m.Out(n);
}

bool Namespace::Forget(uint64_t ino, uint64_t nlookup) {
  if (ino == kRootInode) return false;
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.nodes.find(ino);
  if (it == m.nodes.end()) return false;
  Impl::Node& n = it->second;
  n.lookups = nlookup >= n.lookups ? 0 : n.lookups - nlookup;
  if (n.lookups > 0) return false;
  auto p = m.by_path.find(n.info.path);
  if (p != m.by_path.end() && p->second == ino) m.by_path.erase(p);
  m.nodes.erase(it);
  m.stats.live_inodes = m.nodes.size();
  return true;
}

Result<NodeInfo> Namespace::GetAttr(uint64_t ino) {
  Impl& m = *impl_;
  std::string key;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    auto it = m.nodes.find(ino);
    if (it == m.nodes.end()) return Status::NotFound("no inode " + std::to_string(ino));
    Impl::Node& n = it->second;
    // Directories have no attributes of their own in the store.
    if (n.info.type == NodeType::kDirectory || m.Now() < n.attr_expiry) return m.Out(n);
    const std::string parent = ParentPath(n.info.path);
    if (const Listing* listing = m.FreshListing(parent)) {
      const ListingEntry* e = listing->Find(BaseName(n.info.path));
      if (e != nullptr && e->type == NodeType::kFile) {
        m.Fill(&n, *e, m.listings[parent].expiry);
        return m.Out(n);
      }
    }
    key = n.info.key;
  }
  Result<ObjectInfo> head = m.store->Head(key);
  std::lock_guard<std::mutex> lock(m.mu);
  m.stats.heads++;
  if (!head.ok()) return head.status();
  auto it = m.nodes.find(ino);
  if (it == m.nodes.end()) return Status::NotFound("no inode " + std::to_string(ino));
  Impl::Node& n = it->second;
  n.info.size = head->size;
  n.info.etag = head->etag;
  n.info.mtime_sec = head->mtime_sec;
  n.attr_expiry = m.Now() + Ttl(m.options.attr_ttl_s);
  return m.Out(n);
}

Result<std::shared_ptr<const Listing>> Namespace::ReadDir(uint64_t ino) {
  Impl& m = *impl_;
  std::string path;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    Result<const Impl::Node*> dir = m.ParentDir(ino);
    if (!dir.ok()) return dir.status();
    path = (*dir)->info.path;
  }
  ListingResult listing = m.ListPath(path);
  if (listing.ok() && m.prefetch_pool) m.QueueChildren(path, *listing);
  return listing;
}

uint64_t Namespace::InodeFor(uint64_t parent, std::string_view name) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  auto p = m.nodes.find(parent);
  std::string path = JoinPath(p == m.nodes.end() ? std::string() : p->second.info.path, name);
  auto it = m.by_path.find(path);
  return it != m.by_path.end() ? it->second : m.HashIno(path);
}

uint64_t Namespace::ParentInode(uint64_t ino) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.nodes.find(ino);
  if (it == m.nodes.end() || it->second.info.path.empty()) return kRootInode;
  std::string parent = ParentPath(it->second.info.path);
  auto p = m.by_path.find(parent);
  return p != m.by_path.end() ? p->second : m.HashIno(parent);
}

NamespaceStats Namespace::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

}  // namespace strata
