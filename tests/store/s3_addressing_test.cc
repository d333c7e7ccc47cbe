#include "store/s3/s3_addressing.h"

#include <catch2/catch.hpp>

using namespace strata;
using namespace strata::s3;

TEST_CASE("Endpoints parse into scheme, host and port") {
  Result<Endpoint> e = ParseEndpoint("http://127.0.0.1:4568");
  REQUIRE(e.ok());
  CHECK(e->scheme == "http");
  CHECK(e->host == "127.0.0.1");
  CHECK(e->port == "4568");

  e = ParseEndpoint("HTTPS://s3.eu-west-1.amazonaws.com/");
  REQUIRE(e.ok());
  CHECK(e->scheme == "https");
  CHECK(e->host == "s3.eu-west-1.amazonaws.com");
  CHECK(e->port.empty());

  e = ParseEndpoint("http://[::1]:9000");
  REQUIRE(e.ok());
  CHECK(e->host == "[::1]");
  CHECK(e->port == "9000");

  CHECK_FALSE(ParseEndpoint("127.0.0.1:4568").ok());
  CHECK_FALSE(ParseEndpoint("ftp://host").ok());
  CHECK_FALSE(ParseEndpoint("http://host:port").ok());
  CHECK_FALSE(ParseEndpoint("http://host/base").ok());
  CHECK_FALSE(ParseEndpoint("http://:80").ok());
  CHECK_FALSE(ParseEndpoint("http://user@host").ok());
}

TEST_CASE("Addressing: auto picks path-style for IPs, localhost and dotted buckets") {
  Endpoint ip{"http", "127.0.0.1", "4568"};
  Endpoint local{"http", "localhost", "4568"};
  Endpoint aws{"https", "s3.us-east-1.amazonaws.com", ""};
  Endpoint v6{"http", "[::1]", "9000"};
  CHECK(UsePathStyle(S3Addressing::kAuto, ip, "bucket"));
  CHECK(UsePathStyle(S3Addressing::kAuto, local, "bucket"));
  CHECK(UsePathStyle(S3Addressing::kAuto, v6, "bucket"));
  CHECK_FALSE(UsePathStyle(S3Addressing::kAuto, aws, "bucket"));
  CHECK(UsePathStyle(S3Addressing::kAuto, aws, "my.dotted.bucket"));
  CHECK(UsePathStyle(S3Addressing::kAuto, aws, "Upper_Case"));
  CHECK(UsePathStyle(S3Addressing::kPath, aws, "bucket"));
  CHECK_FALSE(UsePathStyle(S3Addressing::kVirtualHosted, ip, "bucket"));
}

TEST_CASE("Targets: URLs, Host headers and encoded object paths") {
  S3StoreOptions o;
  o.bucket = "data";
  o.endpoint = "http://127.0.0.1:4568";
  Result<Target> path = MakeTarget(o);
  REQUIRE(path.ok());
  CHECK(path->path_style);
  CHECK(path->base_url == "http://127.0.0.1:4568");
  CHECK(path->host_header == "127.0.0.1:4568");
  CHECK(path->BucketPath() == "/data");
  CHECK(path->ObjectPath("dir/a b+c=d&e%f~g.txt") == "/data/dir/a%20b%2Bc%3Dd%26e%25f~g.txt");
  CHECK(path->ObjectPath("caf\xC3\xA9/x") == "/data/caf%C3%A9/x");
  CHECK(path->ObjectPath("a//b") == "/data/a//b");

  o.endpoint.clear();
  o.region = "eu-west-1";
  Result<Target> virt = MakeTarget(o);
  REQUIRE(virt.ok());
  CHECK_FALSE(virt->path_style);
  CHECK(virt->base_url == "https://data.s3.eu-west-1.amazonaws.com");
  CHECK(virt->host_header == "data.s3.eu-west-1.amazonaws.com");
  CHECK(virt->BucketPath() == "/");
  CHECK(virt->ObjectPath("k y") == "/k%20y");

  o.region = "cn-north-1";
  CHECK(MakeTarget(o)->base_url == "https://data.s3.cn-north-1.amazonaws.com.cn");

  o.bucket = "";
  CHECK_FALSE(MakeTarget(o).ok());
  o.bucket = "a/b";
  CHECK_FALSE(MakeTarget(o).ok());
}
