#include "strata/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>

#include "strata/units.h"

namespace strata {
namespace {

using Setter = std::function<Status(Config*, std::string_view value)>;

struct KeySpec {
  ConfigKey key;
  Setter set;
};

Status Bad(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

Status ParseBool(std::string_view v, bool* out) {
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "on" || s == "1") {
    *out = true;
  } else if (s == "false" || s == "no" || s == "off" || s == "0") {
    *out = false;
  } else {
    return Bad("not a boolean: '" + std::string(v) + "' (use true or false)");
  }
  return Status::Ok();
}

Status ParseInt(std::string_view v, int64_t min, int64_t max, int64_t* out) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return Bad("not an integer: '" + std::string(v) + "'");
  }
  if (n < min || n > max) {
    return Bad("out of range [" + std::to_string(min) + ", " + std::to_string(max) +
               "]: " + std::string(v));
  }
  *out = n;
  return Status::Ok();
}

Setter StringKey(std::string Config::*field) {
  return [field](Config* c, std::string_view v) {
    c->*field = std::string(v);
    return Status::Ok();
  };
}

Setter ChoiceKey(std::string Config::*field, std::vector<std::string> choices) {
  return [field, choices](Config* c, std::string_view v) {
    if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
      std::string list;
      for (const auto& ch : choices) list += (list.empty() ? "" : "|") + ch;
      return Bad("'" + std::string(v) + "' is not one of " + list);
    }
    c->*field = std::string(v);
    return Status::Ok();
  };
}

Setter BoolKey(bool Config::*field) {
  return [field](Config* c, std::string_view v) { return ParseBool(v, &(c->*field)); };
}

Setter SizeKey(uint64_t Config::*field) {
  return [field](Config* c, std::string_view v) {
    Result<uint64_t> r = ParseSize(v);
    if (!r.ok()) return r.status();
    c->*field = *r;
    return Status::Ok();
  };
}

Setter SecondsKey(double Config::*field) {
  return [field](Config* c, std::string_view v) {
    Result<double> r = ParseDurationSeconds(v);
    if (!r.ok()) return r.status();
    if (*r < 0) return Bad("negative duration: '" + std::string(v) + "'");
    c->*field = *r;
    return Status::Ok();
  };
}

template <typename Int>
Setter IntKey(Int Config::*field, int64_t min, int64_t max) {
  return [field, min, max](Config* c, std::string_view v) {
    int64_t n = 0;
    STRATA_RETURN_IF_ERROR(ParseInt(v, min, max, &n));
    c->*field = static_cast<Int>(n);
    return Status::Ok();
  };
}

// The one table of keys. Function-local and const: built on first use, never
// mutated.
const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec> specs = {
      {{"endpoint", false, "store endpoint URL (env fallback: AWS_ENDPOINT_URL)"},
       StringKey(&Config::endpoint)},
      {{"region", false, "region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)"},
       StringKey(&Config::region)},
      {{"profile", false, "shared credentials profile"}, StringKey(&Config::profile)},
      {{"addressing", false, "S3 addressing: auto|path|virtual"},
       ChoiceKey(&Config::addressing, {"auto", "path", "virtual"})},
      {{"no_sign_request", true, "send anonymous (unsigned) requests"},
       BoolKey(&Config::no_sign_request)},
      {{"max_connections", false, "concurrent connections to the store (default 64)"},
       IntKey(&Config::max_connections, 1, 4096)},
      {{"listing_prefetch", false,
        "subdirectory listings fetched ahead in parallel when a directory is read (default 0: "
        "off)"},
       IntKey(&Config::listing_prefetch, 0, 64)},
      {{"foreground", true, "stay in the foreground"}, BoolKey(&Config::foreground)},
      {{"log_level", false, "trace|debug|info|warn|error (default info)"},
       ChoiceKey(&Config::log_level, {"trace", "debug", "info", "warn", "error"})},
      {{"log_file", false, "log file of the daemon"}, StringKey(&Config::log_file)},
      {{"metrics_file", false, "Prometheus text file rewritten every second"},
       StringKey(&Config::metrics_file)},
      {{"allow_other", true, "let other users access the mount"}, BoolKey(&Config::allow_other)},
      {{"metadata_ttl", false, "attribute/listing TTL in seconds (default 60; 0: no caching)"},
       SecondsKey(&Config::metadata_ttl)},
      {{"negative_ttl", false, "negative-lookup TTL in seconds (default: metadata-ttl)"},
       SecondsKey(&Config::negative_ttl)},
      {{"no_cache", true, "read straight from the store, no block cache"},
       BoolKey(&Config::no_cache)},
      {{"cache_dir", false, "disk cache directory"}, StringKey(&Config::cache_dir)},
      {{"cache_size", false, "disk cache size limit (default 10G)"}, SizeKey(&Config::cache_size)},
      {{"memory_size", false, "memory cache size (default 10% of RAM, at most 4G)"},
       SizeKey(&Config::memory_size)},
      {{"cache_free_floor", false, "free space kept on the cache disk (default 1G)"},
       SizeKey(&Config::cache_free_floor)},
      {{"eviction", false, "cache eviction policy: s3fifo|lru (default s3fifo)"},
       ChoiceKey(&Config::eviction, {"s3fifo", "lru"})},
      {{"block_size", false, "cache block size (default 1M)"}, SizeKey(&Config::block_size)},
      {{"page_size", false, "cache page size (default 64K)"}, SizeKey(&Config::page_size)},
      {{"prefetch_memory", false, "memory budget of all readahead (default 1G)"},
       SizeKey(&Config::prefetch_memory)},
      {{"part_size", false,
        "largest readahead request: parts are a window / 8, up to this (default 16M)"},
       SizeKey(&Config::part_size)},
      {{"readahead_window", false,
        "readahead of one sequential stream, at most; concurrent streams share it (default 128M)"},
       SizeKey(&Config::readahead_window)},
      {{"small_file_threshold", false, "files below this are fetched whole (default 4M)"},
       SizeKey(&Config::small_file_threshold)},
      {{"dir_prefetch", false,
        "bytes of small files fetched ahead from directories read file by file (default 1G; 0: "
        "off)"},
       SizeKey(&Config::dir_prefetch)},
      {{"clone_fd", false, "one /dev/fuse fd per FUSE thread: true|false (default true)"},
       BoolKey(&Config::clone_fd)},
      {{"max_threads", false, "FUSE worker threads at most (default 64)"},
       IntKey(&Config::max_threads, 1, 4096)},
      {{"max_idle_threads", false, "idle FUSE worker threads kept (default 16)"},
       IntKey(&Config::max_idle_threads, 1, 4096)},
      {{"uid", false, "owner uid of every file (default: the mounting user)"},
       IntKey(&Config::uid, 0, 0xfffffffe)},
      {{"gid", false, "owner gid of every file (default: the mounting user's group)"},
       IntKey(&Config::gid, 0, 0xfffffffe)},
  };
  return specs;
}

