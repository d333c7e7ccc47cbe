// The S3 store over a scripted HttpClient: request shapes, signing, error
// mapping, ETag checks and retries, without a server.
#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>

#include "store/s3/s3_store_internal.h"

using namespace strata;
using std::chrono::milliseconds;

namespace {

using Step = std::function<Result<HttpResponse>(const HttpRequest&)>;

class ScriptedHttp : public HttpClient {
 public:
  Result<HttpResponse> Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests.push_back(request);
    REQUIRE_FALSE(steps.empty());
    Step step = std::move(steps.front());
    steps.pop_front();
    return step(request);
  }

  std::mutex mu_;
  std::deque<Step> steps;
  std::vector<HttpRequest> requests;
};

Step Reply(long status, std::map<std::string, std::string> headers = {}, std::string body = {}) {
  return [=](const HttpRequest&) -> Result<HttpResponse> {
    HttpResponse r;
    r.status = status;
    r.headers = headers;
    r.body = body;
    return r;
  };
}

// A 206 that copies `data` into the request's sink.
Step Partial(std::string data, std::string etag, uint64_t start, uint64_t total) {
  return [=](const HttpRequest& request) -> Result<HttpResponse> {
    HttpResponse r;
    r.status = 206;
    r.headers["etag"] = "\"" + etag + "\"";
    r.headers["content-range"] = "bytes " + std::to_string(start) + "-" +
                                 std::to_string(start + data.size() - 1) + "/" +
                                 std::to_string(total);
    if (request.body_sink.empty()) {
      // Scattered: fill the buffers in order.
      size_t at = 0;
      for (auto part : request.body_sinks) {
        const size_t k = std::min(part.size(), data.size() - at);
        std::memcpy(part.data(), data.data() + at, k);
        at += k;
      }
      REQUIRE(at == data.size());
    } else {
      REQUIRE(data.size() <= request.body_sink.size());
      std::memcpy(request.body_sink.data(), data.data(), data.size());
    }
    r.sink_bytes = data.size();
    return r;
  };
}

Step Fail(Status s) {
  return [=](const HttpRequest&) -> Result<HttpResponse> { return s; };
}

std::string ErrorXml(const std::string& code, const std::string& message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" +
         message + "</Message></Error>";
}

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

struct Fixture {
  std::shared_ptr<ScriptedHttp> http = std::make_shared<ScriptedHttp>();
  std::vector<milliseconds> sleeps;
  std::shared_ptr<ObjectStore> store;

  explicit Fixture(bool anonymous = false, S3StoreOptions options = {}) {
    if (options.bucket.empty()) options.bucket = "bkt";
    if (options.endpoint.empty()) options.endpoint = "http://127.0.0.1:4568";
    options.max_attempts = 4;
    CredentialsOptions co;
    co.anonymous = anonymous;
    auto env = [](const std::string& name) -> std::optional<std::string> {
      if (name == "AWS_ACCESS_KEY_ID") return "AKID";
      if (name == "AWS_SECRET_ACCESS_KEY") return "SECRET";
      return std::nullopt;
    };
    auto credentials = MakeCredentialsChain(co, env);
    REQUIRE(credentials.ok());
    s3::S3StoreDeps deps;
    deps.http = http;
    deps.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    deps.uniform = [] { return 0.5; };
    auto clock = std::make_shared<ManualClock>(
        std::chrono::system_clock::time_point(std::chrono::seconds(1369353600)));
    auto made = s3::MakeS3StoreWithDeps(options, *credentials, clock, deps);
    REQUIRE(made.ok());
    store = *made;
  }
};

}  // namespace

