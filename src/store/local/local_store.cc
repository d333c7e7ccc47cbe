// The local-directory backend: a directory tree seen as a bucket. Keys are
// relative paths with '/' separators; listings are synthesised in S3's
// order and shape (byte-ordered keys, common prefixes, continuation tokens).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>

#include "strata/s3_store.h"

namespace strata {
namespace {

// Directories nested deeper than this are not listed: a guard against
// pathological trees, far beyond any real dataset.
constexpr int kMaxDepth = 256;

std::string ErrnoText(int err) { return std::strerror(err); }

// A key that a plain file below the root can have: relative, no empty, "."
// or ".." segment.
bool IsValidKey(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.back() == '/') return false;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    const std::string_view segment(key.data() + start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return key.find('\0') == std::string::npos;
}

std::string EtagOf(const struct stat& st) {
  const int64_t mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%llx-%llx", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(mtime_ns));
  return buffer;
}

ObjectInfo InfoOf(const std::string& key, const struct stat& st) {
  ObjectInfo info;
  info.key = key;
  info.size = static_cast<uint64_t>(st.st_size);
  info.etag = EtagOf(st);
  info.mtime_sec = st.st_mtim.tv_sec;
  return info;
}

class LocalStore : public ObjectStore {
 public:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}

  std::string Id() const override { return "file://" + root_; }

  Result<ObjectInfo> Head(const std::string& key) override {
    if (!IsValidKey(key)) return Status::NotFound("no such object '" + key + "'");
    struct stat st;
    if (::stat(PathOf(key).c_str(), &st) != 0) return StatError(errno, key);
    if (!S_ISREG(st.st_mode)) return Status::NotFound("no such object '" + key + "'");
    return InfoOf(key, st);
  }

  Result<size_t> GetRange(const std::string& key, const std::string& etag, uint64_t offset,
                          std::span<char> dst) override {
    if (!IsValidKey(key)) return Status::NotFound("no such object '" + key + "'");
    const int fd = ::open(PathOf(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return StatError(errno, key);
    Result<size_t> result = ReadAt(fd, key, etag, offset, dst);
    ::close(fd);
    return result;
  }

  Result<ListPage> List(const ListRequest& request) override {
    std::vector<Entry> entries;
    const size_t slash = request.prefix.rfind('/');
    const std::string start_dir =
        slash == std::string::npos ? std::string() : request.prefix.substr(0, slash + 1);
    STRATA_RETURN_IF_ERROR(Walk(start_dir, request, 0, entries));
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [](const Entry& a, const Entry& b) { return a.name == b.name; }),
                  entries.end());

    // The token is the last name of the previous page: resume after it.
    auto it = entries.begin();
    if (!request.continuation_token.empty()) {
      it =
          std::upper_bound(entries.begin(), entries.end(), request.continuation_token,
                           [](const std::string& token, const Entry& e) { return token < e.name; });
    }
    const size_t max_keys = request.max_keys > 0 ? static_cast<size_t>(request.max_keys) : 1000;
    ListPage page;
    size_t taken = 0;
    for (; it != entries.end() && taken < max_keys; ++it, ++taken) {
      if (it->info) {
        page.objects.push_back(std::move(*it->info));
      } else {
        page.common_prefixes.push_back(it->name);
      }
      if (taken + 1 == max_keys && std::next(it) != entries.end()) {
        page.next_continuation_token = it->name;
      }
    }
    return page;
  }

  Status CheckAccess(const std::string& prefix) override {
    struct stat st;
    if (::stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::NotFound("directory '" + root_ + "' does not exist");
    }
    if (::access(root_.c_str(), R_OK | X_OK) != 0) {
      return Status::PermissionDenied("access denied to directory '" + root_ + "'");
    }
    return Status::Ok();
  }

 private:
  // One listing entry: an object, or (no info) a common prefix.
  struct Entry {
    std::string name;
    std::optional<ObjectInfo> info;
  };

  std::string PathOf(const std::string& key) const { return root_ + "/" + key; }

  Status StatError(int err, const std::string& key) const {
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound("no such object '" + key + "'");
    if (err == EACCES || err == EPERM) {
      return Status::PermissionDenied("access denied to '" + PathOf(key) + "'");
    }
    return Status::IoError(PathOf(key) + ": " + ErrnoText(err));
  }

