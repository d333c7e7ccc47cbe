// Round trips against a real S3-compatible server. Runs only when
// STRATA_TEST_S3_ENDPOINT is set (e.g. http://127.0.0.1:4568, s3rver with
// credentials S3RVER/S3RVER unless AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// say otherwise); otherwise it exits with 77, which CTest reports as skipped.
//
// The test makes its own objects with signed PUTs in bucket
// STRATA_TEST_S3_BUCKET (default "strata-live-test"), under a fresh prefix.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>
#include <thread>

#include "strata/http.h"
#include "strata/s3_signer.h"
#include "strata/s3_store.h"

using namespace strata;

namespace {

struct Live {
  std::string endpoint;
  std::string bucket;
  std::string prefix;
  Credentials credentials;
  std::shared_ptr<HttpClient> http;
  std::shared_ptr<ObjectStore> store;
};

Live* g_live = nullptr;  // set once in main() before any test runs

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// A signed PUT of a bucket ("") or an object, with the body's real hash.
Result<HttpResponse> Put(const Live& live, const std::string& key, const std::string& body) {
  const std::string path =
      "/" + live.bucket + (key.empty() ? "" : "/" + sigv4::UriEncode(key, true));
  const std::string host = live.endpoint.substr(live.endpoint.find("://") + 3);
  sigv4::Request r;
  r.method = "PUT";
  r.canonical_uri = path;
  r.payload_hash = sigv4::Sha256Hex(body);
  r.headers = {{"Host", host}, {"x-amz-content-sha256", r.payload_hash}};
  sigv4::Signature s =
      sigv4::Sign(r, live.credentials, {"us-east-1", "s3"}, std::chrono::system_clock::now());
  HttpRequest request;
  request.method = "PUT";
  request.url = live.endpoint + path;
  request.headers = r.headers;
  for (auto& h : s.headers_to_add) request.headers.push_back(h);
  request.body = body;
  return live.http->Send(request);
}

void MustPut(const std::string& key, const std::string& body) {
  Result<HttpResponse> r = Put(*g_live, key, body);
  REQUIRE(r.ok());
  INFO(r->body);
  REQUIRE(r->status == 200);
}

std::string Pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

std::shared_ptr<ObjectStore> StoreWith(const std::string& endpoint, const std::string& bucket,
                                       const std::string& key_id, const std::string& secret) {
  S3StoreOptions o;
  o.endpoint = endpoint;
  o.bucket = bucket;
  o.max_attempts = 2;
  o.connect_timeout_ms = 1000;
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "AWS_ACCESS_KEY_ID") return key_id;
    if (name == "AWS_SECRET_ACCESS_KEY") return secret;
    return std::nullopt;
  };
  auto credentials = MakeCredentialsChain({}, env);
  if (!credentials.ok()) return nullptr;
  auto store = MakeS3Store(o, *credentials, SystemClock());
  return store.ok() ? *store : nullptr;
}

}  // namespace

