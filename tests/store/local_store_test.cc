#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "strata/s3_store.h"

using namespace strata;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "strata-local-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const std::string& rel, const std::string& data) const {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << data;
  }

 private:
  fs::path path_;
};

std::vector<std::string> Keys(const ListPage& page) {
  std::vector<std::string> out;
  for (const auto& o : page.objects) out.push_back(o.key);
  return out;
}

}  // namespace

TEST_CASE("Local store: Head and GetRange with ETag checks") {
  TempDir dir;
  dir.Write("a/b.txt", "0123456789");
  auto made = MakeLocalStore(dir.path().string() + "/");
  REQUIRE(made.ok());
  auto store = *made;
  CHECK(store->Id() == "file://" + dir.path().string());

  Result<ObjectInfo> info = store->Head("a/b.txt");
  REQUIRE(info.ok());
  CHECK(info->size == 10);
  CHECK_FALSE(info->etag.empty());
  CHECK(info->mtime_sec > 0);

  std::vector<char> buffer(4);
  Result<size_t> n = store->GetRange("a/b.txt", info->etag, 3, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 4);
  CHECK(std::string(buffer.data(), 4) == "3456");
  n = store->GetRange("a/b.txt", info->etag, 8, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  n = store->GetRange("a/b.txt", info->etag, 100, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 0);

  CHECK(store->Head("a").status().code() == Code::kNotFound);  // a directory
  CHECK(store->Head("nope").status().code() == Code::kNotFound);
  CHECK(store->Head("a/../a/b.txt").status().code() == Code::kNotFound);
  CHECK(store->Head("/etc/passwd").status().code() == Code::kNotFound);
  CHECK(store->Head("a//b.txt").status().code() == Code::kNotFound);
  CHECK(store->GetRange("nope", "", 0, buffer).status().code() == Code::kNotFound);

  // A rewrite changes size and mtime, hence the ETag: the old handle is Stale.
  dir.Write("a/b.txt", "changed contents");
  CHECK(store->GetRange("a/b.txt", info->etag, 0, buffer).status().code() == Code::kStale);
  Result<ObjectInfo> again = store->Head("a/b.txt");
  REQUIRE(again.ok());
  CHECK(again->etag != info->etag);
  CHECK(store->GetRange("a/b.txt", again->etag, 0, buffer).ok());
  CHECK(store->CheckAccess("").ok());
}

TEST_CASE("Local store: delimiter listings, common prefixes and flat listings") {
  TempDir dir;
  dir.Write("top.txt", "t");
  dir.Write("a/x.txt", "x");
  dir.Write("a/b/c/deep.txt", "d");
  dir.Write("a.txt", "a");
  dir.Write("z/y", "y");
  fs::create_directories(dir.path() / "empty/inner");
  auto store = *MakeLocalStore(dir.path().string());

  ListRequest root;
  Result<ListPage> page = store->List(root);
  REQUIRE(page.ok());
  CHECK(Keys(*page) == std::vector<std::string>{"a.txt", "top.txt"});
  CHECK(page->common_prefixes == std::vector<std::string>{"a/", "z/"});  // no empty/
  CHECK(page->next_continuation_token.empty());

  ListRequest sub;
  sub.prefix = "a/";
  page = store->List(sub);
  REQUIRE(page.ok());
  CHECK(Keys(*page) == std::vector<std::string>{"a/x.txt"});
  CHECK(page->common_prefixes == std::vector<std::string>{"a/b/"});

  ListRequest partial;
  partial.prefix = "a";
  page = store->List(partial);
  REQUIRE(page.ok());
  CHECK(Keys(*page) == std::vector<std::string>{"a.txt"});
  CHECK(page->common_prefixes == std::vector<std::string>{"a/"});

  ListRequest flat;
  flat.delimiter = "";
  page = store->List(flat);
  REQUIRE(page.ok());
  CHECK(Keys(*page) ==
        std::vector<std::string>{"a.txt", "a/b/c/deep.txt", "a/x.txt", "top.txt", "z/y"});
  CHECK(page->common_prefixes.empty());

  ListRequest other_delim;
  other_delim.delimiter = ".";
  page = store->List(other_delim);
  REQUIRE(page.ok());
  CHECK(Keys(*page) == std::vector<std::string>{"z/y"});
  CHECK(page->common_prefixes == std::vector<std::string>{"a.", "a/b/c/deep.", "a/x.", "top."});

  ListRequest missing;
  missing.prefix = "nothing/here/";
  page = store->List(missing);
  REQUIRE(page.ok());
  CHECK(page->objects.empty());
}

TEST_CASE("Local store: pagination returns every entry exactly once") {
  TempDir dir;
  std::vector<std::string> expected;
  for (int i = 0; i < 57; ++i) {
    const std::string key = "d/f" + std::to_string(i);
    dir.Write(key, "x");
    expected.push_back(key);
  }
  dir.Write("d/sub/1", "x");
  expected.push_back("d/sub/");
  std::sort(expected.begin(), expected.end());
  auto store = *MakeLocalStore(dir.path().string());

  std::vector<std::string> seen;
  ListRequest req;
  req.prefix = "d/";
  req.max_keys = 10;
  int pages = 0;
  do {
    Result<ListPage> page = store->List(req);
    REQUIRE(page.ok());
    CHECK(page->objects.size() + page->common_prefixes.size() <= 10);
    for (const auto& o : page->objects) seen.push_back(o.key);
    for (const auto& p : page->common_prefixes) seen.push_back(p);
    req.continuation_token = page->next_continuation_token;
    REQUIRE(++pages < 20);
  } while (!req.continuation_token.empty());
  std::sort(seen.begin(), seen.end());
  CHECK(seen == expected);
  CHECK(pages == 6);
}

TEST_CASE("Local store: bad roots and symlink cycles") {
  CHECK(MakeLocalStore("/nonexistent/strata/dir").status().code() == Code::kNotFound);
  TempDir dir;
  dir.Write("file", "x");
  CHECK(MakeLocalStore((dir.path() / "file").string()).status().code() == Code::kNotADirectory);

  fs::create_directories(dir.path() / "loop");
  fs::create_symlink(dir.path(), dir.path() / "loop" / "back");
  fs::create_symlink(dir.path() / "file", dir.path() / "link-to-file");
  auto store = *MakeLocalStore(dir.path().string());
  ListRequest flat;
  flat.delimiter = "";
  Result<ListPage> page = store->List(flat);
  REQUIRE(page.ok());
  CHECK(Keys(*page) == std::vector<std::string>{"file", "link-to-file"});
}
