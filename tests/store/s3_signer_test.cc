// The SigV4 signer against AWS's published vectors: the SigV4 test suite
// (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service
// "service") and the Amazon S3 API reference's header-auth examples
// (examplebucket, 2013-05-24).
#include "strata/s3_signer.h"

#include <catch2/catch.hpp>

using namespace strata;
using namespace strata::sigv4;

namespace {

std::chrono::system_clock::time_point Utc(int64_t epoch_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(epoch_seconds));
}

// 2015-08-30T12:36:00Z
const auto kSuiteTime = Utc(1440938160);
// 2013-05-24T00:00:00Z
const auto kS3DocTime = Utc(1369353600);

Credentials SuiteCredentials() {
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return c;
}

Credentials S3DocCredentials() {
  Credentials c;
  c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  return c;
}

const Scope kSuiteScope{"us-east-1", "service"};
const Scope kS3Scope{"us-east-1", "s3"};

Request SuiteGet(std::string uri, Pairs query = {}) {
  Request r;
  r.method = "GET";
  r.canonical_uri = std::move(uri);
  r.query = std::move(query);
  r.headers = {{"Host", "example.amazonaws.com"}};
  r.payload_hash = std::string(kEmptyPayloadHash);
  return r;
}

std::string SuiteAuthorization(const std::string& signed_headers, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         signed_headers + ", Signature=" + signature;
}

}  // namespace