TEST_CASE("S3 store: HEAD builds a signed path-style request and parses headers") {
  Fixture f;
  f.http->steps.push_back(Reply(200, {{"content-length", "1234"},
                                      {"etag", "\"abc123\""},
                                      {"last-modified", "Wed, 12 Oct 2009 17:50:30 GMT"}}));
  Result<ObjectInfo> info = f.store->Head("dir/a b+c.txt");
  REQUIRE(info.ok());
  CHECK(info->key == "dir/a b+c.txt");
  CHECK(info->size == 1234);
  CHECK(info->etag == "abc123");
  CHECK(info->mtime_sec == 1255369830);
  const HttpRequest& r = f.http->requests.at(0);
  CHECK(r.method == "HEAD");
  CHECK(r.url == "http://127.0.0.1:4568/bkt/dir/a%20b%2Bc.txt");
  CHECK(HeaderOf(r, "Host") == "127.0.0.1:4568");
  CHECK(HeaderOf(r, "x-amz-date") == "20130524T000000Z");
  CHECK(HeaderOf(r, "x-amz-content-sha256") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string auth = HeaderOf(r, "Authorization");
  CHECK(
      auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, "
                       "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="));
  CHECK(f.store->Id() == "s3://bkt@http://127.0.0.1:4568");
}

TEST_CASE("S3 store: anonymous requests carry no Authorization") {
  Fixture f(/*anonymous=*/true);
  f.http->steps.push_back(Reply(200, {{"content-length", "1"}}));
  REQUIRE(f.store->Head("k").ok());
  CHECK(HeaderOf(f.http->requests[0], "Authorization") == "<absent>");
}

TEST_CASE("S3 store: virtual-hosted addressing") {
  S3StoreOptions o;
  o.bucket = "bkt";
  o.endpoint = "https://s3.example.com";
  o.region = "eu-west-1";
  Fixture f(false, o);
  f.http->steps.push_back(Reply(200, {{"content-length", "1"}}));
  REQUIRE(f.store->Head("x/y").ok());
  CHECK(f.http->requests[0].url == "https://bkt.s3.example.com/x/y");
  CHECK(HeaderOf(f.http->requests[0], "Host") == "bkt.s3.example.com");
  CHECK(HeaderOf(f.http->requests[0], "Authorization").find("/eu-west-1/s3/") != std::string::npos);
}

TEST_CASE("S3 store: HEAD errors map to NotFound and PermissionDenied without retries") {
  Fixture f;
  f.http->steps.push_back(Reply(404));
  CHECK(f.store->Head("missing").status().code() == Code::kNotFound);
  f.http->steps.push_back(Reply(403));
  CHECK(f.store->Head("secret").status().code() == Code::kPermissionDenied);
  CHECK(f.http->requests.size() == 2);
  CHECK(f.sleeps.empty());
}

TEST_CASE("S3 store: ranged GET sends Range and If-Match and fills the span") {
  Fixture f;
  f.http->steps.push_back(Partial("hello", "v1", 100, 1000));
  std::vector<char> buffer(5);
  Result<size_t> n = f.store->GetRange("k", "v1", 100, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 5);
  CHECK(std::string(buffer.data(), 5) == "hello");
  const HttpRequest& r = f.http->requests[0];
  CHECK(HeaderOf(r, "Range") == "bytes=100-104");
  CHECK(HeaderOf(r, "If-Match") == "\"v1\"");
  CHECK(r.body_sink.data() == buffer.data());
  CHECK(HeaderOf(r, "Authorization").find("if-match;range") != std::string::npos);
}

TEST_CASE("S3 store: a scattered ranged GET asks for the whole range and fills every buffer") {
  Fixture f;
  f.http->steps.push_back(Partial("hello world", "v1", 100, 1000));
  std::vector<char> a(4), b(7);
  const std::span<char> parts[] = {a, b};
  Result<size_t> n = f.store->GetRangeInto("k", "v1", 100, parts);
  REQUIRE(n.ok());
  CHECK(*n == 11);
  CHECK(std::string(a.data(), 4) == "hell");
  CHECK(std::string(b.data(), 7) == "o world");
  const HttpRequest& r = f.http->requests[0];
  CHECK(HeaderOf(r, "Range") == "bytes=100-110");
  CHECK(HeaderOf(r, "If-Match") == "\"v1\"");
  CHECK(r.body_sink.empty());
  CHECK(r.body_sinks.size() == 2);
}

TEST_CASE("S3 store: a short read at the end of the object") {
  Fixture f;
  f.http->steps.push_back(Partial("xyz", "v1", 997, 1000));
  std::vector<char> buffer(10);
  Result<size_t> n = f.store->GetRange("k", "v1", 997, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 3);
  // A range that starts past the end: 416, zero bytes, not an error.
  f.http->steps.push_back(Reply(416, {}, ErrorXml("InvalidRange", "not satisfiable")));
  n = f.store->GetRange("k", "v1", 5000, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 0);
  // An empty span never reaches the server.
  CHECK(*f.store->GetRange("k", "v1", 0, std::span<char>()) == 0);
  CHECK(f.http->requests.size() == 2);
}

