#include "strata/s3_signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>

namespace strata::sigv4 {

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

namespace {

// ASCII only, whatever the locale says.
bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string FormatAmzDate(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

std::string CanonicalQueryString(const Pairs& query) {
  Pairs encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trim, and collapse every run of spaces or tabs to one space.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool in_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string CanonicalHeaders(const Pairs& headers, std::string* signed_headers) {
  Pairs lowered;
  lowered.reserve(headers.size());
  for (const auto& [name, value] : headers)
    lowered.emplace_back(Lower(name), CanonicalValue(value));
  // Stable: repeated names keep the order they were given in.
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string block;
  std::string names;
  for (size_t i = 0; i < lowered.size(); ++i) {
    if (i > 0 && lowered[i].first == lowered[i - 1].first) {
      block.pop_back();  // the '\n' of the previous line
      block += "," + lowered[i].second + "\n";
      continue;
    }
    block += lowered[i].first + ":" + lowered[i].second + "\n";
    if (!names.empty()) names.push_back(';');
    names += lowered[i].first;
  }
  if (signed_headers != nullptr) *signed_headers = names;
  return block;
}

std::string CanonicalRequest(const Request& request, std::string* signed_headers) {
  std::string names;
  std::string headers = CanonicalHeaders(request.headers, &names);
  if (signed_headers != nullptr) *signed_headers = names;
  return request.method + "\n" + request.canonical_uri + "\n" +
         CanonicalQueryString(request.query) + "\n" + headers + "\n" + names + "\n" +
         request.payload_hash;
}

Signature Sign(const Request& request, const Credentials& credentials, const Scope& scope,
               std::chrono::system_clock::time_point now) {
  Signature out;
  out.amz_date = FormatAmzDate(now);
  const std::string date = out.amz_date.substr(0, 8);

  Request signed_request = request;
  signed_request.headers.emplace_back("x-amz-date", out.amz_date);
  out.headers_to_add.emplace_back("x-amz-date", out.amz_date);
  if (!credentials.session_token.empty()) {
    signed_request.headers.emplace_back("x-amz-security-token", credentials.session_token);
    out.headers_to_add.emplace_back("x-amz-security-token", credentials.session_token);
  }

  out.canonical_request = CanonicalRequest(signed_request, &out.signed_headers);
  const std::string credential_scope =
      date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  out.string_to_sign = "AWS4-HMAC-SHA256\n" + out.amz_date + "\n" + credential_scope + "\n" +
                       Sha256Hex(out.canonical_request);

  const std::string k_date = HmacSha256("AWS4" + credentials.secret_access_key, date);
  const std::string k_region = HmacSha256(k_date, scope.region);
  const std::string k_service = HmacSha256(k_region, scope.service);
  const std::string k_signing = HmacSha256(k_service, "aws4_request");
  out.signature = HexEncode(HmacSha256(k_signing, out.string_to_sign));

  out.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                      credential_scope + ", SignedHeaders=" + out.signed_headers +
                      ", Signature=" + out.signature;
  out.headers_to_add.emplace_back("Authorization", out.authorization);
  return out;
}

}  // namespace strata::sigv4
