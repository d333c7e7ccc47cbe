// The S3 backend: requests are built here, signed with SigV4, sent through
// the HttpClient with the retry policy, and their XML answered into
// ObjectStore results.
#include <charconv>
#include <mutex>
#include <random>
#include <thread>

#include "store/s3/s3_addressing.h"
#include "store/s3/s3_store_internal.h"
#include "store/s3/s3_xml.h"
#include "strata/retry.h"
#include "strata/s3_signer.h"

namespace strata::s3 {
namespace {

bool IsSuccess(long status) { return status >= 200 && status < 300; }

// "S3 error 500 InternalError: We encountered an internal error."
std::string Describe(const HttpResponse& response, const std::optional<S3Error>& error) {
  std::string out = "HTTP " + std::to_string(response.status);
  if (error) {
    out += " " + error->code;
    if (!error->message.empty()) out += ": " + error->message;
  }
  return out;
}

class S3Store : public ObjectStore {
 public:
  S3Store(S3StoreOptions options, Target target, std::shared_ptr<CredentialsProvider> credentials,
          std::shared_ptr<Clock> clock, S3StoreDeps deps)
      : options_(std::move(options)),
        target_(std::move(target)),
        credentials_(std::move(credentials)),
        clock_(std::move(clock)),
        deps_(std::move(deps)),
        retry_(RetryOptions{.max_attempts = options_.max_attempts}),
        id_("s3://" + options_.bucket + "@" +
            (options_.endpoint.empty() ? DefaultEndpoint(options_.region) : options_.endpoint)) {}

  std::string Id() const override { return id_; }

  Result<ObjectInfo> Head(const std::string& key) override {
    Call call;
    call.method = "HEAD";
    call.path = target_.ObjectPath(key);
    Result<HttpResponse> r = Execute(call);
    if (!r.ok()) return r.status();
    if (!IsSuccess(r->status)) return ObjectError(*r, key);
    ObjectInfo info;
    info.key = key;
    const std::string& length = r->Header("content-length");
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), info.size);
    if (length.empty() || ec != std::errc() || end != length.data() + length.size()) {
      return Status::IoError("HEAD '" + key + "': missing or bad Content-Length");
    }
    info.etag = StripEtag(r->Header("etag"));
    info.mtime_sec = ParseHttpDate(r->Header("last-modified")).value_or(0);
    return info;
  }

  Result<size_t> GetRange(const std::string& key, const std::string& etag, uint64_t offset,
                          std::span<char> dst) override {
    const std::span<char> one[1] = {dst};
    return GetRangeInto(key, etag, offset, one);
  }

