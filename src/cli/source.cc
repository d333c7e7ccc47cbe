#include "source.h"

namespace strata::cli {
namespace {

// "a//b/" -> "a/b/": empty segments in a mount prefix are never meant.
std::string NormalizePrefix(const std::string& raw) {
  std::string out;
  size_t i = 0;
  while (i < raw.size()) {
    size_t slash = raw.find('/', i);
    if (slash == std::string::npos) slash = raw.size();
    if (slash > i) out += raw.substr(i, slash - i) + "/";
    i = slash + 1;
  }
  return out;
}

}  // namespace

Result<Source> ParseSource(const std::string& text) {
  Source s;
  s.url = text;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("source '" + text + "' " + why +
                                   " (expected s3://bucket[/prefix] or file:///dir)");
  };
  if (text.rfind("s3://", 0) == 0) {
    std::string rest = text.substr(5);
    size_t slash = rest.find('/');
    s.scheme = "s3";
    s.bucket = rest.substr(0, slash);
    if (s.bucket.empty()) return bad("has no bucket");
    if (slash != std::string::npos) s.key_prefix = NormalizePrefix(rest.substr(slash + 1));
    return s;
  }
  if (text.rfind("file://", 0) == 0) {
    s.scheme = "file";
    s.local_root = text.substr(7);
    if (s.local_root.empty() || s.local_root[0] != '/') return bad("needs an absolute path");
    return s;
  }
  return bad("has an unknown scheme");
}

}  // namespace strata::cli
