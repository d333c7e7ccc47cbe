// HttpClient over libcurl's easy interface.
//
// Connection reuse: every easy handle keeps its own live connection after a
// transfer, and idle handles go back to a pool, so a thread that takes a
// handle usually gets a warm keep-alive connection. DNS answers and TLS
// sessions are shared between handles through one CURLSH. The connection
// cache itself is deliberately NOT shared: libcurl documents that sharing it
// between threads doing transfers at once is unsafe (curl issue #4915).
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

#include "strata/http.h"

namespace strata {

const std::string& HttpResponse::Header(const std::string& name) const {
  static const std::string kEmpty;
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

namespace {

// curl_global_init is process-wide state owned by libcurl and must run once
// before any handle exists; a once_flag is the narrowest way to express that.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsHttps(const std::string& url) {
  return url.size() >= 8 && strncasecmp(url.c_str(), "https://", 8) == 0;
}

// Per-call state seen by the libcurl callbacks.
// Where a 2xx body goes: body_sink as a list of one, or body_sinks.
std::span<const std::span<char>> SinksOf(const HttpRequest& request) {
  if (!request.body_sink.empty()) return {&request.body_sink, 1};
  return request.body_sinks;
}

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  size_t max_body = 0;
  bool sink_overflow = false;
  size_t sink_part = 0;  // the sink buffer being filled, and how far
  size_t sink_part_used = 0;
  bool body_overflow = false;
  size_t upload_offset = 0;  // how much of request->body has been sent
  // No-progress watchdog: the last time a byte moved either way.
  std::chrono::steady_clock::duration stall_limit{};
  std::chrono::steady_clock::time_point last_progress;
  curl_off_t last_moved = -1;
  bool stalled = false;

  std::span<const std::span<char>> Sinks() const { return SinksOf(*request); }
  bool UseSink() const {
    return !Sinks().empty() && response->status >= 200 && response->status < 300;
  }
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line (after a 100 Continue, say): start over.
    t->response->headers.clear();
    const size_t sp = line.find(' ');
    long status = 0;
    if (sp != std::string_view::npos && sp + 4 <= line.size()) {
      std::from_chars(line.data() + sp + 1, line.data() + sp + 4, status);
    }
    t->response->status = status;
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;  // blank line or garbage
  std::string name(Trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->response->headers[name] = std::string(Trim(line.substr(colon + 1)));
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->UseSink()) {
    const auto sinks = t->Sinks();
    size_t done = 0;
    while (done < n) {
      while (t->sink_part < sinks.size() && t->sink_part_used == sinks[t->sink_part].size()) {
        ++t->sink_part;
        t->sink_part_used = 0;
      }
      if (t->sink_part == sinks.size()) {
        t->sink_overflow = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
      }
      std::span<char> part = sinks[t->sink_part];
      const size_t k = std::min(n - done, part.size() - t->sink_part_used);
      std::memcpy(part.data() + t->sink_part_used, data + done, k);
      t->sink_part_used += k;
      done += k;
    }
    t->response->sink_bytes += n;
    return n;
  }
  if (n > t->max_body - std::min(t->max_body, t->response->body.size())) {
    t->body_overflow = true;
    return 0;
  }
  t->response->body.append(data, n);
  return n;
}

size_t OnUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view body = t->request->body;
  const size_t n = std::min(size * count, body.size() - t->upload_offset);
  std::memcpy(buffer, body.data() + t->upload_offset, n);
  t->upload_offset += n;
  return n;
}