TEST_CASE("live: Head and ranged GETs of a multi-MiB object", "[live]") {
  const std::string key = g_live->prefix + "big.bin";
  const std::string data = Pattern(9 * 1024 * 1024 + 123, 1);
  MustPut(key, data);
  auto& store = *g_live->store;

  Result<ObjectInfo> info = store.Head(key);
  REQUIRE(info.ok());
  CHECK(info->size == data.size());
  CHECK(info->etag.size() == 32);  // an MD5, quotes stripped
  CHECK(std::abs(info->mtime_sec - static_cast<int64_t>(time(nullptr))) < 600);

  std::vector<char> buffer(8 * 1024 * 1024);
  Result<size_t> n = store.GetRange(key, info->etag, 0, buffer);
  REQUIRE(n.ok());
  REQUIRE(*n == buffer.size());
  CHECK(std::string_view(buffer.data(), *n) == std::string_view(data).substr(0, *n));

  n = store.GetRange(key, info->etag, 8 * 1024 * 1024, buffer);  // the short tail
  REQUIRE(n.ok());
  CHECK(*n == data.size() - 8 * 1024 * 1024);
  CHECK(std::string_view(buffer.data(), *n) == std::string_view(data).substr(8 * 1024 * 1024));

  std::vector<char> small(1000);
  n = store.GetRange(key, info->etag, 4321, small);
  REQUIRE(n.ok());
  CHECK(std::string_view(small.data(), 1000) == std::string_view(data).substr(4321, 1000));

  n = store.GetRange(key, info->etag, data.size() + 10, small);  // past the end
  REQUIRE(n.ok());
  CHECK(*n == 0);

  CHECK(store.GetRange(key, "0123456789abcdef0123456789abcdef", 0, small).status().code() ==
        Code::kStale);
  CHECK(store.Head(g_live->prefix + "no-such-key").status().code() == Code::kNotFound);
  CHECK(store.GetRange(g_live->prefix + "no-such-key", "", 0, small).status().code() ==
        Code::kNotFound);

  // Parallel 1 MiB ranges from eight threads, as the prefetcher will issue them.
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<char> part(1024 * 1024);
      for (size_t off = t * part.size(); off < data.size(); off += 8 * part.size()) {
        Result<size_t> got = g_live->store->GetRange(key, info->etag, off, part);
        const size_t want = std::min(part.size(), data.size() - off);
        if (!got.ok() || *got != want ||
            std::string_view(part.data(), want) != std::string_view(data).substr(off, want)) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
}

TEST_CASE("live: an object rewritten under an open ETag is Stale", "[live]") {
  const std::string key = g_live->prefix + "changing.txt";
  MustPut(key, "version one");
  Result<ObjectInfo> v1 = g_live->store->Head(key);
  REQUIRE(v1.ok());
  MustPut(key, "version two!");
  std::vector<char> buffer(5);
  CHECK(g_live->store->GetRange(key, v1->etag, 0, buffer).status().code() == Code::kStale);
  Result<ObjectInfo> v2 = g_live->store->Head(key);
  REQUIRE(v2.ok());
  CHECK(v2->etag != v1->etag);
  REQUIRE(g_live->store->GetRange(key, v2->etag, 8, buffer).ok());
  CHECK(std::string(buffer.data(), 4) == "two!");
}

TEST_CASE("live: keys with special characters round-trip", "[live]") {
  const std::vector<std::string> names = {"a b.txt",
                                          "plus+sign",
                                          "eq=amp&",
                                          "pct%25%",
                                          "tilde~dash-_.",
                                          "caf\xC3\xA9",
                                          "\xE6\x97\xA5\xE6\x9C\xAC",
                                          "quote'paren(1)!",
                                          "semi;colon:comma,at@$",
                                          "star*hash#q?",
                                          "bracket[x]{y}",
                                          "trailing space "};
  for (const std::string& name : names) {
    const std::string key = g_live->prefix + "special/" + name;
    INFO("key: " << key);
    MustPut(key, "content of " + name);
    Result<ObjectInfo> info = g_live->store->Head(key);
    REQUIRE(info.ok());
    CHECK(info->size == ("content of " + name).size());
    std::vector<char> buffer(info->size);
    Result<size_t> n = g_live->store->GetRange(key, info->etag, 0, buffer);
    REQUIRE(n.ok());
    CHECK(std::string(buffer.data(), *n) == "content of " + name);
  }
  ListRequest req;
  req.prefix = g_live->prefix + "special/";
  Result<ListPage> page = g_live->store->List(req);
  REQUIRE(page.ok());
  std::vector<std::string> listed;
  for (const auto& o : page->objects) listed.push_back(o.key.substr(req.prefix.size()));
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());
  CHECK(listed == expected);
}

