#include "auth/ini.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace strata::auth {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<IniFile> ParseIni(std::string_view text, const std::string& origin) {
  IniFile file;
  IniSection* section = nullptr;
  std::string nested_parent;  // the key whose indented block we are in
  int line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view raw = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_no;
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto error = [&](const char* what) {
      return Status::InvalidArgument(origin + ":" + std::to_string(line_no) + ": " + what);
    };
    if (line.front() == '[') {
      if (line.back() != ']') return error("section header without a closing ']'");
      std::string name(Trim(line.substr(1, line.size() - 2)));
      if (name.empty()) return error("empty section name");
      section = &file[name];
      nested_parent.clear();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return error("expected 'key = value'");
    if (section == nullptr) return error("key outside of any [section]");
    std::string key(Trim(line.substr(0, eq)));
    if (key.empty()) return error("empty key");
    std::string value(Trim(line.substr(eq + 1)));
    if (indented && !nested_parent.empty()) {
      (*section)[nested_parent + "." + key] = std::move(value);
      continue;
    }
    nested_parent = value.empty() ? key : std::string();
    (*section)[key] = std::move(value);
  }
  return file;
}

Result<IniFile> ReadIniFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::PermissionDenied("cannot read " + path + ": " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseIni(text.str(), path);
}

}  // namespace strata::auth
