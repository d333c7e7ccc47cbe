#include "strata/vfs.h"

#include <fcntl.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "../meta/fake_store.h"

namespace strata {
namespace {

using namespace std::chrono_literals;
using testing::FakeStore;

struct Fixture {
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  std::shared_ptr<ManualClock> clock =
      std::make_shared<ManualClock>(std::chrono::system_clock::time_point(1000h));
  std::unique_ptr<Vfs> vfs;
  std::vector<std::pair<uint64_t, std::string>> changes;

  void Start(double ttl = 60) {
    NamespaceOptions nopts;
    nopts.attr_ttl_s = nopts.listing_ttl_s = nopts.negative_ttl_s = ttl;
    VfsOptions vopts;
    vopts.uid = 1234;
    vopts.gid = 5678;
    vopts.entry_timeout_s = vopts.attr_timeout_s = ttl;
    vfs = std::make_unique<Vfs>(std::make_unique<Namespace>(store, nopts, clock),
                                MakeDirectReaderFactory(store), store->Id(), vopts);
    vfs->AddVersionChangeListener(
        [this](uint64_t ino, const ObjectVersion& v) { changes.emplace_back(ino, v.etag); });
  }
  Entry MustLookup(uint64_t parent, const std::string& name) {
    Result<Entry> e = vfs->Lookup(parent, name);
    INFO(name << ": " << e.status().ToString());
    REQUIRE(e.ok());
    return *e;
  }
  std::string ReadAll(uint64_t fh, size_t chunk = 3) {
    std::string out;
    std::vector<char> buf(chunk);
    for (uint64_t off = 0;; off += chunk) {
      Result<size_t> n = vfs->Read(fh, off, buf);
      REQUIRE(n.ok());
      out.append(buf.data(), *n);
      if (*n < chunk) break;
    }
    return out;
  }
};

TEST_CASE("attributes of files and directories") {
  Fixture f;
  f.store->Put("dir/file.bin", std::string(1000, 'x'), 1700000123);
  f.Start(30);
  Entry dir = f.MustLookup(kRootInode, "dir");
  CHECK(S_ISDIR(dir.attr.st_mode));
  CHECK((dir.attr.st_mode & 07777) == 0555);
  CHECK(dir.attr.st_nlink == 2);
  CHECK(dir.entry_timeout_s == 30);
  Entry file = f.MustLookup(dir.attr.st_ino, "file.bin");
  CHECK(S_ISREG(file.attr.st_mode));
  CHECK((file.attr.st_mode & 07777) == 0444);
  CHECK(file.attr.st_size == 1000);
  CHECK(file.attr.st_blocks == 2);
  CHECK(file.attr.st_mtim.tv_sec == 1700000123);
  CHECK(file.attr.st_uid == 1234);
  CHECK(file.attr.st_gid == 5678);
  Result<Entry> again = f.vfs->GetAttr(file.attr.st_ino);
  REQUIRE(again.ok());
  CHECK(again->attr.st_ino == file.attr.st_ino);
  Result<Entry> root = f.vfs->GetAttr(kRootInode);
  REQUIRE(root.ok());
  CHECK(S_ISDIR(root->attr.st_mode));
  CHECK(f.vfs->Lookup(kRootInode, "nope").status().code() == Code::kNotFound);
}

TEST_CASE("open and read return the object's bytes") {
  Fixture f;
  std::string data;
  for (int i = 0; i < 100; ++i) data += std::to_string(i) + ",";
  f.store->Put("f.txt", data);
  f.Start();
  Entry e = f.MustLookup(kRootInode, "f.txt");
  Result<OpenResult> open = f.vfs->Open(e.attr.st_ino, O_RDONLY);
  REQUIRE(open.ok());
  CHECK(f.ReadAll(open->fh, 7) == data);
  std::vector<char> buf(10);
  Result<size_t> past = f.vfs->Read(open->fh, data.size() + 5, buf);
  REQUIRE(past.ok());
  CHECK(*past == 0);
  Result<size_t> mid = f.vfs->Read(open->fh, 10, buf);
  REQUIRE(mid.ok());
  CHECK(std::string(buf.data(), *mid) == data.substr(10, 10));
  CHECK(f.vfs->Release(open->fh).ok());
  CHECK(f.vfs->Read(open->fh, 0, buf).status().code() == Code::kInvalidArgument);
}

TEST_CASE("ReadPinned returns Read's bytes through the reader's buffers") {
  Fixture f;
  std::string data;
  for (int i = 0; i < 300; ++i) data += std::to_string(i) + ";";
  f.store->Put("p.txt", data);
  f.Start();
  Entry e = f.MustLookup(kRootInode, "p.txt");
  Result<OpenResult> open = f.vfs->Open(e.attr.st_ino, O_RDONLY);
  REQUIRE(open.ok());
  auto text = [](const ReadBuffers& b) {
    std::string out(b.size(), '\0');
    b.CopyTo(std::span<char>(out.data(), out.size()));
    return out;
  };
  Result<ReadBuffers> mid = f.vfs->ReadPinned(open->fh, 17, 100);
  REQUIRE(mid.ok());
  CHECK(text(*mid) == data.substr(17, 100));
  Result<ReadBuffers> tail = f.vfs->ReadPinned(open->fh, data.size() - 9, 100);
  REQUIRE(tail.ok());
  CHECK(text(*tail) == data.substr(data.size() - 9));
  for (uint64_t off : {data.size(), data.size() + 5}) {
    Result<ReadBuffers> none = f.vfs->ReadPinned(open->fh, off, 100);
    REQUIRE(none.ok());
    CHECK(none->pieces.empty());
  }
  Result<ReadBuffers> zero = f.vfs->ReadPinned(open->fh, 0, 0);
  REQUIRE(zero.ok());
  CHECK(zero->pieces.empty());
  CHECK(f.vfs->ReadPinned(open->fh + 1000, 0, 10).status().code() == Code::kInvalidArgument);
  f.store->Put("p.txt", "changed");
  CHECK(f.vfs->ReadPinned(open->fh, 0, 10).status().code() == Code::kStale);
  CHECK(f.vfs->Release(open->fh).ok());
  CHECK(f.vfs->ReadPinned(open->fh, 0, 10).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a handle reads the version captured at open, or fails with Stale") {
  Fixture f;
  f.store->Put("f", "version one");
  f.Start();
  Entry e = f.MustLookup(kRootInode, "f");
  Result<OpenResult> open = f.vfs->Open(e.attr.st_ino, O_RDONLY);
  REQUIRE(open.ok());
  f.store->Put("f", "version two!");
  std::vector<char> buf(32);
  CHECK(f.vfs->Read(open->fh, 0, buf).status().code() == Code::kStale);
}

TEST_CASE("keep_cache holds while the ETag is unchanged; a change is announced") {
  Fixture f;
  f.store->Put("f", "one");
  f.Start(10);
  uint64_t ino = f.MustLookup(kRootInode, "f").attr.st_ino;
  Result<OpenResult> first = f.vfs->Open(ino, O_RDONLY);
  REQUIRE(first.ok());
  CHECK_FALSE(first->keep_cache);
  Result<OpenResult> second = f.vfs->Open(ino, O_RDONLY);
  REQUIRE(second.ok());
  CHECK(second->keep_cache);
  CHECK(f.changes.empty());

  f.store->Put("f", "two!");
  f.clock->Advance(11s);  // past the attribute TTL: the next getattr HEADs
  Result<Entry> attr = f.vfs->GetAttr(ino);
  REQUIRE(attr.ok());
  CHECK(attr->attr.st_size == 4);
  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].first == ino);
  Result<OpenResult> third = f.vfs->Open(ino, O_RDONLY);
  REQUIRE(third.ok());
  CHECK_FALSE(third->keep_cache);
  CHECK(f.changes.size() == 1);  // announced once per ETag
  CHECK(f.ReadAll(third->fh) == "two!");
  Result<OpenResult> fourth = f.vfs->Open(ino, O_RDONLY);
  REQUIRE(fourth.ok());
  CHECK(fourth->keep_cache);
}

TEST_CASE("forgetting an inode forgets its open history") {
  Fixture f;
  f.store->Put("f", "x");
  f.Start();
  uint64_t ino = f.MustLookup(kRootInode, "f").attr.st_ino;
  REQUIRE(f.vfs->Open(ino, O_RDONLY).ok());
  f.vfs->Forget(ino, 1);
  uint64_t again = f.MustLookup(kRootInode, "f").attr.st_ino;
  CHECK(again == ino);  // same path, same inode number
  Result<OpenResult> open = f.vfs->Open(again, O_RDONLY);
  REQUIRE(open.ok());
  CHECK_FALSE(open->keep_cache);  // the kernel dropped its pages with the inode
}

TEST_CASE("writes are refused with ReadOnly") {
  Fixture f;
  f.store->Put("f", "x");
  f.Start();
  uint64_t ino = f.MustLookup(kRootInode, "f").attr.st_ino;
  CHECK(f.vfs->Open(ino, O_WRONLY).status().code() == Code::kReadOnly);
  CHECK(f.vfs->Open(ino, O_RDWR).status().code() == Code::kReadOnly);
  CHECK(f.vfs->Open(ino, O_RDONLY | O_TRUNC).status().code() == Code::kReadOnly);
  CHECK(f.vfs->Modify("mkdir").code() == Code::kReadOnly);
  CHECK(ToErrno(f.vfs->Modify("unlink")) == EROFS);
  CHECK(f.vfs->Open(kRootInode, O_RDONLY).status().code() == Code::kIsADirectory);
}

struct Collected {
  std::string name;
  uint64_t offset;
  uint64_t ino;
  bool counted;
  bool is_dir;
};

TEST_CASE("readdir lists dot entries then the listing, resumable by offset") {
  Fixture f;
  f.store->Put("a", "1");
  f.store->Put("b/c", "2");
  f.store->Put("d", "3");
  f.Start();
  Result<uint64_t> fh = f.vfs->OpenDir(kRootInode);
  REQUIRE(fh.ok());
  std::vector<Collected> got;
  auto collect = [&](size_t limit) {
    return [&, limit](const DirEntry& e) {
      if (got.size() >= limit) return false;
      got.push_back({std::string(e.name), e.offset, e.entry.attr.st_ino, e.counted,
                     S_ISDIR(e.entry.attr.st_mode)});
      return true;
    };
  };
  REQUIRE(f.vfs->ReadDir(kRootInode, *fh, 0, false, collect(3)).ok());
  REQUIRE(got.size() == 3);
  REQUIRE(f.vfs->ReadDir(kRootInode, *fh, got.back().offset, false, collect(100)).ok());
  std::vector<std::string> names;
  for (const auto& c : got) names.push_back(c.name);
  CHECK(names == std::vector<std::string>{".", "..", "a", "b", "d"});
  CHECK(got[3].is_dir);
  CHECK_FALSE(got[2].is_dir);
  for (const auto& c : got) CHECK_FALSE(c.counted);
  // d_ino matches what a later lookup gives.
  CHECK(got[2].ino == f.MustLookup(kRootInode, "a").attr.st_ino);
  CHECK(f.vfs->ReleaseDir(*fh).ok());
  CHECK_FALSE(f.vfs->ReleaseDir(*fh).ok());
}

TEST_CASE("readdirplus counts lookups only for entries that fit") {
  Fixture f;
  f.store->Put("d/x", "xx");
  f.store->Put("d/y", "yyy");
  f.store->Put("d/z", "z");
  f.Start();
  uint64_t d = f.MustLookup(kRootInode, "d").attr.st_ino;
  Result<uint64_t> fh = f.vfs->OpenDir(d);
  REQUIRE(fh.ok());
  int heads = f.store->heads();
  std::vector<Collected> got;
  // Room for ".", "..", "x" and "y" only: "z" is refused, its lookup undone.
  REQUIRE(f.vfs
              ->ReadDir(d, *fh, 0, true,
                        [&](const DirEntry& e) {
                          if (got.size() == 4) return false;
                          got.push_back({std::string(e.name), e.offset, e.entry.attr.st_ino,
                                         e.counted, false});
                          if (e.name == "y") CHECK(e.entry.attr.st_size == 3);
                          return true;
                        })
              .ok());
  CHECK(f.store->heads() == heads);  // attributes came from the listing
  REQUIRE(got.size() == 4);
  CHECK_FALSE(got[0].counted);
  CHECK(got[0].ino == d);
  CHECK(got[1].ino == kRootInode);
  CHECK(got[2].counted);
  // live: root, d, x, y (z's Ref was undone).
  CHECK(f.vfs->ns().Stats().live_inodes == 4);
  f.vfs->Forget(got[2].ino, 1);
  f.vfs->Forget(got[3].ino, 1);
  CHECK(f.vfs->ns().Stats().live_inodes == 2);
}

TEST_CASE("statfs reports a large read-only filesystem with 255-byte names") {
  Fixture f;
  f.Start();
  Result<struct statvfs> st = f.vfs->StatFs();
  REQUIRE(st.ok());
  CHECK(st->f_namemax == 255);
  CHECK(st->f_blocks * st->f_frsize >= (1ull << 40));
  CHECK((st->f_flag & ST_RDONLY) != 0);
}

TEST_CASE("the direct reader reads exactly the requested range") {
  auto store = std::make_shared<FakeStore>();
  store->Put("k", "0123456789");
  Result<ObjectInfo> head = store->Head("k");
  REQUIRE(head.ok());
  auto factory = MakeDirectReaderFactory(store);
  auto reader = factory->Open(7, ObjectVersion{store->Id(), "k", head->etag, head->size});
  std::vector<char> buf(4);
  Result<size_t> n = reader->Read(8, buf);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(std::string(buf.data(), 2) == "89");
  n = reader->Read(3, buf);
  REQUIRE(n.ok());
  CHECK(std::string(buf.data(), *n) == "3456");
  CHECK(store->gets() == 2);
}

}  // namespace
}  // namespace strata
