// The kernel's table of mounts as this process sees it (/proc/self/mountinfo),
// and the per-mount knobs strata sets through sysfs.
//
// Ownership: plain values. Thread safety: the functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/status.h"

namespace strata {

struct MountInfoEntry {
  unsigned major = 0;
  unsigned minor = 0;
  std::string mount_point;  // octal escapes (\040) decoded
  std::string fs_type;      // "fuse.strata", "ext4", ...
  std::string source;
};

// Parses the text of /proc/self/mountinfo; malformed lines are skipped.
std::vector<MountInfoEntry> ParseMountInfo(std::string_view text);

// Reads /proc/self/mountinfo.
Result<std::vector<MountInfoEntry>> ReadMountInfo();

// The entry whose mount point is exactly `path` (an absolute path with no
// trailing slash), the last one when several are stacked.
std::optional<MountInfoEntry> FindMount(const std::vector<MountInfoEntry>& mounts,
                                        std::string_view path);

// Sets the kernel's readahead for the filesystem mounted at `mount_point`
// (/sys/class/bdi/MAJ:MIN/read_ahead_kb). The FUSE init handshake can only
// lower the kernel's 128 KiB default, so a larger window needs this; it needs
// root and fails harmlessly otherwise.
Status SetKernelReadahead(const std::string& mount_point, unsigned kib);

}  // namespace strata
