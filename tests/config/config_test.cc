#include "strata/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

namespace strata {
namespace {

TEST_CASE("defaults match the documented values") {
  Config c;
  REQUIRE(FinalizeConfig(&c, 16ull << 30).ok());
  CHECK(c.block_size == 1ull << 20);
  CHECK(c.page_size == 64ull << 10);
  CHECK(c.part_size == 16ull << 20);
  CHECK(c.readahead_window == 128ull << 20);
  CHECK(c.prefetch_memory == 1ull << 30);
  CHECK(c.small_file_threshold == 4ull << 20);
  CHECK(c.metadata_ttl == 60);
  CHECK(c.negative_ttl == 60);
  CHECK(c.max_connections == 64);
  CHECK(c.addressing == "auto");
  CHECK(c.log_level == "info");
  CHECK_FALSE(c.foreground);
  CHECK(c.memory_size == (16ull << 30) / 10);
  CHECK(c.cache_free_floor == 1ull << 30);
  CHECK(c.eviction == "s3fifo");
  CHECK(c.uid >= 0);
  CHECK(c.gid >= 0);
}

TEST_CASE("an explicit zero free-space floor stays zero") {
  Config c;
  REQUIRE(SetConfigValue(&c, "cache_free_floor", "0", "--cache-free-floor").ok());
  REQUIRE(FinalizeConfig(&c, 16ull << 30).ok());
  CHECK(c.cache_free_floor == 0);
}

TEST_CASE("eviction takes a known policy name") {
  Config c;
  REQUIRE(SetConfigValue(&c, "eviction", "lru", "--eviction").ok());
  CHECK(c.eviction == "lru");
  CHECK_FALSE(SetConfigValue(&c, "eviction", "random", "--eviction").ok());
}

TEST_CASE("memory size default is 10% of RAM capped at 4 GiB") {
  CHECK(DefaultMemorySize(8ull << 30) == (8ull << 30) / 10);
  CHECK(DefaultMemorySize(100ull << 30) == 4ull << 30);
  CHECK(DefaultMemorySize(100ull << 20) == 64ull << 20);  // floor for tiny machines
}

TEST_CASE("negative ttl follows metadata ttl unless set") {
  Config c;
  REQUIRE(SetConfigValue(&c, "metadata_ttl", "5", "--metadata-ttl").ok());
  REQUIRE(FinalizeConfig(&c, 1ull << 30).ok());
  CHECK(c.negative_ttl == 5);

  Config d;
  REQUIRE(SetConfigValue(&d, "metadata_ttl", "5", "--metadata-ttl").ok());
  REQUIRE(SetConfigValue(&d, "negative_ttl", "250ms", "--negative-ttl").ok());
  REQUIRE(FinalizeConfig(&d, 1ull << 30).ok());
  CHECK(d.negative_ttl == Approx(0.25));
}

TEST_CASE("YAML sets keys with sizes, durations, switches and choices") {
  Config c;
  Status st = ApplyConfigYaml(&c,
                              "metadata_ttl: 2m\n"
                              "cache_size: 20G\n"
                              "memory_size: 512MiB\n"
                              "block_size: 2M\n"
                              "page_size: 128k\n"
                              "foreground: yes\n"
                              "addressing: path\n"
                              "max_connections: 8\n"
                              "cache_dir: /var/cache/strata\n",
                              "/etc/strata.yaml");
  REQUIRE(st.ok());
  CHECK(c.metadata_ttl == 120);
  CHECK(c.cache_size == 20ull << 30);
  CHECK(c.memory_size == 512ull << 20);
  CHECK(c.block_size == 2ull << 20);
  CHECK(c.page_size == 128ull << 10);
  CHECK(c.foreground);
  CHECK(c.addressing == "path");
  CHECK(c.max_connections == 8);
  CHECK(c.cache_dir == "/var/cache/strata");
}

TEST_CASE("an unknown key names the key and the file") {
  Config c;
  Status st = ApplyConfigYaml(&c, "cache_szie: 1G\n", "/etc/strata.yaml");
  REQUIRE(st.code() == Code::kInvalidArgument);
  CHECK(st.message() == "/etc/strata.yaml: unknown key 'cache_szie'");
  // Also when its value is not a scalar.
  st = ApplyConfigYaml(&c, "bogus:\n  - 1\n", "f.yaml");
  CHECK(st.message() == "f.yaml: unknown key 'bogus'");
}

TEST_CASE("a bad value names the key, the file and the value") {
  Config c;
  Status st = ApplyConfigYaml(&c, "cache_size: lots\n", "/etc/strata.yaml");
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().rfind("/etc/strata.yaml: key 'cache_size': ", 0) == 0);
  CHECK(st.message().find("lots") != std::string::npos);

