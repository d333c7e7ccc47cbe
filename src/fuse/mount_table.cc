#include "strata/mount_table.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace strata {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::vector<MountInfoEntry> ParseMountInfo(std::string_view text) {
  // Format: id parent major:minor root mount_point options [optional...] - type source super
  std::vector<MountInfoEntry> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::vector<std::string_view> f = Fields(text.substr(pos, end - pos));
    pos = end + 1;
    if (f.size() < 7) continue;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 1 >= f.size()) continue;
    MountInfoEntry e;
    if (std::sscanf(std::string(f[2]).c_str(), "%u:%u", &e.major, &e.minor) != 2) continue;
    e.mount_point = Unescape(f[4]);
    e.fs_type = std::string(f[dash + 1]);
    if (dash + 2 < f.size()) e.source = Unescape(f[dash + 2]);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<MountInfoEntry>> ReadMountInfo() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return Status::IoError("cannot read /proc/self/mountinfo");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseMountInfo(text.str());
}

std::optional<MountInfoEntry> FindMount(const std::vector<MountInfoEntry>& mounts,
                                        std::string_view path) {
  std::optional<MountInfoEntry> found;
  for (const auto& m : mounts) {
    if (m.mount_point == path) found = m;
  }
  return found;
}

Status SetKernelReadahead(const std::string& mount_point, unsigned kib) {
  Result<std::vector<MountInfoEntry>> mounts = ReadMountInfo();
  if (!mounts.ok()) return mounts.status();
  std::optional<MountInfoEntry> m = FindMount(*mounts, mount_point);
  if (!m) return Status::NotFound("'" + mount_point + "' is not a mount point");
  std::string path = "/sys/class/bdi/" + std::to_string(m->major) + ":" + std::to_string(m->minor) +
                     "/read_ahead_kb";
  std::ofstream out(path);
  if (!out) return Status::PermissionDenied("cannot open " + path);
  out << kib << "\n";
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace strata
