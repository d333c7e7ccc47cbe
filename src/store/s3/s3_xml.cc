#include "store/s3/s3_xml.h"

#include <charconv>
#include <cstdio>
#include <pugixml.hpp>

namespace strata::s3 {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil): no time zone, no locale, no global state.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ToEpoch(int year, int month, int day, int hour, int minute, int second) {
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 ||
      hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

bool ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string_view ChildText(const pugi::xml_node& node, const char* name) {
  return node.child(name).text().as_string();
}

pugi::xml_parse_result Load(pugi::xml_document& doc, std::string_view body) {
  // Keys are data, byte for byte: no end-of-line normalisation, whitespace
  // kept inside text and even as the whole text (a key of one space). A
  // DOCTYPE is skipped; pugixml never expands declared entities, so an
  // entity bomb stays inert.
  constexpr unsigned kFlags =
      pugi::parse_cdata | pugi::parse_escapes | pugi::parse_ws_pcdata_single;
  return doc.load_buffer(body.data(), body.size(), kFlags, pugi::encoding_utf8);
}

}  // namespace

std::optional<S3Error> ParseError(std::string_view body) {
  if (body.empty()) return std::nullopt;
  pugi::xml_document doc;
  if (!Load(doc, body)) return std::nullopt;
  pugi::xml_node error = doc.child("Error");
  if (!error) return std::nullopt;
  S3Error out{std::string(ChildText(error, "Code")), std::string(ChildText(error, "Message"))};
  if (out.code.empty()) return std::nullopt;
  return out;
}

Result<ListResult> ParseListObjectsV2(std::string_view body) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = Load(doc, body);
  if (!parsed) {
    return Status::IoError(std::string("malformed ListObjectsV2 response: ") +
                           parsed.description() + " at byte " + std::to_string(parsed.offset));
  }
  pugi::xml_node root = doc.child("ListBucketResult");
  if (!root) return Status::IoError("ListObjectsV2 response has no ListBucketResult element");

  const bool url_encoded = ChildText(root, "EncodingType") == "url";
  auto decode = [&](std::string_view text) -> std::optional<std::string> {
    if (!url_encoded) return std::string(text);
    return UrlDecode(text);
  };

  ListResult out;
  out.is_truncated = ChildText(root, "IsTruncated") == "true";
  for (pugi::xml_node item : root.children("Contents")) {
    std::optional<std::string> key = decode(ChildText(item, "Key"));
    if (!key || key->empty()) return Status::IoError("ListObjectsV2 entry with a bad or empty Key");
    ObjectInfo info;
    info.key = std::move(*key);
    if (!ParseUint(ChildText(item, "Size"), &info.size)) {
      return Status::IoError("ListObjectsV2 entry '" + info.key + "' has a bad Size");
    }
    info.etag = StripEtag(ChildText(item, "ETag"));
    info.mtime_sec = ParseIso8601(ChildText(item, "LastModified")).value_or(0);
    out.page.objects.push_back(std::move(info));
  }
  for (pugi::xml_node item : root.children("CommonPrefixes")) {
    std::optional<std::string> prefix = decode(ChildText(item, "Prefix"));
    if (!prefix || prefix->empty()) return Status::IoError("ListObjectsV2 CommonPrefixes is bad");
    out.page.common_prefixes.push_back(std::move(*prefix));
  }
  if (out.is_truncated) {
    out.page.next_continuation_token = ChildText(root, "NextContinuationToken");
    if (out.page.next_continuation_token.empty()) {
      return Status::IoError("truncated ListObjectsV2 page without a NextContinuationToken");
    }
  }
  return out;
}

std::optional<int64_t> ParseIso8601(std::string_view text) {
  // 2009-10-12T17:50:30.000Z, fraction optional.
  if (text.size() < 20 || text.size() > 40) return std::nullopt;
  const std::string s(text);
  int year, month, day, hour, minute, second, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  if (rest != "Z") return std::nullopt;
  return ToEpoch(year, month, day, hour, minute, second);
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  // RFC 1123: "Wed, 12 Oct 2009 17:50:30 GMT".
  if (text.size() < 29 || text.size() > 40) return std::nullopt;
  const std::string s(text);
  char month_name[4] = {};
  int day, year, hour, minute, second, consumed = 0;
  if (std::sscanf(s.c_str(), "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &day, month_name,
                  &year, &hour, &minute, &second, &consumed) != 6 ||
      static_cast<size_t>(consumed) != s.size()) {
    return std::nullopt;
  }
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int m = 0; m < 12; ++m) {
    if (std::string_view(month_name) == kMonths[m]) {
      return ToEpoch(year, m + 1, day, hour, minute, second);
    }
  }
  return std::nullopt;
}

std::string StripEtag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  // Listings send the quotes as &quot;, which the XML parser has already
  // turned into plain quotes by the time they get here.
  return std::string(etag);
}

std::optional<std::string> UrlDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace strata::s3
