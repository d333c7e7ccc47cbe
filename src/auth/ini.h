// A small parser for the AWS shared config and credentials files.
//
// The format: "[section]" headers, "key = value" lines, "#" and ";" comment
// lines, blank lines. An indented line right after "key =" with an empty
// value belongs to a nested block (for example "s3 =\n  max_concurrent...");
// such blocks are kept as "parent.child" keys. Keys outside any section are
// an error, as are lines that are neither of the above.
//
// Thread safety: pure functions over values.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "strata/status.h"

namespace strata::auth {

using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;  // section name -> keys

// `origin` names the file in error messages.
Result<IniFile> ParseIni(std::string_view text, const std::string& origin);

// Reads and parses a file. NotFound when the file does not exist.
Result<IniFile> ReadIniFile(const std::string& path);

}  // namespace strata::auth
