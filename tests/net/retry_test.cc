#include "strata/retry.h"

#include <catch2/catch.hpp>

using namespace strata;
using std::chrono::milliseconds;

namespace {

AttemptOutcome Http(long status, std::string_view code = {}) {
  return AttemptOutcome{Status::Ok(), status, code};
}
AttemptOutcome Transport(Status s) { return AttemptOutcome{std::move(s), 0, {}}; }

}  // namespace

TEST_CASE("Retry: transient HTTP statuses and S3 codes are retried") {
  CHECK(RetryPolicy::IsRetryable(Http(500)));
  CHECK(RetryPolicy::IsRetryable(Http(500, "InternalError")));
  CHECK(RetryPolicy::IsRetryable(Http(502)));
  CHECK(RetryPolicy::IsRetryable(Http(503, "SlowDown")));
  CHECK(RetryPolicy::IsRetryable(Http(503)));
  CHECK(RetryPolicy::IsRetryable(Http(504)));
  CHECK(RetryPolicy::IsRetryable(Http(429)));
  CHECK(RetryPolicy::IsRetryable(Http(400, "RequestTimeout")));
}

TEST_CASE("Retry: final answers are never retried") {
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(200)));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(206)));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(304)));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(400)));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(400, "InvalidArgument")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(400, "AuthorizationHeaderMalformed")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(403, "AccessDenied")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(403, "SignatureDoesNotMatch")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(404, "NoSuchKey")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(404, "NoSuchBucket")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(412, "PreconditionFailed")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(416, "InvalidRange")));
  CHECK_FALSE(RetryPolicy::IsRetryable(Http(501, "NotImplemented")));
}

TEST_CASE("Retry: transport failures by kind") {
  CHECK(RetryPolicy::IsRetryable(Transport(Status::Unavailable("connection refused"))));
  CHECK(RetryPolicy::IsRetryable(Transport(Status::Timeout("no progress"))));
  CHECK(RetryPolicy::IsRetryable(Transport(Status::IoError("body shorter than Content-Length"))));
  CHECK_FALSE(RetryPolicy::IsRetryable(Transport(Status::InvalidArgument("bad certificate"))));
  CHECK_FALSE(RetryPolicy::IsRetryable(Transport(Status::Internal("bug"))));
}

TEST_CASE("Retry: attempts are bounded by max_attempts") {
  RetryPolicy policy(RetryOptions{.max_attempts = 3});
  CHECK(policy.ShouldRetry(Http(503), 1));
  CHECK(policy.ShouldRetry(Http(503), 2));
  CHECK_FALSE(policy.ShouldRetry(Http(503), 3));
  CHECK_FALSE(policy.ShouldRetry(Http(404), 1));

  RetryPolicy once(RetryOptions{.max_attempts = 0});  // clamped to one attempt
  CHECK(once.max_attempts() == 1);
  CHECK_FALSE(once.ShouldRetry(Http(503), 1));
}

TEST_CASE("Retry: full-jitter backoff grows exponentially up to the cap") {
  RetryPolicy policy(RetryOptions{
      .max_attempts = 20, .base_delay = milliseconds(50), .max_delay = milliseconds(5000)});
  // The ceiling: 50, 100, 200, ... ms, capped at 5 s.
  CHECK(policy.Backoff(1, 0.999999) == milliseconds(49));
  CHECK(policy.Backoff(2, 0.999999) == milliseconds(99));
  CHECK(policy.Backoff(3, 0.5) == milliseconds(100));
  CHECK(policy.Backoff(7, 0.999999) == milliseconds(3199));
  CHECK(policy.Backoff(8, 0.999999) == milliseconds(4999));
  CHECK(policy.Backoff(60, 0.999999) == milliseconds(4999));
  // The floor is zero: full jitter, not equal jitter.
  for (int attempt = 1; attempt < 30; ++attempt) CHECK(policy.Backoff(attempt, 0.0).count() == 0);
  // Out-of-range samples are clamped, never negative or above the cap.
  CHECK(policy.Backoff(3, -1.0).count() == 0);
  CHECK(policy.Backoff(30, 7.0) == milliseconds(5000));
  // Every sample stays within [0, ceiling].
  for (int attempt = 1; attempt < 12; ++attempt) {
    const int64_t ceiling = std::min<int64_t>(5000, int64_t{50} << (attempt - 1));
    for (double u = 0.0; u < 1.0; u += 0.0625) {
      const int64_t ms = policy.Backoff(attempt, u).count();
      CHECK(ms >= 0);
      CHECK(ms <= ceiling);
    }
  }
}