TEST_CASE("live: listings with delimiter, prefixes and pagination", "[live]") {
  const std::string base = g_live->prefix + "tree/";
  MustPut(base + "top.txt", "t");
  MustPut(base + "dir/one", "1");
  MustPut(base + "dir/two", "2");
  MustPut(base + "other/x", "x");
  constexpr int kMany = 230;
  for (int i = 0; i < kMany; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "many/k%04d", i);
    MustPut(base + name, std::to_string(i));
  }

  ListRequest top;
  top.prefix = base;
  Result<ListPage> page = g_live->store->List(top);
  REQUIRE(page.ok());
  REQUIRE(page->objects.size() == 1);
  CHECK(page->objects[0].key == base + "top.txt");
  CHECK(page->objects[0].size == 1);
  CHECK(page->objects[0].mtime_sec > 0);
  CHECK(page->common_prefixes ==
        std::vector<std::string>{base + "dir/", base + "many/", base + "other/"});

  ListRequest many;
  many.prefix = base + "many/";
  many.max_keys = 100;
  std::vector<std::string> keys;
  int pages = 0;
  do {
    Result<ListPage> p = g_live->store->List(many);
    REQUIRE(p.ok());
    CHECK(p->objects.size() <= 100);
    for (const auto& o : p->objects) keys.push_back(o.key);
    many.continuation_token = p->next_continuation_token;
    REQUIRE(++pages < 10);
  } while (!many.continuation_token.empty());
  CHECK(pages == 3);
  REQUIRE(keys.size() == kMany);
  CHECK(std::is_sorted(keys.begin(), keys.end()));
  CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());

  ListRequest flat;
  flat.prefix = base + "dir/";
  flat.delimiter = "";
  page = g_live->store->List(flat);
  REQUIRE(page.ok());
  CHECK(page->objects.size() == 2);
  CHECK(page->common_prefixes.empty());
}

TEST_CASE("live: CheckAccess messages for the mount-time errors", "[live]") {
  CHECK(g_live->store->CheckAccess(g_live->prefix).ok());

  auto missing = StoreWith(g_live->endpoint, "strata-no-such-bucket", "S3RVER", "S3RVER");
  REQUIRE(missing != nullptr);
  Status s = missing->CheckAccess("");
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message().starts_with("bucket 'strata-no-such-bucket' does not exist ("));

  auto wrong = StoreWith(g_live->endpoint, g_live->bucket, "WRONGKEY", "WRONGSECRET");
  REQUIRE(wrong != nullptr);
  s = wrong->CheckAccess("");
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().starts_with("access denied to bucket '" + g_live->bucket + "' ("));

  auto unreachable = StoreWith("http://127.0.0.1:1", g_live->bucket, "S3RVER", "S3RVER");
  REQUIRE(unreachable != nullptr);
  s = unreachable->CheckAccess("");
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message().starts_with("cannot reach endpoint URL (http://127.0.0.1:1: "));
}

int main(int argc, char** argv) {
  const char* endpoint = std::getenv("STRATA_TEST_S3_ENDPOINT");
  if (endpoint == nullptr || *endpoint == '\0') {
    std::fprintf(stderr, "STRATA_TEST_S3_ENDPOINT is not set: skipping the live S3 tests\n");
    return 77;
  }
  Live live;
  live.endpoint = endpoint;
  while (!live.endpoint.empty() && live.endpoint.back() == '/') live.endpoint.pop_back();
  live.bucket = EnvOr("STRATA_TEST_S3_BUCKET", "strata-live-test");
  live.prefix = "run-" + std::to_string(getpid()) + "-" + std::to_string(time(nullptr)) + "/";
  live.credentials.access_key_id = EnvOr("AWS_ACCESS_KEY_ID", "S3RVER");
  live.credentials.secret_access_key = EnvOr("AWS_SECRET_ACCESS_KEY", "S3RVER");
  live.http = MakeCurlHttpClient(HttpClientOptions{});
  Result<HttpResponse> created = Put(live, "", "");
  if (!created.ok() || (created->status != 200 && created->status != 409)) {
    std::fprintf(stderr, "cannot create bucket %s at %s: %s\n", live.bucket.c_str(), endpoint,
                 created.ok() ? created->body.c_str() : created.status().ToString().c_str());
    return 1;
  }
  live.store = StoreWith(live.endpoint, live.bucket, live.credentials.access_key_id,
                         live.credentials.secret_access_key);
  if (live.store == nullptr) {
    std::fprintf(stderr, "cannot make an S3 store for %s\n", endpoint);
    return 1;
  }
  g_live = &live;
  return Catch::Session().run(argc, argv);
}