TEST_CASE("S3 store: a changed object is Stale, by 412 or by the response ETag") {
  Fixture f;
  std::vector<char> buffer(5);
  f.http->steps.push_back(Reply(412, {}, ErrorXml("PreconditionFailed", "At least one...")));
  CHECK(f.store->GetRange("k", "v1", 0, buffer).status().code() == Code::kStale);
  // A server that ignores If-Match (s3rver) returns the new version's bytes.
  f.http->steps.push_back(Partial("hello", "v2", 0, 1000));
  Result<size_t> r = f.store->GetRange("k", "v1", 0, buffer);
  CHECK(r.status().code() == Code::kStale);
  CHECK(r.status().message().find("v2") != std::string::npos);
  // A response without any ETag cannot be compared; If-Match was the guard.
  Step no_etag = [](const HttpRequest& request) -> Result<HttpResponse> {
    HttpResponse r;
    r.status = 206;
    std::memcpy(request.body_sink.data(), "hello", 5);
    r.sink_bytes = 5;
    return r;
  };
  f.http->steps.push_back(no_etag);
  CHECK(f.store->GetRange("k", "v1", 0, buffer).ok());
  // Without an expected ETag there is nothing to compare.
  f.http->steps.push_back(Partial("hello", "v2", 0, 1000));
  CHECK(f.store->GetRange("k", "", 0, buffer).ok());
  CHECK(HeaderOf(f.http->requests.back(), "If-Match") == "<absent>");
}

TEST_CASE("S3 store: a misplaced Content-Range is an error, not misplaced bytes") {
  Fixture f;
  std::vector<char> buffer(5);
  f.http->steps.push_back(Partial("hello", "v1", 0, 1000));
  CHECK(f.store->GetRange("k", "v1", 100, buffer).status().code() == Code::kIoError);
}

TEST_CASE("S3 store: transient failures are retried with backoff, then succeed") {
  Fixture f;
  f.http->steps.push_back(Reply(503, {}, ErrorXml("SlowDown", "Please reduce your request rate.")));
  f.http->steps.push_back(Fail(Status::IoError("body shorter than Content-Length")));
  f.http->steps.push_back(Reply(500, {}, ErrorXml("InternalError", "oops")));
  f.http->steps.push_back(Partial("hello", "v1", 0, 5));
  std::vector<char> buffer(5);
  Result<size_t> n = f.store->GetRange("k", "v1", 0, buffer);
  REQUIRE(n.ok());
  CHECK(*n == 5);
  CHECK(f.http->requests.size() == 4);
  // uniform() == 0.5: half of 50, 100 and 200 ms.
  CHECK(f.sleeps ==
        std::vector<milliseconds>{milliseconds(25), milliseconds(50), milliseconds(100)});
  // Each attempt is signed afresh.
  for (const HttpRequest& r : f.http->requests) {
    CHECK(HeaderOf(r, "Authorization") != "<absent>");
  }
}

TEST_CASE("S3 store: retries stop at max_attempts with the last error") {
  Fixture f;
  for (int i = 0; i < 4; ++i) {
    f.http->steps.push_back(
        Reply(503, {}, ErrorXml("SlowDown", "Please reduce your request rate.")));
  }
  Result<ObjectInfo> r = f.store->Head("k");
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message().find("SlowDown") != std::string::npos);
  CHECK(f.http->requests.size() == 4);
  CHECK(f.sleeps.size() == 3);

  Fixture g;
  for (int i = 0; i < 4; ++i) g.http->steps.push_back(Fail(Status::Unavailable("refused")));
  CHECK(g.store->Head("k").status().code() == Code::kUnavailable);
  CHECK(g.http->requests.size() == 4);
}

