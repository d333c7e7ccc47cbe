// Namespace: strata's view of an object store as a POSIX directory tree.
//
// The tree is the set of keys below one key prefix (mounting
// s3://bucket/train maps the root directory to keys "train/..."). A path
// "a/b/c" names the object key prefix+"a/b/c" when it is a file, and the key
// prefix prefix+"a/b/c/" when it is a directory. Directories are never stored:
// they exist because some key lies below them (a common prefix in a listing
// with delimiter "/") or because a zero-byte marker object "a/b/c/" exists.
//
// Names that cannot be POSIX names are skipped, each key warned about once:
// an empty segment ("a//b", "/a"), a "." or ".." segment, a segment longer
// than 255 bytes, a NUL byte. They never reach the kernel and never crash.
//
// A key that is both a file and a prefix ("a" and "a/b") shows as a
// DIRECTORY: the directory is the only way to reach the keys below it, while
// the one hidden file is a single object. The file is hidden, with one
// warning per key.
//
// Inodes: the root is inode 1. Every other inode number is derived from a
// hash of the path, so a path keeps its inode across forget/lookup cycles and
// remounts (the prefetcher remembers access patterns by inode); a hash
// collision with a live inode of another path moves to the next free number.
// An inode lives while the kernel holds lookups on it (Lookup/Ref add one,
// Forget removes n); the root lives forever.
//
// Caches, each with a TTL from the config (0 disables it):
// - attributes of each inode (refreshed by HEAD, or from a fresh listing);
// - listings: the full listing of a directory (all pages of List with
//   delimiter "/"); while fresh it answers lookups of its children with no
//   request at all, so a name missing from a fresh listing is not found
//   (S3's listing is the truth; see TESTING.md on s3rver's listing bug);
// - negative lookups: a name found absent is not asked for again until the
//   negative TTL passes.
// Without a fresh listing, Lookup asks HEAD(key) and LIST(prefix=key+"/",
// max_keys=1, no delimiter) in parallel: the flat probe finds directories even when a
// server's delimiter listing of the parent misses them.
//
// Ownership: one per mount, owned by the Vfs; holds the store (shared) and
// the clock (shared). Thread safety: every method may be called from any
// thread; requests to the store are made without holding the table lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/clock.h"
#include "strata/object_store.h"
#include "strata/status.h"

namespace strata {

constexpr uint64_t kRootInode = 1;
constexpr size_t kMaxNameBytes = 255;

struct NamespaceOptions {
  std::string key_prefix;  // "" or a prefix ending in "/" ("train/")
  double attr_ttl_s = 60;
  double listing_ttl_s = 60;
  double negative_ttl_s = 60;
  int list_page_size = 1000;
  // When a directory is read, the listings of its subdirectories are fetched
  // ahead by this many background threads (one level down, at most
  // kMaxPrefetchedChildren per directory), so that a walk (find, ls -R, a
  // DataLoader scanning class folders) finds them cached. 0: off. Needs a
  // listing TTL above 0.
  int listing_prefetch = 0;
};

enum class NodeType { kFile, kDirectory };

// What the namespace knows about one inode.
struct NodeInfo {
  uint64_t ino = 0;
  NodeType type = NodeType::kFile;
  std::string path;  // relative to the root: "" for the root, "a/b" otherwise
  std::string key;   // files: the object key; directories: the key prefix ("a/b/")
  uint64_t size = 0;
  std::string etag;
  int64_t mtime_sec = 0;  // files: Last-Modified; directories: the mount time
  // How long these attributes stay fresh in the namespace's cache, so the
  // kernel caches them no longer than that (staleness stays within one TTL).
  double fresh_for_s = 0;
};

// One child in a directory listing.
struct ListingEntry {
  std::string name;
  NodeType type = NodeType::kFile;
  uint64_t size = 0;
  std::string etag;
  int64_t mtime_sec = 0;
};

// The full listing of one directory at one moment, sorted by name. Immutable
// once built; shared by open directory handles, so a readdir that spans
// several calls sees one consistent listing.
struct Listing {
  std::string dir_path;
  std::vector<ListingEntry> entries;
  const ListingEntry* Find(std::string_view name) const;
};

// Counters, for tests and metrics.
struct NamespaceStats {
  uint64_t heads = 0;               // HEAD requests
  uint64_t lists = 0;               // List requests (pages and probes)
  uint64_t skipped_keys = 0;        // distinct keys skipped (not POSIX names)
  uint64_t hidden_files = 0;        // distinct files hidden by a directory of the same name
  uint64_t listing_hits = 0;        // lookups answered from a fresh listing
  uint64_t listing_prefetches = 0;  // subdirectory listings queued ahead
  uint64_t negative_hits = 0;       // lookups answered from the negative cache
  uint64_t live_inodes = 0;         // inodes in the table, the root included
};

class Namespace {
 public:
  Namespace(std::shared_ptr<ObjectStore> store, NamespaceOptions options,
            std::shared_ptr<Clock> clock);
  ~Namespace();
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  // Finds `name` in directory `parent` and adds one lookup to the child.
  // Errors: NotFound, NotADirectory (parent is a file), NameTooLong,
  // InvalidArgument (a name that is not a POSIX name), store errors.
  Result<NodeInfo> Lookup(uint64_t parent, std::string_view name);

  // Like Lookup for an entry of a listing the caller holds (readdirplus):
  // adds one lookup to the child without asking the store.
  Result<NodeInfo> Ref(uint64_t parent, const ListingEntry& entry);

  // Drops `nlookup` lookups; the inode goes when none are left. Returns
  // true when it went.
  bool Forget(uint64_t ino, uint64_t nlookup);

  // Attributes of a live inode, refreshed by HEAD when older than the
  // attribute TTL (or from the parent's listing when that is fresher).
  // Errors: NotFound (unknown inode, or the object is gone), store errors.
  Result<NodeInfo> GetAttr(uint64_t ino);

  // The listing of directory `ino`: from the cache while fresh, otherwise
  // all pages from the store. Errors: NotFound, NotADirectory, store errors.
  Result<std::shared_ptr<const Listing>> ReadDir(uint64_t ino);

  // The inode number a child would get, for readdir's d_ino, without
  // creating an inode.
  uint64_t InodeFor(uint64_t parent, std::string_view name);

  // The inode number of the parent directory of `ino` (the root for the
  // root and for unknown inodes), for readdir's "..".
  uint64_t ParentInode(uint64_t ino);

  NamespaceStats Stats() const;

  // Whether a single path segment is a valid POSIX name.
  static bool IsValidName(std::string_view name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