  Result<size_t> GetRangeInto(const std::string& key, const std::string& etag, uint64_t offset,
                              std::span<const std::span<char>> dsts) override {
    uint64_t length = 0;
    for (auto d : dsts) length += d.size();
    if (length == 0) return size_t{0};
    const std::string expected = StripEtag(etag);
    Call call;
    call.method = "GET";
    call.path = target_.ObjectPath(key);
    call.headers.emplace_back(
        "Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
    if (!expected.empty()) call.headers.emplace_back("If-Match", "\"" + expected + "\"");
    if (dsts.size() == 1) {
      call.sink = dsts[0];
    } else {
      call.sinks = dsts;
    }
    Result<HttpResponse> r = Execute(call);
    if (!r.ok()) return r.status();
    if (r->status == 416) return size_t{0};  // the range starts at or past the end
    if (!IsSuccess(r->status)) return ObjectError(*r, key);
    // Servers that ignore If-Match (s3rver does) would hand back bytes of
    // another version; the response's own ETag is the last word.
    // A response without an ETag cannot be checked here; the If-Match sent
    // with it is then the only guard.
    const std::string got = StripEtag(r->Header("etag"));
    if (!expected.empty() && !got.empty() && got != expected) {
      return Status::Stale("object '" + key + "' changed: ETag is now '" + got + "', expected '" +
                           expected + "'");
    }
    if (r->status == 200 && offset != 0) {
      return Status::IoError("GET '" + key + "': the server ignored the Range header");
    }
    if (r->status == 206) STRATA_RETURN_IF_ERROR(CheckContentRange(*r, key, offset));
    return r->sink_bytes;
  }

  Result<ListPage> List(const ListRequest& request) override {
    Call call;
    call.method = "GET";
    call.path = target_.BucketPath();
    call.query = {{"list-type", "2"}, {"encoding-type", "url"}};
    if (!request.prefix.empty()) call.query.emplace_back("prefix", request.prefix);
    if (!request.delimiter.empty()) call.query.emplace_back("delimiter", request.delimiter);
    if (!request.continuation_token.empty()) {
      call.query.emplace_back("continuation-token", request.continuation_token);
    }
    if (request.max_keys > 0) call.query.emplace_back("max-keys", std::to_string(request.max_keys));
    Result<HttpResponse> r = Execute(call);
    if (!r.ok()) return r.status();
    if (!IsSuccess(r->status)) return BucketError(*r);
    Result<ListResult> parsed = ParseListObjectsV2(r->body);
    if (!parsed.ok()) {
      return Status::IoError("listing s3://" + options_.bucket + "/" + request.prefix + ": " +
                             parsed.status().message());
    }
    if (!parsed->page.next_continuation_token.empty() &&
        parsed->page.next_continuation_token == request.continuation_token) {
      return Status::IoError("listing s3://" + options_.bucket + "/" + request.prefix +
                             ": the server returned the same continuation token again");
    }
    return std::move(parsed->page);
  }

  Status CheckAccess(const std::string& prefix) override {
    Call call;
    call.method = "GET";
    call.path = target_.BucketPath();
    call.query = {{"list-type", "2"}, {"max-keys", "1"}};
    if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
    Result<HttpResponse> r = Execute(call);
    if (!r.ok()) {
      return Status::Unavailable("cannot reach endpoint URL (" + target_.base_url + ": " +
                                 r.status().message() + ")");
    }
    if (IsSuccess(r->status)) {
      Result<ListResult> parsed = ParseListObjectsV2(r->body);
      if (!parsed.ok()) {
        return Status::IoError("endpoint " + target_.base_url +
                               " did not answer like S3: " + parsed.status().message());
      }
      return Status::Ok();
    }
    return BucketError(*r);
  }

 private:
  struct Call {
    std::string method;
    std::string path;  // encoded
    sigv4::Pairs query;
    sigv4::Pairs headers;
    std::span<char> sink;
    std::span<const std::span<char>> sinks;  // scattered, when sink is empty
  };

  // One logical request: signed afresh for every attempt (the date moves,
  // credentials may rotate), retried per the policy with jittered sleeps.
  // Returns the last response, success or not, or the last transport error.
  Result<HttpResponse> Execute(const Call& call) {
    for (int attempt = 1;; ++attempt) {
      Result<HttpRequest> request = Build(call);
      if (!request.ok()) return request.status();
      Result<HttpResponse> r = deps_.http->Send(*request);
      std::optional<S3Error> error;
      AttemptOutcome outcome;
      if (r.ok()) {
        outcome.http_status = r->status;
        if (!IsSuccess(r->status)) error = ParseError(r->body);
        if (error) outcome.error_code = error->code;
      } else {
        outcome.transport = r.status();
      }
      if (!retry_.ShouldRetry(outcome, attempt)) return r;
      deps_.sleep(retry_.Backoff(attempt, deps_.uniform()));
    }
  }

  Result<HttpRequest> Build(const Call& call) {
    HttpRequest request;
    request.method = call.method;
    const std::string query = sigv4::CanonicalQueryString(call.query);
    request.url = target_.base_url + call.path + (query.empty() ? "" : "?" + query);
    request.body_sink = call.sink;
    request.body_sinks = call.sinks;
    request.headers = call.headers;
    request.headers.emplace_back("Host", target_.host_header);
    request.headers.emplace_back("x-amz-content-sha256", std::string(sigv4::kEmptyPayloadHash));

    Result<Credentials> credentials = credentials_->Get();
    if (!credentials.ok()) return credentials.status();
    if (credentials->access_key_id.empty()) return request;  // anonymous: unsigned

    sigv4::Request to_sign;
    to_sign.method = call.method;
    to_sign.canonical_uri = call.path;
    to_sign.query = call.query;
    to_sign.headers = request.headers;
    to_sign.payload_hash = std::string(sigv4::kEmptyPayloadHash);
    sigv4::Signature signature =
        sigv4::Sign(to_sign, *credentials, sigv4::Scope{options_.region, "s3"}, clock_->Now());
    for (auto& header : signature.headers_to_add) request.headers.push_back(std::move(header));
    return request;
  }

  Status CheckContentRange(const HttpResponse& r, const std::string& key, uint64_t offset) {
    // "bytes 100-199/1000": the start must be what was asked for, or the
    // bytes would land at the wrong place in the caller's buffer.
    const std::string& range = r.Header("content-range");
    if (range.empty()) return Status::Ok();
    const size_t space = range.find(' ');
    const size_t dash = range.find('-');
    uint64_t start = 0;
    if (space == std::string::npos || dash == std::string::npos || dash < space ||
        std::from_chars(range.data() + space + 1, range.data() + dash, start).ec != std::errc() ||
        start != offset) {
      return Status::IoError("GET '" + key + "': Content-Range '" + range + "' does not start at " +
                             std::to_string(offset));
    }
    return Status::Ok();
  }

  Status ObjectError(const HttpResponse& r, const std::string& key) {
    std::optional<S3Error> error = ParseError(r.body);
    const std::string what =
        "s3://" + options_.bucket + "/" + key + " (" + Describe(r, error) + ")";
    switch (r.status) {
      case 404:
        if (error && error->code == "NoSuchBucket") {
          return Status::NotFound("bucket '" + options_.bucket + "' does not exist (" +
                                  Describe(r, error) + ")");
        }
        return Status::NotFound("no such object " + what);
      case 403:
        return Status::PermissionDenied("access denied to " + what);
      case 412:
        return Status::Stale("object changed: " + what);
      default:
        return Classify(r, error, "request for " + what + " failed");
    }
  }

  Status BucketError(const HttpResponse& r) {
    std::optional<S3Error> error = ParseError(r.body);
    const std::string detail = Describe(r, error);
    const std::string bucket = "'" + options_.bucket + "'";
    switch (r.status) {
      case 404:
        return Status::NotFound("bucket " + bucket + " does not exist (" + detail + ")");
      case 403:
        return Status::PermissionDenied("access denied to bucket " + bucket + " (" + detail + ")");
      case 301:
      case 307:
      case 400:
        if (const std::string& region = r.Header("x-amz-bucket-region");
            !region.empty() && region != options_.region) {
          return Status::InvalidArgument("bucket " + bucket + " is in region '" + region +
                                         "', not '" + options_.region + "' (use --region " +
                                         region + ")");
        }
        [[fallthrough]];
      default:
        return Classify(r, error, "request to bucket " + bucket + " failed");
    }
  }

  static Status Classify(const HttpResponse& r, const std::optional<S3Error>& error,
                         const std::string& what) {
    const std::string message = what + " (" + Describe(r, error) + ")";
    if (r.status == 503 || (error && error->code == "SlowDown")) {
      return Status::Unavailable(message);
    }
    if (error && (error->code == "InvalidAccessKeyId" || error->code == "SignatureDoesNotMatch" ||
                  error->code == "AccessDenied")) {
      return Status::PermissionDenied(message);
    }
    return Status::IoError(message);
  }

  const S3StoreOptions options_;
  const Target target_;
  const std::shared_ptr<CredentialsProvider> credentials_;
  const std::shared_ptr<Clock> clock_;
  const S3StoreDeps deps_;
  const RetryPolicy retry_;
  const std::string id_;
};

// The jitter source: a PRNG behind a mutex (one draw per retry, so the lock
// is never contended in the normal case).
class Jitter {
 public:
  Jitter() : engine_(std::random_device{}()) {}
  double Next() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::shared_ptr<ObjectStore>> MakeS3StoreWithDeps(
    const S3StoreOptions& options, std::shared_ptr<CredentialsProvider> credentials,
    std::shared_ptr<Clock> clock, S3StoreDeps deps) {
  if (credentials == nullptr) return Status::InvalidArgument("S3 store without credentials");
  if (clock == nullptr) return Status::InvalidArgument("S3 store without a clock");
  S3StoreOptions normalized = options;
  if (normalized.region.empty()) normalized.region = "us-east-1";
  while (normalized.endpoint.ends_with('/')) normalized.endpoint.pop_back();
  Result<Target> target = MakeTarget(normalized);
  if (!target.ok()) return target.status();
  return std::shared_ptr<ObjectStore>(
      std::make_shared<S3Store>(std::move(normalized), std::move(*target), std::move(credentials),
                                std::move(clock), std::move(deps)));
}

}  // namespace strata::s3

namespace strata {

Result<std::shared_ptr<ObjectStore>> MakeS3Store(const S3StoreOptions& options,
                                                 std::shared_ptr<CredentialsProvider> credentials,
                                                 std::shared_ptr<Clock> clock) {
  HttpClientOptions http;
  http.connect_timeout_ms = options.connect_timeout_ms;
  http.low_speed_timeout_ms = options.request_timeout_ms;
  http.verify_tls = options.verify_tls;
  http.max_idle_connections = options.max_connections;
  http.ca_bundle = options.ca_bundle;
  if (http.ca_bundle.empty()) {
    if (std::optional<std::string> bundle = ProcessEnv()("AWS_CA_BUNDLE")) http.ca_bundle = *bundle;
  }
  auto jitter = std::make_shared<s3::Jitter>();
  s3::S3StoreDeps deps;
  deps.http = MakeCurlHttpClient(http);
  deps.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  deps.uniform = [jitter] { return jitter->Next(); };
  return s3::MakeS3StoreWithDeps(options, std::move(credentials), std::move(clock),
                                 std::move(deps));
}

}  // namespace strata
