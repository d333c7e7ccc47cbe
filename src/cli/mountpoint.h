// Checks on the directory a mount goes onto, each failing with the one line
// the user sees (CLI.md fixes the wording).
#pragma once

#include <string>

#include "strata/status.h"

namespace strata::cli {

// Ok if `path` is an existing, empty directory that is not a mount point.
// Messages name the path as the user gave it:
//   "mountpoint 'P' does not exist" / "is not a directory" / "is not empty" /
//   "is already a mount point".
Status CheckMountpoint(const std::string& path);

// The absolute, symlink-free form of an existing path.
Result<std::string> RealPath(const std::string& path);

// Whether the absolute path `abs` is a mount point: listed in
// /proc/self/mountinfo, or on another device than its parent.
bool IsMountPoint(const std::string& abs);

}  // namespace strata::cli