TEST_CASE("S3 store: 400 RequestTimeout is retried, other 400s are not") {
  Fixture f;
  f.http->steps.push_back(Reply(400, {}, ErrorXml("RequestTimeout", "idle")));
  f.http->steps.push_back(Reply(200, {{"content-length", "3"}}));
  CHECK(f.store->Head("k").ok());
  f.http->steps.push_back(Reply(400, {}, ErrorXml("InvalidArgument", "bad")));
  Result<ObjectInfo> r = f.store->Head("k");
  CHECK(r.status().code() == Code::kIoError);
  CHECK(r.status().message().find("InvalidArgument") != std::string::npos);
  CHECK(f.http->requests.size() == 3);
}

TEST_CASE("S3 store: List builds ListObjectsV2 queries and follows tokens") {
  Fixture f;
  f.http->steps.push_back(Reply(
      200, {},
      "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</"
      "NextContinuationToken><Contents><Key>p/a</Key><Size>3</Size><ETag>\"e\"</ETag>"
      "</Contents><CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></ListBucketResult>"));
  ListRequest req;
  req.prefix = "p/";
  req.max_keys = 2;
  Result<ListPage> page = f.store->List(req);
  REQUIRE(page.ok());
  CHECK(page->objects.size() == 1);
  CHECK(page->objects[0].etag == "e");
  CHECK(page->common_prefixes == std::vector<std::string>{"p/d/"});
  CHECK(page->next_continuation_token == "tok/+=");
  CHECK(f.http->requests[0].url ==
        "http://127.0.0.1:4568/bkt?delimiter=%2F&encoding-type=url&list-type=2&max-keys=2&"
        "prefix=p%2F");

  req.continuation_token = page->next_continuation_token;
  f.http->steps.push_back(Reply(200, {}, "<ListBucketResult/>"));
  page = f.store->List(req);
  REQUIRE(page.ok());
  CHECK(page->next_continuation_token.empty());
  CHECK(f.http->requests[1].url.find("continuation-token=tok%2F%2B%3D") != std::string::npos);

  // A server that hands back the same token would make callers loop forever.
  f.http->steps.push_back(Reply(200, {},
                                "<ListBucketResult><IsTruncated>true</IsTruncated>"
                                "<NextContinuationToken>tok/+=</NextContinuationToken>"
                                "</ListBucketResult>"));
  CHECK(f.store->List(req).status().code() == Code::kIoError);
  // A body that is not XML.
  f.http->steps.push_back(Reply(200, {}, "<ListBucketResult><Contents><Key>x"));
  CHECK(f.store->List(ListRequest{}).status().code() == Code::kIoError);
}

TEST_CASE("S3 store: CheckAccess gives the mount-time messages") {
  Fixture f;
  f.http->steps.push_back(Reply(200, {}, "<ListBucketResult/>"));
  CHECK(f.store->CheckAccess("prefix/").ok());
  CHECK(f.http->requests[0].url.find("max-keys=1") != std::string::npos);
  CHECK(f.http->requests[0].url.find("prefix=prefix%2F") != std::string::npos);

  f.http->steps.push_back(
      Reply(404, {}, ErrorXml("NoSuchBucket", "The specified bucket does not exist")));
  Status s = f.store->CheckAccess("");
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message().starts_with("bucket 'bkt' does not exist ("));
  CHECK(s.message().find("NoSuchBucket") != std::string::npos);

  f.http->steps.push_back(
      Reply(403, {},
            ErrorXml("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist")));
  s = f.store->CheckAccess("");
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK(s.message().starts_with("access denied to bucket 'bkt' (HTTP 403 InvalidAccessKeyId: "));

  for (int i = 0; i < 4; ++i) {
    f.http->steps.push_back(Fail(Status::Unavailable("GET http://127.0.0.1:1/: Couldn't connect")));
  }
  s = f.store->CheckAccess("");
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message().starts_with("cannot reach endpoint URL (http://127.0.0.1:4568: "));

  f.http->steps.push_back(Reply(301, {{"x-amz-bucket-region", "eu-west-1"}},
                                ErrorXml("PermanentRedirect", "use the right endpoint")));
  s = f.store->CheckAccess("");
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("--region eu-west-1") != std::string::npos);

  f.http->steps.push_back(Reply(200, {}, "<html>captive portal</html>"));
  CHECK(f.store->CheckAccess("").code() == Code::kIoError);
}
