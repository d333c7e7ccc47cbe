// AWS Signature Version 4 (header authorization), as pure functions.
//
// Nothing here reads a clock, the environment or the network: the time and
// the credentials come in as arguments, so the signer is checked against
// AWS's published vectors byte for byte (tests/store/s3_signer_test.cc).
//
// Thread safety: pure functions over values.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/credentials.h"

namespace strata::sigv4 {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// SHA-256 of the empty string: the payload hash of a GET or HEAD.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

std::string HexEncode(std::string_view bytes);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ stay,
// every other byte becomes %XX (upper-case hex), '/' too unless
// `keep_slash` (object key paths: S3 encodes the path once and keeps '/').
std::string UriEncode(std::string_view s, bool keep_slash);

// "20150830T123600Z"
std::string FormatAmzDate(std::chrono::system_clock::time_point t);

// Query parameters, unencoded, into the canonical query string: each name
// and value UriEncode()d, sorted by name then value, joined with '&'. A
// parameter without a value is "name=". The same string is used in the URL,
// so what is sent is what is signed.
std::string CanonicalQueryString(const Pairs& query);

struct Request {
  std::string method;
  std::string canonical_uri;  // the path exactly as sent, already encoded
  Pairs query;                // unencoded
  Pairs headers;              // to sign, must include "host"; any case
  std::string payload_hash;   // hex SHA-256 of the body, or kUnsignedPayload
};

struct Scope {
  std::string region;
  std::string service;  // "s3"
};

struct Signature {
  std::string amz_date;
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-date"
  std::string signature;       // hex
  std::string authorization;   // the Authorization header value
  // Headers the caller must add to the request: x-amz-date,
  // x-amz-security-token (with a session token) and Authorization.
  Pairs headers_to_add;
};

// Canonical headers block ("name:value\n" lines) and the signed-header list:
// names lower-cased, values trimmed with inner runs of spaces collapsed,
// repeated names joined with ',', sorted by name.
std::string CanonicalHeaders(const Pairs& headers, std::string* signed_headers);

std::string CanonicalRequest(const Request& request, std::string* signed_headers);

// Signs `request` at time `now`. x-amz-date (and x-amz-security-token when
// credentials carry a session token) are added to the signed headers.
Signature Sign(const Request& request, const Credentials& credentials, const Scope& scope,
               std::chrono::system_clock::time_point now);

}  // namespace strata::sigv4
