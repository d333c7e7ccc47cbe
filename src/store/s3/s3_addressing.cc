#include "store/s3/s3_addressing.h"

#include <algorithm>

#include "strata/s3_signer.h"

namespace strata::s3 {
namespace {

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool IsIpAddress(const std::string& host) {
  if (!host.empty() && host.front() == '[') return true;  // IPv6 literal
  return !host.empty() && std::all_of(host.begin(), host.end(),
                                      [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

bool IsDnsCompatibleBucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  return std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint out;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("endpoint '" + std::string(url) +
                                   "' must start with http:// or https://");
  }
  out.scheme = AsciiLower(std::string(url.substr(0, sep)));
  if (out.scheme != "http" && out.scheme != "https") {
    return Status::InvalidArgument("endpoint '" + std::string(url) +
                                   "' must start with http:// or https://");
  }
  std::string_view authority = url.substr(sep + 3);
  while (authority.ends_with('/')) authority.remove_suffix(1);
  if (authority.find_first_of("/?#@") != std::string_view::npos) {
    return Status::InvalidArgument("endpoint '" + std::string(url) +
                                   "' must be scheme://host[:port] with no path");
  }
  size_t port_colon = std::string_view::npos;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("endpoint '" + std::string(url) + "' has a bad IPv6 host");
    }
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return Status::InvalidArgument("endpoint '" + std::string(url) + "' has a bad port");
      }
      port_colon = close + 1;
    }
  } else {
    port_colon = authority.rfind(':');
  }
  out.host = std::string(authority.substr(0, port_colon));
  if (port_colon != std::string_view::npos) {
    out.port = std::string(authority.substr(port_colon + 1));
    if (out.port.empty() || out.port.size() > 5 ||
        !std::all_of(out.port.begin(), out.port.end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return Status::InvalidArgument("endpoint '" + std::string(url) + "' has a bad port");
    }
  }
  if (out.host.empty()) {
    return Status::InvalidArgument("endpoint '" + std::string(url) + "' has no host");
  }
  return out;
}

std::string DefaultEndpoint(const std::string& region) {
  const bool china = region.starts_with("cn-");
  return "https://s3." + region + (china ? ".amazonaws.com.cn" : ".amazonaws.com");
}

bool UsePathStyle(S3Addressing addressing, const Endpoint& endpoint, const std::string& bucket) {
  switch (addressing) {
    case S3Addressing::kPath:
      return true;
    case S3Addressing::kVirtualHosted:
      return false;
    case S3Addressing::kAuto:
      break;
  }
  const std::string host = AsciiLower(endpoint.host);
  return IsIpAddress(host) || host == "localhost" || host.ends_with(".localhost") ||
         !IsDnsCompatibleBucket(bucket);
}

std::string Target::ObjectPath(std::string_view key) const {
  return bucket_path + "/" + sigv4::UriEncode(key, /*keep_slash=*/true);
}

Result<Target> MakeTarget(const S3StoreOptions& options) {
  if (options.bucket.empty()) return Status::InvalidArgument("no bucket name given");
  if (options.bucket.find('/') != std::string::npos) {
    return Status::InvalidArgument("bucket name '" + options.bucket + "' contains '/'");
  }
  const std::string region = options.region.empty() ? "us-east-1" : options.region;
  const std::string url = options.endpoint.empty() ? DefaultEndpoint(region) : options.endpoint;
  Result<Endpoint> endpoint = ParseEndpoint(url);
  if (!endpoint.ok()) return endpoint.status();

  Target t;
  t.path_style = UsePathStyle(options.addressing, *endpoint, options.bucket);
  const std::string host = t.path_style ? endpoint->host : options.bucket + "." + endpoint->host;
  t.host_header = endpoint->port.empty() ? host : host + ":" + endpoint->port;
  t.base_url = endpoint->scheme + "://" + t.host_header;
  // A bucket name is a single DNS-ish label; encode anyway so a strange one
  // cannot change the path's structure.
  if (t.path_style) t.bucket_path = "/" + sigv4::UriEncode(options.bucket, false);
  return t;
}

}  // namespace strata::s3