std::string Prefix(std::string_view origin, std::string_view key) {
  // Flags already name the key ("--cache-size: ..."); files need it spelled out.
  if (!origin.empty() && origin.substr(0, 2) == "--") return std::string(origin) + ": ";
  return std::string(origin) + ": key '" + std::string(key) + "': ";
}

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> out;
    for (const auto& s : Specs()) out.push_back(s.key);
    return out;
  }();
  return keys;
}

std::string FlagName(std::string_view key) {
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

Status SetConfigValue(Config* config, std::string_view key, std::string_view value,
                      std::string_view origin) {
  for (const auto& s : Specs()) {
    if (s.key.name != key) continue;
    Status st = s.set(config, value);
    if (!st.ok()) return Status::InvalidArgument(Prefix(origin, key) + st.message());
    return Status::Ok();
  }
  return Status::InvalidArgument(std::string(origin) + ": unknown key '" + std::string(key) + "'");
}

Status ApplyConfigYaml(Config* config, std::string_view yaml_text, std::string_view origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(origin) + ": not valid YAML: line " +
                                   std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::Ok();  // an empty file sets nothing
  if (!root.IsMap()) {
    return Status::InvalidArgument(std::string(origin) + ": expected a map of key: value");
  }
  for (const auto& item : root) {
    std::string key = item.first.as<std::string>();
    if (!item.second.IsScalar()) {
      // An unknown key is the more useful message even when its value is odd.
      bool known = std::any_of(Specs().begin(), Specs().end(),
                               [&](const KeySpec& s) { return s.key.name == key; });
      if (!known) {
        return Status::InvalidArgument(std::string(origin) + ": unknown key '" + key + "'");
      }
      return Status::InvalidArgument(Prefix(origin, key) + "expected a single value");
    }
    STRATA_RETURN_IF_ERROR(SetConfigValue(config, key, item.second.Scalar(), origin));
  }
  return Status::Ok();
}

Status LoadConfigFile(Config* config, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(path + ": cannot read the config file");
  return ApplyConfigYaml(config, text.str(), path);
}

uint64_t DefaultMemorySize(uint64_t total_ram_bytes) {
  uint64_t tenth = total_ram_bytes / 10;
  return std::clamp<uint64_t>(tenth, 64ull << 20, 4ull << 30);
}

Status FinalizeConfig(Config* config, uint64_t total_ram_bytes) {
  Config& c = *config;
  if (c.negative_ttl < 0) c.negative_ttl = c.metadata_ttl;
  if (c.memory_size == 0) c.memory_size = DefaultMemorySize(total_ram_bytes);
  if (c.cache_size == 0) c.cache_size = 10ull << 30;
  if (c.uid < 0) c.uid = static_cast<int64_t>(getuid());
  if (c.gid < 0) c.gid = static_cast<int64_t>(getgid());

  auto fail = [](std::string_view key, const std::string& why) {
    return Status::InvalidArgument(FlagName(key) + ": " + why);
  };
  if (c.block_size == 0) return fail("block_size", "must be greater than 0");
  if (c.page_size == 0) return fail("page_size", "must be greater than 0");
  if (c.page_size > c.block_size || c.block_size % c.page_size != 0) {
    return fail("page_size", "must divide block-size (" + std::to_string(c.block_size) + ")");
  }
  if (c.part_size == 0) return fail("part_size", "must be greater than 0");
  if (c.prefetch_memory < c.part_size) {
    return fail("prefetch_memory",
                "must be at least part-size (" + std::to_string(c.part_size) + ")");
  }
  if (c.readahead_window == 0) return fail("readahead_window", "must be greater than 0");
  if (c.max_idle_threads > c.max_threads) {
    return fail("max_idle_threads", "must not exceed max-threads");
  }
  return Status::Ok();
}

uint64_t PhysicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 4ull << 30;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

}  // namespace strata
