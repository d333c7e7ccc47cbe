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
#include "strata/clock.h"
#include "strata/config.h"
#include "strata/object_store.h"
#include "strata/reader.h"
#include "strata/vfs.h"

namespace strata::cli {

struct MountContext {
  std::shared_ptr<Clock> clock;
  std::shared_ptr<ObjectStore> store;
  std::shared_ptr<ReaderFactory> readers;
  std::unique_ptr<Vfs> vfs;
};

// Builds the store for `source` and checks at once that it answers
// (CheckAccess): a wrong bucket, wrong credentials or an unreachable endpoint
// fail here, with the store's one-line message.
Result<std::shared_ptr<ObjectStore>> MakeStore(const Config& config, const Source& source,
                                               std::shared_ptr<Clock> clock);

// THE place where the read strategy is chosen: the direct reader now; the
// block cache and prefetcher plug in here (config.no_cache keeps direct).
Result<std::shared_ptr<ReaderFactory>> MakeReaderFactory(const Config& config,
                                                         std::shared_ptr<ObjectStore> store,
                                                         std::shared_ptr<Clock> clock);

// Store (checked), reader factory, namespace and vfs.
Result<std::unique_ptr<MountContext>> BuildMountContext(const Config& config, const Source& source);

}  // namespace strata::cli
