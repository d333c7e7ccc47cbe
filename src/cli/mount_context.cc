#include "mount_context.h"

#include <spdlog/spdlog.h>

#include "strata/credentials.h"
#include "strata/namespace.h"
#include "strata/s3_store.h"

namespace strata::cli {
namespace {

std::string FirstSet(EnvLookup env, std::initializer_list<const char*> names,
                     const std::string& fallback) {
  for (const char* name : names) {
    std::optional<std::string> v = env(name);
    if (v && !v->empty()) return *v;
  }
  return fallback;
}

}  // namespace

Result<std::shared_ptr<ObjectStore>> MakeStore(const Config& config, const Source& source,
                                               std::shared_ptr<Clock> clock) {
  Result<std::shared_ptr<ObjectStore>> store = Status::Internal("no store");
  if (source.scheme == "file") {
    store = MakeLocalStore(source.local_root);
  } else {
    EnvLookup env = ProcessEnv();
    CredentialsOptions copts;
    copts.profile = config.profile;
    copts.anonymous = config.no_sign_request;
    Result<std::shared_ptr<CredentialsProvider>> creds = MakeCredentialsChain(copts, env);
    if (!creds.ok()) return creds.status();

    S3StoreOptions opts;
    opts.bucket = source.bucket;
    opts.region = config.region.empty()
                      ? FirstSet(env, {"AWS_REGION", "AWS_DEFAULT_REGION"}, "us-east-1")
                      : config.region;
    opts.endpoint =
        config.endpoint.empty() ? FirstSet(env, {"AWS_ENDPOINT_URL"}, "") : config.endpoint;
    opts.addressing = config.addressing == "path"      ? S3Addressing::kPath
                      : config.addressing == "virtual" ? S3Addressing::kVirtualHosted
                                                       : S3Addressing::kAuto;
    opts.max_connections = static_cast<size_t>(config.max_connections);
    store = MakeS3Store(opts, *creds, clock);
  }
  if (!store.ok()) return store.status();
  STRATA_RETURN_IF_ERROR((*store)->CheckAccess(source.key_prefix));
  return store;
}

Result<ReadPath> MakeReadPath(const Config& config, std::shared_ptr<ObjectStore> store,
                              std::shared_ptr<Clock> clock) {
  ReadPath path;
  if (config.no_cache) {
    path.readers = MakeDirectReaderFactory(std::move(store));
    return path;
  }
  BlockCacheOptions copts;
  copts.block_size = config.block_size;
  copts.page_size = config.page_size;
  copts.memory_bytes = config.memory_size;
  copts.disk_dir = config.cache_dir;
  copts.disk_bytes = config.cache_size;
  copts.disk_free_floor_bytes = config.cache_free_floor;
  copts.eviction = config.eviction;
  copts.predicted_bytes = config.prefetch_memory;
  ScatterFetcher fetcher = [store](const ObjectVersion& v, uint64_t offset,
                                   std::span<const std::span<char>> dst) {
    return store->GetRangeInto(v.key, v.etag, offset, dst);
  };
  Result<std::unique_ptr<BlockCache>> cache = BlockCache::Open(copts, clock, std::move(fetcher));
  if (!cache.ok()) return cache.status();
  path.cache = std::move(*cache);

  PrefetchOptions popts;
  popts.part_size = config.part_size;
  popts.max_window = config.readahead_window;
  popts.prefetch_memory = config.prefetch_memory;
  popts.small_file_threshold = config.small_file_threshold;
  path.prefetch = MakeCachedReaderFactory(path.cache, nullptr, popts, clock);
  path.readers = path.prefetch;
  if (config.dir_prefetch > 0) {
    DirPrefetchOptions dopts;
    dopts.small_file_threshold = config.small_file_threshold;
    dopts.budget_bytes = config.dir_prefetch;
    path.dir_prefetch = std::make_shared<DirPrefetcher>(path.cache, dopts, clock);
  }
  return path;
}

Result<std::unique_ptr<MountContext>> BuildMountContext(const Config& config,
                                                        const Source& source) {
  auto ctx = std::make_unique<MountContext>();
  ctx->clock = SystemClock();
  Result<std::shared_ptr<ObjectStore>> store = MakeStore(config, source, ctx->clock);
  if (!store.ok()) return store.status();
  ctx->store = *store;
  Result<ReadPath> read_path = MakeReadPath(config, ctx->store, ctx->clock);
  if (!read_path.ok()) return read_path.status();
  ctx->read_path = std::move(*read_path);

  NamespaceOptions nopts;
  nopts.key_prefix = source.key_prefix;
  nopts.attr_ttl_s = config.metadata_ttl;
  nopts.listing_ttl_s = config.metadata_ttl;
  nopts.negative_ttl_s = config.negative_ttl;
  nopts.listing_prefetch = config.listing_prefetch;
  VfsOptions vopts;
  vopts.uid = static_cast<uint32_t>(config.uid);
  vopts.gid = static_cast<uint32_t>(config.gid);
  // st_blksize: the cache block, at most 1 MiB (the largest FUSE read). Python
  // sizes its file buffers by it, so a larger value would make every small
  // random read through a buffered file fetch that much.
  vopts.block_size = static_cast<uint32_t>(std::min<uint64_t>(config.block_size, 1u << 20));
  vopts.entry_timeout_s = config.metadata_ttl;
  vopts.attr_timeout_s = config.metadata_ttl;
  ctx->vfs = std::make_unique<Vfs>(std::make_unique<Namespace>(ctx->store, nopts, ctx->clock),
                                   ctx->read_path.readers, ctx->store->Id(), vopts);
  if (std::shared_ptr<DirPrefetcher> dir_prefetch = ctx->read_path.dir_prefetch) {
    ctx->vfs->AddOpenListener([dir_prefetch](const OpenEvent& e) {
      dir_prefetch->NoteOpen(e.version, e.dir_ino, e.list_dir_files);
    });
  }
  if (std::shared_ptr<BlockCache> cache = ctx->read_path.cache) {
    // A new ETag seen by the namespace drops the old version's blocks at once
    // instead of leaving them to eviction.
    ctx->vfs->AddVersionChangeListener([cache](uint64_t, const ObjectVersion& now) {
      cache->Invalidate(now.store, now.key, now.etag);
    });
  }
  spdlog::info("store {} ready (prefix '{}')", ctx->store->Id(), source.key_prefix);
  return ctx;
}

}  // namespace strata::cli
