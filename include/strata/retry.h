// RetryPolicy: which failed attempts are worth another try, and how long to
// wait before it. Pure: no clock, no randomness of its own (the caller passes
// a uniform sample), so every decision is unit-testable.
//
// Thread safety: immutable after construction; share freely.
#pragma once

#include <chrono>
#include <string_view>

#include "strata/status.h"

namespace strata {

struct RetryOptions {
  int max_attempts = 6;  // including the first attempt
  std::chrono::milliseconds base_delay{50};
  std::chrono::milliseconds max_delay{5000};
};

// What one attempt ended with: either a transport failure (non-ok
// `transport`, see http.h for the codes) or an HTTP status with the S3 error
// code parsed from the body (empty when there was none).
struct AttemptOutcome {
  Status transport;
  long http_status = 0;
  std::string_view error_code;
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = {});

  // True when the failure is transient: connection errors, timeouts and
  // short bodies (transport kUnavailable, kTimeout, kIoError); HTTP 500, 502,
  // 503, 504 and 429; the S3 codes SlowDown, InternalError and RequestTimeout
  // (the last comes as a 400). Everything else is final: 2xx, 3xx, 403, 404,
  // 412, 416, a 400 with any other code, and transport kInvalidArgument.
  static bool IsRetryable(const AttemptOutcome& outcome);

  // Whether to try again after `attempts_made` attempts (>= 1) ended with
  // `outcome`.
  bool ShouldRetry(const AttemptOutcome& outcome, int attempts_made) const;

  // The sleep before attempt `attempts_made + 1`: "full jitter", uniform in
  // [0, min(max_delay, base_delay * 2^(attempts_made - 1))]. `unit` is a
  // uniform sample in [0, 1).
  std::chrono::milliseconds Backoff(int attempts_made, double unit) const;

  int max_attempts() const { return options_.max_attempts; }

 private:
  RetryOptions options_;
};

}  // namespace strata
