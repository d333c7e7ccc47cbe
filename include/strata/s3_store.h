// The S3 backend of ObjectStore (AWS S3 and S3-compatible servers).
#pragma once

#include <memory>
#include <string>

#include "strata/clock.h"
#include "strata/credentials.h"
#include "strata/object_store.h"
#include "strata/status.h"

namespace strata {

enum class S3Addressing { kAuto, kPath, kVirtualHosted };

struct S3StoreOptions {
  std::string bucket;
  std::string region = "us-east-1";
  // Empty: https://s3.<region>.amazonaws.com. Otherwise a base URL such as
  // http://127.0.0.1:4568.
  std::string endpoint;
  // kAuto: path-style for endpoints that are IP addresses or localhost,
  // virtual-hosted otherwise.
  S3Addressing addressing = S3Addressing::kAuto;
  // CA bundle for HTTPS; empty: AWS_CA_BUNDLE if set, else the system default.
  std::string ca_bundle;
  bool verify_tls = true;
  int max_attempts = 6;          // per request, including the first
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 120000;  // a whole request, no progress for this long fails
  size_t max_connections = 64;
};

Result<std::shared_ptr<ObjectStore>> MakeS3Store(const S3StoreOptions& options,
                                                 std::shared_ptr<CredentialsProvider> credentials,
                                                 std::shared_ptr<Clock> clock);

// The local-directory backend: keys are paths below `root`; ETags are
// derived from size and mtime (nanoseconds). For tests and for `file://` mounts.
Result<std::shared_ptr<ObjectStore>> MakeLocalStore(const std::string& root);

}  // namespace strata
