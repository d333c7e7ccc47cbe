// Parsing of S3's XML bodies (ListObjectsV2 results and error documents) and
// of the date formats S3 speaks, with pugixml.
//
// Every parser returns an error for malformed, truncated or hostile input;
// none throws or crashes. pugixml does not expand DTD entities, so entity
// bombs stay inert text.
//
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strata/object_store.h"
#include "strata/status.h"

namespace strata::s3 {

struct S3Error {
  std::string code;     // "NoSuchKey"
  std::string message;  // "The specified key does not exist."
};

// The <Error><Code/><Message/></Error> document; nullopt when the body is not
// one (empty, HTML from a proxy, truncated).
std::optional<S3Error> ParseError(std::string_view body);

struct ListResult {
  ListPage page;
  bool is_truncated = false;
};

// A ListObjectsV2 result. When the body says <EncodingType>url</EncodingType>,
// keys and prefixes are URL-decoded (servers that ignore encoding-type=url
// do not echo it, and their keys are taken verbatim). A truncated page
// without a NextContinuationToken is an error: following it would loop.
Result<ListResult> ParseListObjectsV2(std::string_view body);

// "2009-10-12T17:50:30.000Z" (listings) and "Wed, 12 Oct 2009 17:50:30 GMT"
// (Last-Modified headers) to seconds since the epoch.
std::optional<int64_t> ParseIso8601(std::string_view text);
std::optional<int64_t> ParseHttpDate(std::string_view text);

// ETags arrive quoted ("\"abc\""); strata keeps them bare. Weak prefixes
// (W/) are dropped too.
std::string StripEtag(std::string_view etag);

// Decodes %XX escapes and '+' (as a space), as S3's encoding-type=url does.
// Malformed escapes are an error.
std::optional<std::string> UrlDecode(std::string_view text);

}  // namespace strata::s3