// libcurl rewinds an upload when it must resend it (a redirect, an auth
// retry on a reused connection that died).
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->request->body.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->upload_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// libcurl's LOW_SPEED options average over a window, so a transfer that got
// a few bytes and then froze survives for a long while; this watchdog fails
// the transfer when no byte has moved for stall_limit.
int OnProgress(void* user, curl_off_t, curl_off_t downloaded, curl_off_t, curl_off_t uploaded) {
  auto* t = static_cast<Transfer*>(user);
  const auto now = std::chrono::steady_clock::now();
  const curl_off_t moved = downloaded + uploaded;
  if (moved != t->last_moved) {
    t->last_moved = moved;
    t->last_progress = now;
    return 0;
  }
  if (now - t->last_progress >= t->stall_limit) {
    t->stalled = true;
    return 1;  // aborts with CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

Status TransportStatus(CURLcode rc, const HttpRequest& request, const char* detail) {
  std::string message = request.method + " " + request.url + ": " + curl_easy_strerror(rc);
  if (detail[0] != '\0') message += std::string(" (") + detail + ")";
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
      return Status::Unavailable(std::move(message));
    case CURLE_OPERATION_TIMEDOUT:
      return Status::Timeout(std::move(message));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
      return Status::InvalidArgument(std::move(message));
    case CURLE_PARTIAL_FILE:
      return Status::IoError(request.method + " " + request.url +
                             ": body shorter than Content-Length (" + curl_easy_strerror(rc) + ")");
    default:
      return Status::IoError(std::move(message));
  }
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(const HttpClientOptions& options) : options_(options) {
    InitCurlOnce();
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlHttpClient::Lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlHttpClient::Unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~CurlHttpClient() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
    curl_share_cleanup(share_);
  }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    CURL* h = Acquire();
    if (h == nullptr) return Status::Internal("curl_easy_init failed");
    HttpResponse response;
    Result<HttpResponse> result = Perform(h, request, response);
    Release(h);
    return result;
  }

 private:
  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<CurlHttpClient*>(user)->share_locks_[LockIndex(data)].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<CurlHttpClient*>(user)->share_locks_[LockIndex(data)].unlock();
  }
  static size_t LockIndex(curl_lock_data data) {
    return std::min<size_t>(static_cast<size_t>(data), kLockSlots - 1);
  }

  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* h) {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (idle_.size() < options_.max_idle_connections) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  Result<HttpResponse> Perform(CURL* h, const HttpRequest& request, HttpResponse& response) {
    // Reset drops the previous request's options but keeps the live
    // connection, which is the point of pooling handles.
    curl_easy_reset(h);
    Transfer transfer;
    transfer.request = &request;
    transfer.response = &response;
    transfer.max_body = options_.max_body_bytes;
    std::array<char, CURL_ERROR_SIZE> errbuf{};

    curl_easy_setopt(h, CURLOPT_SHARE, share_);
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf.data());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    // Object keys may contain "." and ".." segments; they must reach the
    // server exactly as signed.
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
    transfer.stall_limit = std::chrono::milliseconds(std::max(1, options_.low_speed_timeout_ms));
    transfer.last_progress = std::chrono::steady_clock::now();
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, options_.receive_buffer_bytes);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    // The bundle matters only for https: a CA setting must never break a
    // plain-http endpoint.
    if (!options_.ca_bundle.empty() && IsHttps(request.url)) {
      curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_bundle.c_str());
    }
    if (request.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT" || request.method == "POST") {
      // UPLOAD makes a PUT; CUSTOMREQUEST renames it for POST while keeping
      // the streamed, length-delimited body.
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_READFUNCTION, &OnUpload);
      curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &OnSeek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &transfer);
      if (request.method == "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (request.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);

    curl_slist* headers = nullptr;
    // An empty "Expect:" stops libcurl from waiting for 100-continue before
    // an upload: one round trip saved, and servers that never answer it
    // cannot stall us.
    if (!request.body.empty()) headers = curl_slist_append(headers, "Expect:");
    for (const auto& [name, value] : request.headers) {
      // "Name;" is libcurl's spelling of a header with an empty value.
      std::string line = value.empty() ? name + ";" : name + ": " + value;
      curl_slist* next = curl_slist_append(headers, line.c_str());
      if (next == nullptr) {
        curl_slist_free_all(headers);
        return Status::Internal("curl_slist_append failed");
      }
      headers = next;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

    const CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    // The handle outlives this call in the pool; it must not keep pointers
    // to this frame.
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);

    if (transfer.sink_overflow) {
      return Status::InvalidArgument(request.method + " " + request.url + ": HTTP " +
                                     std::to_string(response.status) + " body is larger than the " +
                                     std::to_string(SinkCapacity(request)) + "-byte buffer");
    }
    if (transfer.stalled) {
      return Status::Timeout(request.method + " " + request.url + ": no data moved for " +
                             std::to_string(options_.low_speed_timeout_ms) + " ms");
    }
    if (transfer.body_overflow) {
      return Status::IoError(request.method + " " + request.url + ": response body exceeds " +
                             std::to_string(options_.max_body_bytes) + " bytes");
    }
    if (rc != CURLE_OK) return TransportStatus(rc, request, errbuf.data());
    STRATA_RETURN_IF_ERROR(CheckLength(request, response));
    return std::move(response);
  }

  static size_t SinkCapacity(const HttpRequest& request) {
    size_t n = 0;
    for (auto s : SinksOf(request)) n += s.size();
    return n;
  }

  // libcurl reports a connection closed before Content-Length as
  // CURLE_PARTIAL_FILE; this is the belt to that pair of braces.
  static Status CheckLength(const HttpRequest& request, const HttpResponse& response) {
    if (request.method == "HEAD" || response.status == 204 || response.status == 304) {
      return Status::Ok();
    }
    const std::string& value = response.Header("content-length");
    if (value.empty()) return Status::Ok();
    uint64_t expected = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), expected);
    if (ec != std::errc() || end != value.data() + value.size()) return Status::Ok();
    const uint64_t got = response.sink_bytes + response.body.size();
    if (got == expected) return Status::Ok();
    return Status::IoError(request.method + " " + request.url + ": body shorter than " +
                           "Content-Length (got " + std::to_string(got) + " of " +
                           std::to_string(expected) + " bytes)");
  }

  static constexpr size_t kLockSlots = 16;

  const HttpClientOptions options_;
  CURLSH* share_ = nullptr;
  std::array<std::mutex, kLockSlots> share_locks_;  // one per curl_lock_data kind
  std::mutex pool_mu_;
  std::vector<CURL*> idle_;  // GUARDED_BY(pool_mu_)
};

}  // namespace

std::shared_ptr<HttpClient> MakeCurlHttpClient(const HttpClientOptions& options) {
  return std::make_shared<CurlHttpClient>(options);
}

}  // namespace strata
