// Where an S3 request goes: endpoint parsing, path-style versus
// virtual-hosted addressing, and the encoded request path of a key.
//
// Thread safety: pure functions over values.
#pragma once

#include <string>
#include <string_view>

#include "strata/s3_store.h"
#include "strata/status.h"

namespace strata::s3 {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // "127.0.0.1", "s3.us-east-1.amazonaws.com", "[::1]"
  std::string port;    // "" when the URL has none
};

// "http://127.0.0.1:4568" -> {http, 127.0.0.1, 4568}. A path after the
// authority is not supported (InvalidArgument), nor is a missing scheme.
Result<Endpoint> ParseEndpoint(std::string_view url);

// https://s3.<region>.amazonaws.com (.com.cn for the China regions).
std::string DefaultEndpoint(const std::string& region);

// kAuto picks path-style for IP addresses and localhost, and for bucket
// names that cannot be a DNS label under TLS (dots, upper case, '_').
bool UsePathStyle(S3Addressing addressing, const Endpoint& endpoint, const std::string& bucket);

struct Target {
  std::string base_url;     // "http://127.0.0.1:4568", no trailing slash
  std::string host_header;  // what is sent and signed as Host
  std::string bucket_path;  // "/bucket" for path-style, "" for virtual-hosted
  bool path_style = false;

  // The encoded request path of an object key (S3 encodes once, keeps '/').
  std::string ObjectPath(std::string_view key) const;
  // The request path of the bucket itself (listings).
  std::string BucketPath() const { return bucket_path.empty() ? "/" : bucket_path; }
};

Result<Target> MakeTarget(const S3StoreOptions& options);

}  // namespace strata::s3