  st = ApplyConfigYaml(&c, "log_level: loud\n", "x.yaml");
  CHECK(st.message() ==
        "x.yaml: key 'log_level': 'loud' is not one of trace|debug|info|warn|error");

  st = ApplyConfigYaml(&c, "foreground: maybe\n", "x.yaml");
  CHECK(st.message().find("not a boolean") != std::string::npos);

  st = ApplyConfigYaml(&c, "max_connections: 0\n", "x.yaml");
  CHECK(st.message().find("out of range") != std::string::npos);

  st = ApplyConfigYaml(&c, "metadata_ttl:\n  a: 1\n", "x.yaml");
  CHECK(st.message() == "x.yaml: key 'metadata_ttl': expected a single value");
}

TEST_CASE("malformed YAML and non-map documents are errors naming the file") {
  Config c;
  Status st = ApplyConfigYaml(&c, "a: [1, 2\n", "bad.yaml");
  CHECK(st.message().rfind("bad.yaml: not valid YAML", 0) == 0);
  st = ApplyConfigYaml(&c, "- 1\n- 2\n", "list.yaml");
  CHECK(st.message() == "list.yaml: expected a map of key: value");
  CHECK(ApplyConfigYaml(&c, "", "empty.yaml").ok());
}

TEST_CASE("flags win over the file when applied after it") {
  Config c;
  REQUIRE(ApplyConfigYaml(&c, "metadata_ttl: 30\nregion: eu-west-1\n", "f.yaml").ok());
  REQUIRE(SetConfigValue(&c, "metadata_ttl", "0", "--metadata-ttl").ok());
  CHECK(c.metadata_ttl == 0);
  CHECK(c.region == "eu-west-1");
}

TEST_CASE("flag errors name the flag") {
  Config c;
  Status st = SetConfigValue(&c, "cache_size", "1Q", "--cache-size");
  CHECK(st.message().rfind("--cache-size: ", 0) == 0);
  CHECK(FlagName("small_file_threshold") == "--small-file-threshold");
}

TEST_CASE("cross-key rules are checked at finalize") {
  Config c;
  REQUIRE(SetConfigValue(&c, "page_size", "3M", "--page-size").ok());
  Status st = FinalizeConfig(&c, 1ull << 30);
  CHECK(st.message().rfind("--page-size: must divide block-size", 0) == 0);

  Config d;
  REQUIRE(SetConfigValue(&d, "prefetch_memory", "1M", "--prefetch-memory").ok());
  CHECK_FALSE(FinalizeConfig(&d, 1ull << 30).ok());

  Config e;
  REQUIRE(SetConfigValue(&e, "readahead_window", "0", "--readahead-window").ok());
  CHECK(FinalizeConfig(&e, 1ull << 30).message() == "--readahead-window: must be greater than 0");
}

TEST_CASE("config files are read from disk; a missing file is an error naming it") {
  std::string path = "/tmp/strata_config_test_" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out(path);
    out << "# comment\nlog_level: debug\nsmall_file_threshold: 1M\n";
  }
  Config c;
  REQUIRE(LoadConfigFile(&c, path).ok());
  CHECK(c.log_level == "debug");
  CHECK(c.small_file_threshold == 1ull << 20);
  std::remove(path.c_str());
  Status st = LoadConfigFile(&c, path);
  CHECK(st.message() == path + ": cannot read the config file");
}

TEST_CASE("every key has a flag spelling and help") {
  for (const auto& k : ConfigKeys()) {
    CHECK_FALSE(k.help.empty());
    CHECK(FlagName(k.name).find('_') == std::string::npos);
  }
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST_CASE("the example config/strata.yaml is valid") {
  Config c;
  Status st = LoadConfigFile(&c, std::string(STRATA_SOURCE_DIR) + "/config/strata.yaml");
  INFO(st.ToString());
  REQUIRE(st.ok());
  REQUIRE(FinalizeConfig(&c, 8ull << 30).ok());
  CHECK(c.metadata_ttl == 60);
  CHECK(c.cache_size == 10ull << 30);
}

}  // namespace
}  // namespace strata
