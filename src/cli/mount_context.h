// MountContext: everything one mount owns, built from the Config in the
// order the layers depend on each other (DESIGN.md): credentials, store,
// reader factory, namespace, vfs.
//
// Ownership: the CLI owns the context for the life of the mount; the
// FuseSession borrows the Vfs. Thread safety: built on one thread, then the
// parts are shared with FUSE threads as their own headers describe.
#pragma once

#include <memory>

#include "source.h"
#include "strata/block_cache.h"
#include "strata/clock.h"
#include "strata/config.h"
#include "strata/dir_prefetcher.h"
#include "strata/object_store.h"
#include "strata/prefetcher.h"
#include "strata/reader.h"
#include "strata/vfs.h"

namespace strata::cli {

// The read path of a mount: what MakeReadPath builds.
struct ReadPath {
  std::shared_ptr<ReaderFactory> readers;
  std::shared_ptr<BlockCache> cache;              // null with --no-cache
  std::shared_ptr<CachedReaderFactory> prefetch;  // null with --no-cache; same object as readers
  std::shared_ptr<DirPrefetcher> dir_prefetch;    // null with --no-cache or --dir-prefetch 0
};

struct MountContext {
  std::shared_ptr<Clock> clock;
  std::shared_ptr<ObjectStore> store;
  ReadPath read_path;
  std::unique_ptr<Vfs> vfs;
};

// Builds the store for `source` and checks at once that it answers
// (CheckAccess): a wrong bucket, wrong credentials or an unreachable endpoint
// fail here, with the store's one-line message.
Result<std::shared_ptr<ObjectStore>> MakeStore(const Config& config, const Source& source,
                                               std::shared_ptr<Clock> clock);

// THE place where the read strategy is chosen: the block cache (memory tier,
// and a disk tier with --cache-dir) with the access-pattern prefetcher; or
// straight from the store with --no-cache. Fails when the cache directory
// cannot be used (unwritable, locked by another daemon).
Result<ReadPath> MakeReadPath(const Config& config, std::shared_ptr<ObjectStore> store,
                              std::shared_ptr<Clock> clock);

// Store (checked), reader factory, namespace and vfs.
Result<std::unique_ptr<MountContext>> BuildMountContext(const Config& config, const Source& source);

}  // namespace strata::cli
