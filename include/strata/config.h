// Config: every setting of a strata mount in one validated struct.
//
// Settings come from three layers, later ones winning: built-in defaults, a
// YAML file (--config FILE, keys spelled with underscores: `metadata_ttl`),
// and command-line flags (the same keys spelled with dashes:
// `--metadata-ttl`). Every key is set from text through one parser per key,
// so a value means the same thing in the file and on the command line, and
// every error names the key and where it came from:
//   "/etc/strata.yaml: unknown key 'cache_szie'"
//   "--cache-size: not a size: 'lots'"
//
// Ownership: plain values. Thread safety: none needed; built once at start-up
// and then only read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/status.h"

namespace strata {

struct Config {
  // What to mount (positional arguments, not config-file keys).
  std::string source;      // s3://bucket[/prefix] or file:///dir
  std::string mountpoint;  // as given; the CLI resolves it

  // Store and credentials.
  std::string endpoint;             // empty: AWS_ENDPOINT_URL, then AWS's endpoint
  std::string region;               // empty: AWS_REGION, AWS_DEFAULT_REGION, then us-east-1
  std::string profile;              // shared-credentials profile
  std::string addressing = "auto";  // auto | path | virtual
  bool no_sign_request = false;
  int max_connections = 64;
  int listing_prefetch = 0;  // subdirectory listings fetched ahead at once; 0: off

  // Daemon.
  bool foreground = false;
  std::string log_level = "info";  // trace | debug | info | warn | error
  std::string log_file;
  std::string metrics_file;
  bool allow_other = false;

  // Metadata caches, in seconds; 0 disables caching.
  double metadata_ttl = 60;
  double negative_ttl = -1;  // < 0 until Finalize(): then metadata_ttl

  // Block cache (issue 3).
  bool no_cache = false;
  std::string cache_dir;
  uint64_t cache_size = 0;                 // 0 until Finalize(): 10 GiB
  uint64_t memory_size = 0;                // 0 until Finalize(): 10% of RAM, at most 4 GiB
  uint64_t cache_free_floor = 1ull << 30;  // 0 is allowed: no floor
  std::string eviction = "s3fifo";         // s3fifo | lru
  uint64_t block_size = 1 << 20;
  uint64_t page_size = 64 << 10;

  // Prefetcher (issue 4).
  uint64_t prefetch_memory = 1ull << 30;
  uint64_t part_size = 16 << 20;
  uint64_t readahead_window = 128 << 20;
  uint64_t small_file_threshold = 4 << 20;
  uint64_t dir_prefetch = 1ull << 30;  // small files of warm directories fetched ahead; 0: off

  // FUSE session and attributes.
  bool clone_fd = true;
  int max_threads = 64;       // FUSE worker threads at most
  int max_idle_threads = 16;  // idle FUSE worker threads kept
  int64_t uid = -1;           // owner shown for every inode; -1 until Finalize(): getuid()
  int64_t gid = -1;           // -1 until Finalize(): getgid()
};

// One settable key: its file spelling, whether it is a switch (a flag without
// a value on the command line) and a one-line help text.
struct ConfigKey {
  std::string name;  // "metadata_ttl"
  bool is_switch;
  std::string help;
};

// Every key, in the order --help shows them.
const std::vector<ConfigKey>& ConfigKeys();

// "metadata_ttl" -> "--metadata-ttl".
std::string FlagName(std::string_view key);

// Sets `key` from `value`; `origin` ("/etc/strata.yaml", "--cache-size") only
// prefixes error messages. Switches accept true/false/yes/no/on/off/1/0.
// Errors: InvalidArgument naming the origin and the key.
Status SetConfigValue(Config* config, std::string_view key, std::string_view value,
                      std::string_view origin);

// Applies a YAML document (a map of key: scalar). `origin` names the file in
// messages. Unknown keys, non-scalar values and bad values are errors.
Status ApplyConfigYaml(Config* config, std::string_view yaml_text, std::string_view origin);

// Reads and applies a YAML file; an unreadable file is an error naming it.
Status LoadConfigFile(Config* config, const std::string& path);

// 10% of `total_ram_bytes`, at most 4 GiB, at least 64 MiB.
uint64_t DefaultMemorySize(uint64_t total_ram_bytes);

// Fills the derived defaults (negative_ttl, memory_size, cache_size,
// cache_free_floor, uid, gid) and checks cross-key rules (page_size divides
// block_size, sizes non-zero, ...). `total_ram_bytes` is injected for tests.
Status FinalizeConfig(Config* config, uint64_t total_ram_bytes);

// Physical memory of this machine (sysconf), for FinalizeConfig.
uint64_t PhysicalMemoryBytes();

}  // namespace strata
