#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/mount_context.h"
#include "cli/mountpoint.h"
#include "cli/source.h"

namespace strata::cli {
namespace {

TEST_CASE("s3 sources give a bucket and a normalized key prefix") {
  Result<Source> s = ParseSource("s3://bucket");
  REQUIRE(s.ok());
  CHECK(s->scheme == "s3");
  CHECK(s->bucket == "bucket");
  CHECK(s->key_prefix.empty());
  CHECK(ParseSource("s3://bucket/")->key_prefix.empty());
  CHECK(ParseSource("s3://bucket/train")->key_prefix == "train/");
  CHECK(ParseSource("s3://bucket/train/")->key_prefix == "train/");
  CHECK(ParseSource("s3://bucket//a//b/")->key_prefix == "a/b/");
}

TEST_CASE("file sources and bad sources") {
  Result<Source> f = ParseSource("file:///srv/data");
  REQUIRE(f.ok());
  CHECK(f->scheme == "file");
  CHECK(f->local_root == "/srv/data");
  CHECK(ParseSource("s3://").status().message().find("has no bucket") != std::string::npos);
  CHECK(ParseSource("file://relative").status().code() == Code::kInvalidArgument);
  CHECK(ParseSource("gs://b").status().message() ==
        "source 'gs://b' has an unknown scheme (expected s3://bucket[/prefix] or file:///dir)");
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/strata_cli_test_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST_CASE("mountpoint checks give the exact CLI.md lines") {
  TempDir t;
  CHECK(CheckMountpoint(t.path).ok());
  std::string missing = t.path + "/missing";
  CHECK(CheckMountpoint(missing).message() == "mountpoint '" + missing + "' does not exist");
  std::string file = t.path + "/file";
  std::ofstream(file) << "x";
  CHECK(CheckMountpoint(file).message() == "mountpoint '" + file + "' is not a directory");
  CHECK(CheckMountpoint(t.path).message() == "mountpoint '" + t.path + "' is not empty");
  CHECK(CheckMountpoint("/proc").message() == "mountpoint '/proc' is already a mount point");
  CHECK(IsMountPoint("/"));
  CHECK_FALSE(IsMountPoint(t.path));
}

TEST_CASE("the store is checked at build time: a file:// source that does not exist fails") {
  Config config;
  REQUIRE(FinalizeConfig(&config, 1ull << 30).ok());
  Result<Source> src = ParseSource("file:///definitely/not/here");
  REQUIRE(src.ok());
  CHECK_FALSE(BuildMountContext(config, *src).ok());
}

TEST_CASE("a file:// source builds a working vfs") {
  TempDir t;
  ::mkdir((t.path + "/sub").c_str(), 0755);
  std::ofstream(t.path + "/sub/a.txt") << "hello";
  Config config;
  REQUIRE(FinalizeConfig(&config, 1ull << 30).ok());
  Result<Source> src = ParseSource("file://" + t.path);
  REQUIRE(src.ok());
  Result<std::unique_ptr<MountContext>> ctx = BuildMountContext(config, *src);
  INFO(ctx.status().ToString());
  REQUIRE(ctx.ok());
  Vfs& vfs = *(*ctx)->vfs;
  Result<Entry> sub = vfs.Lookup(kRootInode, "sub");
  REQUIRE(sub.ok());
  Result<Entry> a = vfs.Lookup(sub->attr.st_ino, "a.txt");
  REQUIRE(a.ok());
  CHECK(a->attr.st_size == 5);
  Result<OpenResult> open = vfs.Open(a->attr.st_ino, 0);
  REQUIRE(open.ok());
  char buf[16];
  Result<size_t> n = vfs.Read(open->fh, 0, std::span<char>(buf, sizeof(buf)));
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == "hello");
}

}  // namespace
}  // namespace strata::cli
