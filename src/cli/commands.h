// The `strata` subcommands. Each returns the process exit code and prints at
// most one "strata: error: ..." line on failure (CLI.md).
#pragma once

#include <string>

#include "strata/config.h"

namespace strata::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "strata: error: <message>" on stderr.
void PrintError(const std::string& message);

// `strata mount`: config must have source and mountpoint set and be
// finalized. Daemonizes unless config.foreground.
int RunMount(Config config);

// `strata unmount MOUNTPOINT`.
int RunUnmount(const std::string& mountpoint);

// Installs the default spdlog logger: stderr when `log_file` is empty and
// `to_stderr`, the file otherwise, nothing when neither.
void SetupLogging(const std::string& level, const std::string& log_file, bool to_stderr);

}  // namespace strata::cli
