#include "strata/retry.h"

#include <algorithm>
#include <cmath>

namespace strata {

RetryPolicy::RetryPolicy(RetryOptions options) : options_(options) {
  options_.max_attempts = std::max(1, options_.max_attempts);
}

bool RetryPolicy::IsRetryable(const AttemptOutcome& outcome) {
  if (!outcome.transport.ok()) {
    switch (outcome.transport.code()) {
      case Code::kUnavailable:
      case Code::kTimeout:
      case Code::kIoError:
        return true;
      default:
        return false;
    }
  }
  const long status = outcome.http_status;
  // Final whatever the body says: a missing key, a refusal or a failed
  // precondition does not change by asking again.
  if (status == 403 || status == 404 || status == 412 || status == 416) return false;
  const std::string_view code = outcome.error_code;
  if (code == "SlowDown" || code == "InternalError" || code == "RequestTimeout") return true;
  switch (status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

bool RetryPolicy::ShouldRetry(const AttemptOutcome& outcome, int attempts_made) const {
  return attempts_made < options_.max_attempts && IsRetryable(outcome);
}

std::chrono::milliseconds RetryPolicy::Backoff(int attempts_made, double unit) const {
  const int exponent = std::clamp(attempts_made - 1, 0, 30);
  // Computed in double so a large exponent saturates at the cap instead of
  // overflowing.
  const double ceiling =
      std::min(static_cast<double>(options_.max_delay.count()),
               static_cast<double>(options_.base_delay.count()) * std::ldexp(1.0, exponent));
  const double u = std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::floor(ceiling * u)));
}

}  // namespace strata
