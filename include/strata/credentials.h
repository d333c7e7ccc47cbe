// Credentials and the providers that find them.
//
// A CredentialsProvider returns the credentials to sign the next request
// with; providers that hold expiring credentials refresh them before expiry.
// Ownership: one per store, shared with the signer's caller.
// Thread safety: Get() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "strata/status.h"

namespace strata {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string source;  // "env", "profile default (~/.aws/credentials)", ... for messages
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Result<Credentials> Get() = 0;
};

// Reads an environment variable; injected so tests need not touch the
// process environment. Returns nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnv();

struct CredentialsOptions {
  std::string profile;  // --profile; empty: AWS_PROFILE, then "default"
  bool anonymous = false;  // --no-sign-request: unsigned requests
};

// The chain for this release: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN from the environment, then the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) and config file
// (AWS_CONFIG_FILE or ~/.aws/config) for the profile. An explicit profile that
// does not exist is an error at construction.
Result<std::shared_ptr<CredentialsProvider>> MakeCredentialsChain(const CredentialsOptions& options,
                                                                  EnvLookup env);

}  // namespace strata
