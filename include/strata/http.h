// HttpClient: the one HTTP transport of strata (libcurl underneath).
//
// It knows nothing of S3 or signing: a caller builds a complete request
// (URL already percent-encoded, every header set) and gets the status, the
// headers and the body back. Retries are the caller's business (retry.h);
// Send() makes exactly one attempt.
//
// Ownership: one client per store, shared by every thread that uses it.
// Thread safety: Send() may be called from many threads at once; each call
// runs its transfer on the calling thread with its own connection, so many
// transfers are in flight at the same time.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/status.h"

namespace strata {

struct HttpRequest {
  std::string method = "GET";                                // GET, HEAD, PUT, POST, DELETE
  std::string url;                                           // absolute, already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  // The request body (PUT, POST); must outlive Send(). Sent with a
  // Content-Length and without "Expect: 100-continue".
  std::string_view body;
  // When non-empty, a 2xx response body is written straight into this buffer
  // (no copy); HttpResponse::sink_bytes says how much arrived. A 2xx body
  // larger than the buffer fails the request. Non-2xx bodies (error XML)
  // always go to HttpResponse::body.
  std::span<char> body_sink;
  // The same, scattered: when non-empty (and body_sink is empty), a 2xx body
  // fills these buffers in order as if they were one. The caller keeps the
  // list and the buffers alive until Send() returns.
  std::span<const std::span<char>> body_sinks;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;                            // when no sink was used
  size_t sink_bytes = 0;                       // bytes written to body_sink(s)

  // The header's value, or "" when absent. `name` must be lower-case.
  const std::string& Header(const std::string& name) const;
};

struct HttpClientOptions {
  int connect_timeout_ms = 5000;
  // A transfer that moves no byte for this long fails with kTimeout. It is a
  // no-progress limit, not a total limit: a large GET at full speed may take
  // longer.
  int low_speed_timeout_ms = 30000;
  bool verify_tls = true;
  // CA bundle for https URLs; empty: libcurl's default. Ignored for http.
  std::string ca_bundle;
  // How many idle connections (easy handles) are kept for reuse.
  size_t max_idle_connections = 64;
  // libcurl's receive buffer; large so one GET streams at full speed.
  long receive_buffer_bytes = 512 * 1024;
  // Error bodies (non-2xx, or no sink) are cut at this size: a hostile or
  // broken server cannot make strata buffer without limit.
  size_t max_body_bytes = 64 * 1024 * 1024;
};

// Transport failures are reported as a non-ok Result (an HTTP error status is
// NOT a failure here: it comes back as an HttpResponse):
//   kUnavailable      could not resolve or connect (message has curl's text)
//   kTimeout          connect timeout or no progress for low_speed_timeout_ms
//   kIoError          the connection broke mid-transfer, or the body was
//                     shorter than Content-Length (retryable)
//   kInvalidArgument  a malformed URL, a 2xx body larger than body_sink, a
//                     TLS certificate that does not verify, an unreadable CA
//                     bundle (not worth retrying)
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

std::shared_ptr<HttpClient> MakeCurlHttpClient(const HttpClientOptions& options);

}  // namespace strata