TEST_CASE("SigV4 suite: get-vanilla, every intermediate step") {
  Signature s = Sign(SuiteGet("/"), SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(s.amz_date == "20150830T123600Z");
  CHECK(s.canonical_request ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(s.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(s.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
  REQUIRE(s.headers_to_add.size() == 2);
  CHECK(s.headers_to_add[0] == std::pair<std::string, std::string>("x-amz-date", s.amz_date));
  CHECK(s.headers_to_add[1].first == "Authorization");
}

TEST_CASE("SigV4 suite: get-vanilla-query-order-key-case sorts the query") {
  Signature s = Sign(SuiteGet("/", {{"Param2", "value2"}, {"Param1", "value1"}}),
                     SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(s.canonical_request.starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
  CHECK(s.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

TEST_CASE("SigV4 suite: get-vanilla-query-unreserved keeps unreserved characters") {
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  Signature s =
      Sign(SuiteGet("/", {{unreserved, unreserved}}), SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(s.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"));
}

TEST_CASE("SigV4 suite: get-vanilla-utf8-query encodes UTF-8 query names") {
  Signature s =
      Sign(SuiteGet("/", {{"\xE1\x88\xB4", "bar"}}), SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(s.canonical_request.starts_with("GET\n/\n%E1%88%B4=bar\n"));
  CHECK(s.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"));
}

TEST_CASE("SigV4 suite: get-utf8 and get-space encode the path once") {
  Signature utf8 =
      Sign(SuiteGet(UriEncode("/\xE1\x88\xB4", true)), SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(utf8.canonical_request.starts_with("GET\n/%E1%88%B4\n\n"));
  CHECK(utf8.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"));

  Signature space = Sign(SuiteGet(UriEncode("/example space/", true)), SuiteCredentials(),
                         kSuiteScope, kSuiteTime);
  CHECK(space.canonical_request.starts_with("GET\n/example%20space/\n\n"));
  CHECK(space.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"));
}

TEST_CASE("SigV4 suite: get-header-value-trim trims and collapses header values") {
  Request r = SuiteGet("/");
  r.headers.emplace_back("My-Header1", " value1");
  r.headers.emplace_back("My-Header2", " \"a   b   c\"");
  Signature s = Sign(r, SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(s.canonical_request.find("my-header1:value1\nmy-header2:\"a b c\"\n") != std::string::npos);
  CHECK(s.authorization ==
        SuiteAuthorization("host;my-header1;my-header2;x-amz-date",
                           "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
}

TEST_CASE("SigV4 suite: get-vanilla-with-session-token signs the token") {
  Credentials c = SuiteCredentials();
  c.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  Signature s = Sign(SuiteGet("/"), c, kSuiteScope, kSuiteTime);
  CHECK(s.authorization ==
        SuiteAuthorization("host;x-amz-date;x-amz-security-token",
                           "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
  REQUIRE(s.headers_to_add.size() == 3);
  CHECK(s.headers_to_add[1] ==
        std::pair<std::string, std::string>("x-amz-security-token", c.session_token));
}

TEST_CASE("SigV4 suite: post-vanilla") {
  Request r = SuiteGet("/");
  r.method = "POST";
  Signature s = Sign(r, SuiteCredentials(), kSuiteScope, kSuiteTime);
  CHECK(s.authorization ==
        SuiteAuthorization("host;x-amz-date",
                           "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
}

TEST_CASE("S3 API reference: GET Object with a Range header") {
  Request r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", std::string(kEmptyPayloadHash)}};
  r.payload_hash = std::string(kEmptyPayloadHash);
  Signature s = Sign(r, S3DocCredentials(), kS3Scope, kS3DocTime);
  CHECK(s.canonical_request ==
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(s.string_to_sign ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  CHECK(s.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  CHECK(s.authorization ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("S3 API reference: GET Bucket (list objects) with query parameters") {
  Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.query = {{"max-keys", "2"}, {"prefix", "J"}};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", std::string(kEmptyPayloadHash)}};
  r.payload_hash = std::string(kEmptyPayloadHash);
  Signature s = Sign(r, S3DocCredentials(), kS3Scope, kS3DocTime);
  CHECK(s.canonical_request.starts_with("GET\n/\nmax-keys=2&prefix=J\n"));
  CHECK(s.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("UriEncode: keys with reserved, unicode and unreserved characters") {
  CHECK(UriEncode("a b", true) == "a%20b");
  CHECK(UriEncode("a+b=c&d", true) == "a%2Bb%3Dc%26d");
  CHECK(UriEncode("100%", true) == "100%25");
  CHECK(UriEncode("x~y-z_w.v", true) == "x~y-z_w.v");
  CHECK(UriEncode("dir/sub/file", true) == "dir/sub/file");
  CHECK(UriEncode("dir/sub/file", false) == "dir%2Fsub%2Ffile");
  CHECK(UriEncode("caf\xC3\xA9", true) == "caf%C3%A9");
  CHECK(UriEncode("\xE1\x88\xB4", false) == "%E1%88%B4");
  CHECK(UriEncode("a*b'c(d)!", true) == "a%2Ab%27c%28d%29%21");
  CHECK(UriEncode("", true).empty());
}

TEST_CASE("Canonical query: encoded, sorted by name then value, empty values kept") {
  CHECK(CanonicalQueryString({}) == "");
  CHECK(CanonicalQueryString({{"b", "2"}, {"a", "1"}}) == "a=1&b=2");
  CHECK(CanonicalQueryString({{"foo", "b"}, {"foo", "a"}}) == "foo=a&foo=b");
  CHECK(CanonicalQueryString({{"list-type", "2"}, {"prefix", "a b/c+d"}, {"delimiter", "/"}}) ==
        "delimiter=%2F&list-type=2&prefix=a%20b%2Fc%2Bd");
  CHECK(CanonicalQueryString({{"Param1", ""}}) == "Param1=");
}

TEST_CASE("Canonical headers join repeated names in order") {
  std::string names;
  std::string block = CanonicalHeaders({{"My-Header1", "value2"},
                                        {"Host", "example.amazonaws.com"},
                                        {"My-Header1", "value2"},
                                        {"My-Header1", "value1"}},
                                       &names);
  CHECK(block == "host:example.amazonaws.com\nmy-header1:value2,value2,value1\n");
  CHECK(names == "host;my-header1");

  // SigV4 suite: get-header-key-duplicate.
  Request r = SuiteGet("/");
  r.headers.emplace_back("My-Header1", "value2");
  r.headers.emplace_back("My-Header1", "value2");
  r.headers.emplace_back("My-Header1", "value1");
  CHECK(Sign(r, SuiteCredentials(), kSuiteScope, kSuiteTime).authorization ==
        SuiteAuthorization("host;my-header1;x-amz-date",
                           "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"));
}

TEST_CASE("Hash helpers") {
  CHECK(Sha256Hex("") == kEmptyPayloadHash);
  CHECK(HexEncode(std::string("\x00\xff\x10", 3)) == "00ff10");
  CHECK(FormatAmzDate(kS3DocTime) == "20130524T000000Z");
}