  Result<size_t> ReadAt(int fd, const std::string& key, const std::string& etag, uint64_t offset,
                        std::span<char> dst) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return StatError(errno, key);
    if (!S_ISREG(st.st_mode)) return Status::NotFound("no such object '" + key + "'");
    if (!etag.empty() && EtagOf(st) != etag) {
      return Status::Stale("object '" + key + "' changed: ETag is now '" + EtagOf(st) +
                           "', expected '" + etag + "'");
    }
    size_t done = 0;
    while (done < dst.size()) {
      const ssize_t n =
          ::pread(fd, dst.data() + done, dst.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError(PathOf(key) + ": " + ErrnoText(errno));
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  // Collects the entries of `dir` (a key prefix ending in '/', or "") that
  // match the request. With the '/' delimiter a subdirectory is one common
  // prefix and is not descended into; any other delimiter needs the keys.
  Status Walk(const std::string& dir, const ListRequest& request, int depth,
              std::vector<Entry>& out) {
    if (depth > kMaxDepth) return Status::Ok();
    const std::string path = dir.empty() ? root_ : root_ + "/" + dir;
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
      const int err = errno;
      if (err == ENOENT || err == ENOTDIR) return Status::Ok();  // nothing under this prefix
      if (depth == 0 && dir.empty()) {
        return Status::IoError("cannot list '" + root_ + "': " + ErrnoText(err));
      }
      return Status::Ok();  // an unreadable subdirectory is skipped, as S3 cannot express it
    }
    Status status;
    while (struct dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string rel = dir + name;
      struct stat st;
      if (::lstat((root_ + "/" + rel).c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        // Links to files are followed; links to directories are not, so a
        // link cycle cannot make the walk endless.
        if (::stat((root_ + "/" + rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      }
      if (S_ISREG(st.st_mode)) {
        AddKey(rel, st, request, out);
      } else if (S_ISDIR(st.st_mode)) {
        const std::string as_prefix = rel + "/";
        const bool inside = as_prefix.starts_with(request.prefix);
        if (!inside && !request.prefix.starts_with(as_prefix)) continue;
        if (inside && request.delimiter == "/") {
          if (HasFile(as_prefix, depth + 1)) out.push_back(Entry{as_prefix, std::nullopt});
          continue;
        }
        status = Walk(as_prefix, request, depth + 1, out);
        if (!status.ok()) break;
      }
    }
    ::closedir(d);
    return status;
  }

  void AddKey(const std::string& key, const struct stat& st, const ListRequest& request,
              std::vector<Entry>& out) {
    if (!key.starts_with(request.prefix)) return;
    if (!request.delimiter.empty()) {
      const size_t at = key.find(request.delimiter, request.prefix.size());
      if (at != std::string::npos) {
        out.push_back(Entry{key.substr(0, at + request.delimiter.size()), std::nullopt});
        return;
      }
    }
    out.push_back(Entry{key, InfoOf(key, st)});
  }

  // Whether any file lives below `dir`: S3 has no empty "directories", so an
  // empty local directory is no common prefix.
  bool HasFile(const std::string& dir, int depth) {
    if (depth > kMaxDepth) return false;
    DIR* d = ::opendir((root_ + "/" + dir).c_str());
    if (d == nullptr) return false;
    bool found = false;
    while (!found) {
      struct dirent* e = ::readdir(d);
      if (e == nullptr) break;
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      const std::string rel = dir + name;
      if (::lstat((root_ + "/" + rel).c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode) && ::stat((root_ + "/" + rel).c_str(), &st) == 0) {
        found = S_ISREG(st.st_mode);
      } else if (S_ISREG(st.st_mode)) {
        found = true;
      } else if (S_ISDIR(st.st_mode)) {
        found = HasFile(rel + "/", depth + 1);
      }
    }
    ::closedir(d);
    return found;
  }

  const std::string root_;
};

}  // namespace

Result<std::shared_ptr<ObjectStore>> MakeLocalStore(const std::string& root) {
  std::string normalized = root;
  while (normalized.size() > 1 && normalized.back() == '/') normalized.pop_back();
  if (normalized.empty()) return Status::InvalidArgument("empty directory for the local store");
  struct stat st;
  if (::stat(normalized.c_str(), &st) != 0) {
    return Status::NotFound("directory '" + normalized + "' does not exist");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::NotADirectory("'" + normalized + "' is not a directory");
  }
  return std::shared_ptr<ObjectStore>(std::make_shared<LocalStore>(std::move(normalized)));
}

}  // namespace strata
