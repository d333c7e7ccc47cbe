#include "strata/status.h"

#include <catch2/catch.hpp>
#include <cerrno>

using namespace strata;

TEST_CASE("Status maps to errno in one place") {
  CHECK(ToErrno(Status::Ok()) == 0);
  CHECK(ToErrno(Status::NotFound("x")) == ENOENT);
  CHECK(ToErrno(Status::PermissionDenied("x")) == EACCES);
  CHECK(ToErrno(Status::Stale("x")) == ESTALE);
  CHECK(ToErrno(Status::Corruption("x")) == EIO);
  CHECK(Status::NotFound("no key 'a'").ToString() == "NotFound: no key 'a'");
}

TEST_CASE("Result carries a value or a status") {
  Result<int> good = 7;
  REQUIRE(good.ok());
  CHECK(*good == 7);
  Result<int> bad = Status::IoError("boom");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kIoError);
}
