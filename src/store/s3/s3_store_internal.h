// The seams of the S3 store, for tests: the HTTP transport, the sleep
// between retries and the jitter source are injected here; MakeS3Store wires
// the real ones (libcurl, a real sleep, a seeded PRNG).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "strata/http.h"
#include "strata/s3_store.h"

namespace strata::s3 {

struct S3StoreDeps {
  std::shared_ptr<HttpClient> http;
  // Called with each backoff delay; must be thread-safe.
  std::function<void(std::chrono::milliseconds)> sleep;
  // A uniform sample in [0, 1) for the jitter; must be thread-safe.
  std::function<double()> uniform;
};

Result<std::shared_ptr<ObjectStore>> MakeS3StoreWithDeps(
    const S3StoreOptions& options, std::shared_ptr<CredentialsProvider> credentials,
    std::shared_ptr<Clock> clock, S3StoreDeps deps);

}  // namespace strata::s3
