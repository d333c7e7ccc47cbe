#include "strata/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace strata {
namespace {

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

// Splits "1.5gib" into 1.5 and "gib".
bool SplitNumber(const std::string& s, double* number, std::string* suffix) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return false;
  try {
    size_t used = 0;
    *number = std::stod(s.substr(0, i), &used);
    if (used != i) return false;
  } catch (...) {
    return false;
  }
  *suffix = s.substr(i);
  return true;
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  std::string s = Lower(text);
  double number = 0;
  std::string suffix;
  if (!SplitNumber(s, &number, &suffix)) {
    return Status::InvalidArgument("not a size: '" + std::string(text) + "'");
  }
  uint64_t mult = 1;
  if (suffix.empty() || suffix == "b") {
    mult = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    mult = kKiB;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    mult = kMiB;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    mult = kGiB;
  } else if (suffix == "t" || suffix == "tb" || suffix == "tib") {
    mult = kGiB * 1024;
  } else {
    return Status::InvalidArgument("unknown size unit in '" + std::string(text) +
                                   "' (use K, M, G or T)");
  }
  double bytes = number * static_cast<double>(mult);
  if (bytes > 1.8e19) return Status::InvalidArgument("size too large: '" + std::string(text) + "'");
  return static_cast<uint64_t>(std::llround(bytes));
}

Result<double> ParseDurationSeconds(std::string_view text) {
  std::string s = Lower(text);
  double number = 0;
  std::string suffix;
  if (!SplitNumber(s, &number, &suffix)) {
    return Status::InvalidArgument("not a duration: '" + std::string(text) + "'");
  }
  if (suffix.empty() || suffix == "s") return number;
  if (suffix == "ms") return number / 1000.0;
  if (suffix == "m" || suffix == "min") return number * 60.0;
  if (suffix == "h") return number * 3600.0;
  return Status::InvalidArgument("unknown duration unit in '" + std::string(text) +
                                 "' (use ms, s, m or h)");
}

}  // namespace strata
