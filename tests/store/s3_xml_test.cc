#include "store/s3/s3_xml.h"

#include <catch2/catch.hpp>

using namespace strata;
using namespace strata::s3;

namespace {

const char* kListPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>photos/</Prefix>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>photos/a &amp; b.jpg</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key> </Key>
    <LastModified>2020-02-29T00:00:00Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e-2"</ETag>
    <Size>0</Size>
  </Contents>
  <CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>photos/2007/</Prefix></CommonPrefixes>
</ListBucketResult>)";

}  // namespace

TEST_CASE("XML: a ListObjectsV2 page with contents, prefixes and a token") {
  Result<ListResult> r = ParseListObjectsV2(kListPage);
  REQUIRE(r.ok());
  CHECK(r->is_truncated);
  CHECK(r->page.next_continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  REQUIRE(r->page.objects.size() == 2);
  CHECK(r->page.objects[0].key == "photos/a & b.jpg");
  CHECK(r->page.objects[0].size == 434234);
  CHECK(r->page.objects[0].etag == "fba9dede5f27731c9771645a39863328");
  CHECK(r->page.objects[0].mtime_sec == 1255369830);
  CHECK(r->page.objects[1].key == " ");  // whitespace-only keys survive
  CHECK(r->page.objects[1].etag == "d41d8cd98f00b204e9800998ecf8427e-2");
  CHECK(r->page.objects[1].mtime_sec == 1582934400);
  CHECK(r->page.common_prefixes == std::vector<std::string>{"photos/2006/", "photos/2007/"});
}

TEST_CASE("XML: the last page and an empty listing") {
  Result<ListResult> last = ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size>"
      "</Contents></ListBucketResult>");
  REQUIRE(last.ok());
  CHECK_FALSE(last->is_truncated);
  CHECK(last->page.next_continuation_token.empty());
  CHECK(last->page.objects.size() == 1);
  CHECK(last->page.objects[0].mtime_sec == 0);

  Result<ListResult> empty = ParseListObjectsV2("<ListBucketResult/>");
  REQUIRE(empty.ok());
  CHECK(empty->page.objects.empty());
  CHECK(empty->page.common_prefixes.empty());
}

TEST_CASE("XML: encoding-type=url is decoded only when the server echoes it") {
  const std::string encoded =
      "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a+b%2Bc%25d%3D%26"
      "%E2%82%AC</Key><Size>5</Size></Contents><CommonPrefixes><Prefix>dir%20x/</Prefix>"
      "</CommonPrefixes></ListBucketResult>";
  Result<ListResult> r = ParseListObjectsV2(encoded);
  REQUIRE(r.ok());
  CHECK(r->page.objects[0].key == "a b+c%d=&\xE2\x82\xAC");
  CHECK(r->page.common_prefixes[0] == "dir x/");

  // s3rver ignores encoding-type and sends keys raw: they must stay raw.
  Result<ListResult> raw = ParseListObjectsV2(
      "<ListBucketResult><Contents><Key>a+b%2B</Key><Size>5</Size></Contents>"
      "</ListBucketResult>");
  REQUIRE(raw.ok());
  CHECK(raw->page.objects[0].key == "a+b%2B");

  CHECK_FALSE(ParseListObjectsV2("<ListBucketResult><EncodingType>url</EncodingType><Contents>"
                                 "<Key>bad%zz</Key><Size>1</Size></Contents></ListBucketResult>")
                  .ok());
}

TEST_CASE("XML: S3 error documents") {
  std::optional<S3Error> e = ParseError(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The "
      "specified bucket does not exist</Message><BucketName>nope</BucketName>"
      "<RequestId>4442587FB7D0A2F9</RequestId></Error>");
  REQUIRE(e.has_value());
  CHECK(e->code == "NoSuchBucket");
  CHECK(e->message == "The specified bucket does not exist");

  CHECK_FALSE(ParseError("").has_value());
  CHECK_FALSE(ParseError("<html><body>502 Bad Gateway</body></html>").has_value());
  CHECK_FALSE(ParseError("<Error><Message>no code</Message></Error>").has_value());
  CHECK_FALSE(ParseError("<Error><Code>SlowDo").has_value());
}

