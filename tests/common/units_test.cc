#include "strata/units.h"

#include <catch2/catch.hpp>

using namespace strata;

TEST_CASE("ParseSize accepts binary units") {
  CHECK(*ParseSize("4096") == 4096);
  CHECK(*ParseSize("64k") == 64 * kKiB);
  CHECK(*ParseSize("64KiB") == 64 * kKiB);
  CHECK(*ParseSize("1M") == kMiB);
  CHECK(*ParseSize("1.5G") == 3 * kGiB / 2);
  CHECK_FALSE(ParseSize("").ok());
  CHECK_FALSE(ParseSize("12 parsecs").ok());
  CHECK_FALSE(ParseSize("-1").ok());
}

TEST_CASE("ParseDurationSeconds") {
  CHECK(*ParseDurationSeconds("5") == 5.0);
  CHECK(*ParseDurationSeconds("250ms") == 0.25);
  CHECK(*ParseDurationSeconds("2m") == 120.0);
  CHECK_FALSE(ParseDurationSeconds("soon").ok());
}
