// Byte-size helpers and parsing of human sizes ("64KiB", "1G", "512M").
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/status.h"

namespace strata {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// Parses "123", "64k", "64KiB", "1M", "1.5G", "10%"-free sizes; binary units.
Result<uint64_t> ParseSize(std::string_view text);
// Parses "5s", "250ms", "1m", "0"; plain numbers are seconds.
Result<double> ParseDurationSeconds(std::string_view text);

}  // namespace strata