TEST_CASE("XML: truncated bodies are errors, never partial pages") {
  const std::string page = kListPage;
  for (size_t cut :
       {size_t{0}, size_t{10}, size_t{100}, page.size() / 2, page.size() - 20, page.size() - 1}) {
    INFO("cut at " << cut);
    CHECK_FALSE(ParseListObjectsV2(std::string_view(page).substr(0, cut)).ok());
  }
}

TEST_CASE("XML: hostile and malformed bodies return errors without crashing") {
  // An entity bomb: pugixml skips the DTD and never expands &lol9;.
  const std::string bomb =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
      "<ListBucketResult><Contents><Key>&lol3;</Key><Size>1</Size></Contents>"
      "</ListBucketResult>";
  Result<ListResult> r = ParseListObjectsV2(bomb);
  if (r.ok()) {
    REQUIRE(r->page.objects.size() == 1);
    CHECK(r->page.objects[0].key.size() < 64);
  }
  // Deep nesting.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  CHECK_FALSE(ParseListObjectsV2(deep).ok());
  // Wrong root, binary junk, bad numbers, missing keys, truncation without a token.
  CHECK_FALSE(ParseListObjectsV2("<Error><Code>x</Code></Error>").ok());
  CHECK_FALSE(ParseListObjectsV2(std::string("\0\xff\xfe<\x01", 5)).ok());
  CHECK_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                                 "</Contents></ListBucketResult>")
                  .ok());
  CHECK_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>99999999999"
                                 "999999999999</Size></Contents></ListBucketResult>")
                  .ok());
  CHECK_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Size>1</Size></Contents>"
                                 "</ListBucketResult>")
                  .ok());
  CHECK_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                 "</ListBucketResult>")
                  .ok());
  CHECK_FALSE(ParseListObjectsV2("<ListBucketResult><CommonPrefixes><Prefix></Prefix>"
                                 "</CommonPrefixes></ListBucketResult>")
                  .ok());
}

TEST_CASE("Dates: ISO 8601 from listings and RFC 1123 from headers") {
  CHECK(ParseIso8601("2009-10-12T17:50:30.000Z") == 1255369830);
  CHECK(ParseIso8601("2009-10-12T17:50:30Z") == 1255369830);
  CHECK(ParseIso8601("1970-01-01T00:00:00.000Z") == 0);
  CHECK(ParseIso8601("2024-02-29T23:59:59.123456Z") == 1709251199);
  CHECK_FALSE(ParseIso8601("2009-10-12 17:50:30Z").has_value());
  CHECK_FALSE(ParseIso8601("2009-13-12T17:50:30.000Z").has_value());
  CHECK_FALSE(ParseIso8601("2009-10-12T17:50:30.000+01:00").has_value());
  CHECK_FALSE(ParseIso8601("").has_value());

  CHECK(ParseHttpDate("Wed, 12 Oct 2009 17:50:30 GMT") == 1255369830);
  CHECK(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK_FALSE(ParseHttpDate("Wed, 12 Foo 2009 17:50:30 GMT").has_value());
  CHECK_FALSE(ParseHttpDate("Wed, 12 Oct 2009 17:50:30 PST").has_value());
  CHECK_FALSE(ParseHttpDate("garbage").has_value());
}

TEST_CASE("ETags and URL decoding") {
  CHECK(StripEtag("\"abc\"") == "abc");
  CHECK(StripEtag("abc") == "abc");
  CHECK(StripEtag("W/\"abc\"") == "abc");
  CHECK(StripEtag("\"") == "\"");
  CHECK(StripEtag("") == "");
  CHECK(UrlDecode("a%2Fb+c") == "a/b c");
  CHECK(UrlDecode("%") == std::nullopt);
  CHECK(UrlDecode("%4") == std::nullopt);
  CHECK(UrlDecode("%41") == "A");
}
