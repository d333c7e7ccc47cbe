#include "strata/namespace.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_store.h"

namespace strata {
namespace {

using namespace std::chrono_literals;
using testing::FakeStore;

struct Fixture {
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  std::shared_ptr<ManualClock> clock =
      std::make_shared<ManualClock>(std::chrono::system_clock::time_point(1000h));
  std::unique_ptr<Namespace> ns;

  void Start(NamespaceOptions opts = {}) { ns = std::make_unique<Namespace>(store, opts, clock); }
  std::vector<std::string> Names(uint64_t ino) {
    auto l = ns->ReadDir(ino);
    REQUIRE(l.ok());
    std::vector<std::string> out;
    for (const auto& e : (*l)->entries) {
      out.push_back(e.name + (e.type == NodeType::kDirectory ? "/" : ""));
    }
    return out;
  }
  NodeInfo MustLookup(uint64_t parent, const std::string& name) {
    auto r = ns->Lookup(parent, name);
    INFO(name << ": " << r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
};

TEST_CASE("listing builds directories from prefixes and marker objects") {
  Fixture f;
  f.store->Put("top.txt", "hello");
  f.store->Put("a/x.bin", "12345678");
  f.store->Put("empty/", "");  // a zero-byte directory marker
  f.store->Put("b/c/d.txt", "d");
  f.Start();
  CHECK(f.Names(kRootInode) == std::vector<std::string>{"a/", "b/", "empty/", "top.txt"});

  NodeInfo a = f.MustLookup(kRootInode, "a");
  CHECK(a.type == NodeType::kDirectory);
  CHECK(a.key == "a/");
  CHECK(f.Names(a.ino) == std::vector<std::string>{"x.bin"});
  NodeInfo empty = f.MustLookup(kRootInode, "empty");
  CHECK(f.Names(empty.ino).empty());  // the marker itself is not an entry

  NodeInfo top = f.MustLookup(kRootInode, "top.txt");
  CHECK(top.type == NodeType::kFile);
  CHECK(top.size == 5);
  CHECK(top.key == "top.txt");
  CHECK(top.mtime_sec == 1700000000);
  CHECK_FALSE(top.etag.empty());
}

TEST_CASE("a mount prefix maps the root to a key prefix") {
  Fixture f;
  f.store->Put("train/img/1.jpg", "1");
  f.store->Put("train/labels.csv", "l");
  f.store->Put("trainer.txt", "not inside");
  f.store->Put("other/x", "x");
  NamespaceOptions opts;
  opts.key_prefix = "train/";
  f.Start(opts);
  CHECK(f.Names(kRootInode) == std::vector<std::string>{"img/", "labels.csv"});
  NodeInfo img = f.MustLookup(kRootInode, "img");
  NodeInfo jpg = f.MustLookup(img.ino, "1.jpg");
  CHECK(jpg.key == "train/img/1.jpg");
  CHECK(jpg.path == "img/1.jpg");
}

TEST_CASE("keys that are not POSIX names are skipped with one warning each") {
  Fixture f;
  f.store->Put("ok.txt", "ok");
  f.store->Put("a//b", "empty segment");
  f.store->Put("/lead", "leading slash");
  f.store->Put("./dot", "dot segment");
  f.store->Put("../up", "dotdot segment");
  f.store->Put(std::string(256, 'n'), "too long");
  f.store->Put(std::string("nul\0byte", 8), "nul");
  f.Start();
  auto names = f.Names(kRootInode);
  // "a/" is a valid directory; everything else but ok.txt is skipped.
  CHECK(names == std::vector<std::string>{"a/", "ok.txt"});
  CHECK(f.ns->Stats().skipped_keys == 5);  // "/", "./", "../", 256 n's, NUL
  NodeInfo a = f.MustLookup(kRootInode, "a");
  CHECK(f.Names(a.ino).empty());
  CHECK(f.ns->Stats().skipped_keys == 6);  // "a//"
  // Listing again (after the TTL) warns no more.
  f.clock->Advance(61s);
  f.Names(kRootInode);
  f.Names(a.ino);
  CHECK(f.ns->Stats().skipped_keys == 6);
  CHECK(f.ns->Lookup(kRootInode, std::string(256, 'n')).status().code() == Code::kNameTooLong);
}

TEST_CASE("a key that is both a file and a prefix is a directory") {
  Fixture f;
  f.store->Put("both", "file bytes");
  f.store->Put("both/inner.txt", "inner");
  f.Start();
  SECTION("through a listing") {
    CHECK(f.Names(kRootInode) == std::vector<std::string>{"both/"});
    CHECK(f.ns->Stats().hidden_files == 1);
    CHECK(f.MustLookup(kRootInode, "both").type == NodeType::kDirectory);
  }
  SECTION("through a probe") {
    NodeInfo both = f.MustLookup(kRootInode, "both");
    CHECK(both.type == NodeType::kDirectory);
    CHECK(f.ns->Stats().hidden_files == 1);
    CHECK(f.MustLookup(both.ino, "inner.txt").size == 5);
  }
}

TEST_CASE("a fresh listing answers lookups without requests") {
  Fixture f;
  f.store->Put("a.txt", "a");
  f.store->Put("d/b.txt", "b");
  f.Start();
  f.Names(kRootInode);
  int heads = f.store->heads(), lists = f.store->lists();
  CHECK(f.MustLookup(kRootInode, "a.txt").size == 1);
  CHECK(f.MustLookup(kRootInode, "d").type == NodeType::kDirectory);
  CHECK(f.ns->Lookup(kRootInode, "missing").status().code() == Code::kNotFound);
  CHECK(f.store->heads() == heads);
  CHECK(f.store->lists() == lists);
  CHECK(f.ns->Stats().listing_hits == 3);

  // Past the TTL the listing is not used: a lookup lists the parent again
  // (one LIST for every sibling, no HEAD), and siblings share that listing.
  f.clock->Advance(61s);
  f.MustLookup(kRootInode, "a.txt");
  CHECK(f.MustLookup(kRootInode, "d").type == NodeType::kDirectory);
  CHECK(f.store->heads() == heads);
  CHECK(f.store->lists() == lists + 1);
}

TEST_CASE("lookup without a listing probes HEAD and LIST") {
  Fixture f;
  f.store->Put("dir/sub/file", "x");
  f.store->Put("plain", "abc");
  f.Start();
  NodeInfo dir = f.MustLookup(kRootInode, "dir");
  CHECK(dir.type == NodeType::kDirectory);
  NodeInfo plain = f.MustLookup(kRootInode, "plain");
  CHECK(plain.type == NodeType::kFile);
  CHECK(plain.size == 3);
  CHECK(f.store->heads() == 2);
  CHECK(f.store->lists() == 2);
  // A file is not a directory.
  CHECK(f.ns->Lookup(plain.ino, "x").status().code() == Code::kNotADirectory);
  CHECK(f.ns->ReadDir(plain.ino).status().code() == Code::kNotADirectory);
}

TEST_CASE("directories missing from a buggy delimiter listing are still found by probe") {
  Fixture f;
  f.store->Put("a/b/c/x", "x");
  f.store->Put("top", "t");
  f.store->set_drop_deep_prefixes(true);
  f.Start();
  CHECK(f.Names(kRootInode) == std::vector<std::string>{"top"});
  // The listing is fresh and lacks "a": per S3 the listing is the truth...
  CHECK(f.ns->Lookup(kRootInode, "a").status().code() == Code::kNotFound);
  // ...but a direct path walk without a listing finds it through the probe.
  f.clock->Advance(61s);
  NodeInfo a = f.MustLookup(kRootInode, "a");
  NodeInfo b = f.MustLookup(a.ino, "b");
  NodeInfo c = f.MustLookup(b.ino, "c");
  CHECK(f.MustLookup(c.ino, "x").size == 1);
}

TEST_CASE("negative lookups are cached for the negative TTL") {
  Fixture f;
  f.store->Put("present", "p");
  NamespaceOptions opts;
  opts.negative_ttl_s = 5;
  f.Start(opts);
  CHECK(f.ns->Lookup(kRootInode, "ghost").status().code() == Code::kNotFound);
  int heads = f.store->heads();
  CHECK(f.ns->Lookup(kRootInode, "ghost").status().code() == Code::kNotFound);
  CHECK(f.store->heads() == heads);
  CHECK(f.ns->Stats().negative_hits == 1);
  f.store->Put("ghost", "now here");
  f.clock->Advance(4s);
  CHECK_FALSE(f.ns->Lookup(kRootInode, "ghost").ok());
  f.clock->Advance(2s);
  CHECK(f.MustLookup(kRootInode, "ghost").size == 8);
}

TEST_CASE("ttl 0 disables every cache") {
  Fixture f;
  f.store->Put("f", "1");
  NamespaceOptions opts;
  opts.attr_ttl_s = 0;
  opts.listing_ttl_s = 0;
  opts.negative_ttl_s = 0;
  f.Start(opts);
  f.Names(kRootInode);
  f.Names(kRootInode);
  CHECK(f.store->lists() == 2);
  CHECK_FALSE(f.ns->Lookup(kRootInode, "nope").ok());
  CHECK_FALSE(f.ns->Lookup(kRootInode, "nope").ok());
  CHECK(f.store->heads() == 2);
  NodeInfo file = f.MustLookup(kRootInode, "f");
  f.store->Put("f", "22");
  CHECK(f.ns->GetAttr(file.ino)->size == 2);
}

TEST_CASE("attributes are refreshed by HEAD after the attribute TTL") {
  Fixture f;
  f.store->Put("f", "1");
  NamespaceOptions opts;
  opts.attr_ttl_s = 10;
  f.Start(opts);
  NodeInfo file = f.MustLookup(kRootInode, "f");
  std::string etag = file.etag;
  f.store->Put("f", "changed");
  CHECK(f.ns->GetAttr(file.ino)->size == 1);  // cached
  f.clock->Advance(11s);
  Result<NodeInfo> fresh = f.ns->GetAttr(file.ino);
  REQUIRE(fresh.ok());
  CHECK(fresh->size == 7);
  CHECK(fresh->etag != etag);
  CHECK(fresh->ino == file.ino);
  f.store->Remove("f");
  f.clock->Advance(11s);
  CHECK(f.ns->GetAttr(file.ino).status().code() == Code::kNotFound);
}

TEST_CASE("inodes are stable per path and go after forget") {
  Fixture f;
  f.store->Put("d/f", "x");
  f.Start();
  NodeInfo d1 = f.MustLookup(kRootInode, "d");
  NodeInfo d2 = f.MustLookup(kRootInode, "d");
  CHECK(d1.ino == d2.ino);
  CHECK(d1.ino != kRootInode);
  CHECK(f.ns->InodeFor(kRootInode, "d") == d1.ino);
  NodeInfo file = f.MustLookup(d1.ino, "f");
  CHECK(f.ns->Stats().live_inodes == 3);
  f.ns->Forget(file.ino, 1);
  CHECK(f.ns->GetAttr(file.ino).status().code() == Code::kNotFound);
  f.ns->Forget(d1.ino, 1);
  CHECK(f.ns->GetAttr(d1.ino).ok());  // one lookup left
  f.ns->Forget(d1.ino, 1);
  CHECK(f.ns->Stats().live_inodes == 1);
  f.ns->Forget(kRootInode, 100);  // the root is never forgotten
  CHECK(f.ns->GetAttr(kRootInode).ok());
  // The same path comes back with the same number.
  CHECK(f.MustLookup(kRootInode, "d").ino == d1.ino);
}

TEST_CASE("a path that changes type gets a new inode") {
  Fixture f;
  f.store->Put("x", "file");
  NamespaceOptions opts;
  opts.attr_ttl_s = 0;
  opts.listing_ttl_s = 0;
  f.Start(opts);
  NodeInfo as_file = f.MustLookup(kRootInode, "x");
  f.store->Remove("x");
  f.store->Put("x/inner", "i");
  NodeInfo as_dir = f.MustLookup(kRootInode, "x");
  CHECK(as_dir.type == NodeType::kDirectory);
  CHECK(as_dir.ino != as_file.ino);
  f.ns->Forget(as_file.ino, 1);
  CHECK(f.ns->GetAttr(as_dir.ino).ok());
}

TEST_CASE("Ref adds a lookup from a listing entry without requests") {
  Fixture f;
  f.store->Put("d/a", "aa");
  f.Start();
  NodeInfo d = f.MustLookup(kRootInode, "d");
  auto listing = f.ns->ReadDir(d.ino);
  REQUIRE(listing.ok());
  int heads = f.store->heads();
  Result<NodeInfo> a = f.ns->Ref(d.ino, (*listing)->entries.at(0));
  REQUIRE(a.ok());
  CHECK(a->size == 2);
  CHECK(f.store->heads() == heads);
  CHECK(f.ns->InodeFor(d.ino, "a") == a->ino);
}

TEST_CASE("listings are paginated and complete") {
  Fixture f;
  for (int i = 0; i < 2500; ++i) f.store->Put("big/" + std::to_string(100000 + i), "x");
  f.store->Put("big/sub/y", "y");
  NamespaceOptions opts;
  opts.list_page_size = 1000;
  f.Start(opts);
  NodeInfo big = f.MustLookup(kRootInode, "big");
  int lists = f.store->lists();
  auto names = f.Names(big.ino);
  CHECK(names.size() == 2501);
  CHECK(names.back() == "sub/");
  CHECK(f.store->lists() - lists == 3);
}

TEST_CASE("concurrent readers of one directory share one listing") {
  Fixture f;
  for (int i = 0; i < 300; ++i) f.store->Put("d/" + std::to_string(i), "x");
  NamespaceOptions opts;
  opts.list_page_size = 10;  // 30 pages: slow enough to overlap
  f.Start(opts);
  NodeInfo d = f.MustLookup(kRootInode, "d");
  int lists = f.store->lists();
  std::vector<std::thread> threads;
  std::vector<size_t> sizes(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { sizes[t] = (*f.ns->ReadDir(d.ino))->entries.size(); });
  }
  for (auto& t : threads) t.join();
  for (size_t s : sizes) CHECK(s == 300);
  CHECK(f.store->lists() - lists >= 30);
  CHECK(f.store->lists() - lists < 4 * 30);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST_CASE("attributes report how long they stay fresh") {
  Fixture f;
  f.store->Put("f", "1");
  NamespaceOptions opts;
  opts.attr_ttl_s = 30;
  f.Start(opts);
  NodeInfo file = f.MustLookup(kRootInode, "f");
  CHECK(file.fresh_for_s == Approx(30));
  f.clock->Advance(std::chrono::seconds(20));
  CHECK(f.ns->GetAttr(file.ino)->fresh_for_s == Approx(10));
  f.clock->Advance(std::chrono::seconds(15));
  CHECK(f.ns->GetAttr(file.ino)->fresh_for_s == Approx(30));  // refreshed by HEAD
  CHECK(f.ns->GetAttr(kRootInode)->fresh_for_s == Approx(30));
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// Waits (up to 10 s) until the store has served `n` listings.
bool WaitForLists(const testing::FakeStore& store, int n) {
  for (int i = 0; i < 1000 && store.lists() < n; ++i) std::this_thread::sleep_for(10ms);
  return store.lists() >= n;
}

TEST_CASE("reading a directory fetches its subdirectories' listings ahead, one level") {
  Fixture f;
  for (int c = 0; c < 6; ++c) {
    for (int i = 0; i < 3; ++i) {
      f.store->Put("img/c" + std::to_string(c) + "/" + std::to_string(i) + ".jpg", "j");
    }
    f.store->Put("img/c" + std::to_string(c) + "/deeper/x", "x");
  }
  f.store->Put("img/labels.csv", "l");
  NamespaceOptions opts;
  opts.listing_prefetch = 2;
  f.Start(opts);

  // The root lists once and queues "img" (its only subdirectory).
  CHECK(f.Names(kRootInode) == std::vector<std::string>{"img/"});
  REQUIRE(WaitForLists(*f.store, 2));
  std::this_thread::sleep_for(50ms);
  CHECK(f.store->lists() == 2);  // one level: img's children are not listed yet
  CHECK(f.ns->Stats().listing_prefetches == 1);

  // Reading img is answered by the listing fetched ahead, and queues c0..c5.
  NodeInfo img = f.MustLookup(kRootInode, "img");
  CHECK(f.Names(img.ino).size() == 7);
  REQUIRE(WaitForLists(*f.store, 2 + 6));
  std::this_thread::sleep_for(50ms);
  CHECK(f.store->lists() == 8);
  CHECK(f.ns->Stats().listing_prefetches == 7);

  // Walking the classes costs no further listing, and queues no deeper level
  // than the one being walked (each class queues its own "deeper").
  for (int c = 0; c < 6; ++c) {
    NodeInfo cls = f.MustLookup(img.ino, "c" + std::to_string(c));
    CHECK(f.Names(cls.ino) == std::vector<std::string>{"0.jpg", "1.jpg", "2.jpg", "deeper/"});
  }
  REQUIRE(WaitForLists(*f.store, 8 + 6));
  // Reading a listing again does not queue its children twice.
  f.Names(img.ino);
  std::this_thread::sleep_for(50ms);
  CHECK(f.store->lists() == 14);
  CHECK(f.ns->Stats().listing_prefetches == 13);
}

TEST_CASE("listing prefetch is off with a listing TTL of 0, and unmount drops queued work") {
  Fixture f;
  for (int c = 0; c < 50; ++c) f.store->Put("d" + std::to_string(c) + "/x", "x");
  NamespaceOptions opts;
  opts.listing_prefetch = 1;
  opts.listing_ttl_s = 0;
  f.Start(opts);
  CHECK(f.Names(kRootInode).size() == 50);
  std::this_thread::sleep_for(50ms);
  CHECK(f.store->lists() == 1);
  CHECK(f.ns->Stats().listing_prefetches == 0);

  opts.listing_ttl_s = 60;
  f.Start(opts);
  CHECK(f.Names(kRootInode).size() == 50);
  f.ns.reset();  // returns without running the 50 queued listings
  CHECK(f.store->lists() < 2 + 50);
}

}  // namespace
}  // namespace strata
