// strata: mount object stores as a POSIX tree. See /work/notes/CLI.md for
// the command-line contract.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "strata/config.h"

namespace {

using strata::cli::kExitUsage;
using strata::cli::PrintError;

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // Block buffers (1–8 MiB) must come back from the heap, not from fresh
  // mmap()s: first-touch page faults cost ~15 us per 4 KiB on virtual
  // machines, which capped cold reads near the fault rate. Freed buffers stay
  // in the process and are reused; the cache's own limits bound the total.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"strata: mount an object store (s3://bucket/prefix) as a read-only directory tree",
               "strata"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "strata 0.1.0");

  CLI::App* mount = app.add_subcommand("mount", "mount SOURCE on MOUNTPOINT");
  std::string source, mountpoint, config_file;
  mount->add_option("SOURCE", source, "s3://bucket[/prefix] or file:///dir")->required();
  mount->add_option("MOUNTPOINT", mountpoint, "an empty directory")->required();
  mount->add_option("--config", config_file, "YAML file with the same keys (flags win)");
  // Every config key is also a flag; values are kept as text and parsed by
  // the config module, so the file and the flags share one parser.
  std::map<std::string, std::string> values;
  std::vector<std::pair<std::string, CLI::Option*>> given;
  for (const strata::ConfigKey& key : strata::ConfigKeys()) {
    std::string flag = strata::FlagName(key.name);
    if (key.name == "foreground") flag = "-f," + flag;
    CLI::Option* opt;
    if (key.is_switch) {
      const std::string name = key.name;
      opt = mount->add_flag_function(
          flag, [&values, name](std::int64_t) { values[name] = "true"; }, key.help);
    } else {
      opt = mount->add_option(flag, values[key.name], key.help);
    }
    given.emplace_back(key.name, opt);
  }

  CLI::App* unmount = app.add_subcommand("unmount", "unmount a strata mount");
  std::string unmount_point;
  unmount->add_option("MOUNTPOINT", unmount_point, "the mount point")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    PrintError(OneLine(e.what()));
    return kExitUsage;
  }

  if (unmount->parsed()) return strata::cli::RunUnmount(unmount_point);

  strata::Config config;
  if (!config_file.empty()) {
    strata::Status st = strata::LoadConfigFile(&config, config_file);
    if (!st.ok()) {
      PrintError(st.message());
      return kExitUsage;
    }
  }
  for (const auto& [key, opt] : given) {
    if (opt->count() == 0) continue;
    strata::Status st = strata::SetConfigValue(&config, key, values[key], strata::FlagName(key));
    if (!st.ok()) {
      PrintError(st.message());
      return kExitUsage;
    }
  }
  config.source = source;
  config.mountpoint = mountpoint;
  strata::Status st = strata::FinalizeConfig(&config, strata::PhysicalMemoryBytes());
  if (!st.ok()) {
    PrintError(st.message());
    return kExitUsage;
  }
  return strata::cli::RunMount(std::move(config));
}
