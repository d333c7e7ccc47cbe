#include "strata/metrics.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace strata;

TEST_CASE("MetricsText renders Prometheus text exposition") {
  MetricsText m;
  m.Counter("strata_cache_hits_total", "Pages served from a tier.", 12, {{"tier", "memory"}});
  m.Counter("strata_cache_hits_total", "ignored", 3, {{"tier", "disk"}});
  m.Gauge("strata_amplification", "Fetched over returned bytes.", 1.25);
  m.Gauge("strata_label_escape", "Escapes.", 1, {{"k", "a\"b\\c"}});
  std::string text = m.Render();
  CHECK(text ==
        "# HELP strata_cache_hits_total Pages served from a tier.\n"
        "# TYPE strata_cache_hits_total counter\n"
        "strata_cache_hits_total{tier=\"memory\"} 12\n"
        "strata_cache_hits_total{tier=\"disk\"} 3\n"
        "# HELP strata_amplification Fetched over returned bytes.\n"
        "# TYPE strata_amplification gauge\n"
        "strata_amplification 1.25\n"
        "# HELP strata_label_escape Escapes.\n"
        "# TYPE strata_label_escape gauge\n"
        "strata_label_escape{k=\"a\\\"b\\\\c\"} 1\n");
}

TEST_CASE("WriteFileAtomically replaces the file whole") {
  char dir[] = "/tmp/strata-metrics-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/metrics.prom";
  REQUIRE(WriteFileAtomically(path, "a 1\n").ok());
  REQUIRE(WriteFileAtomically(path, "b 2\n").ok());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == "b 2\n");
  CHECK_FALSE(WriteFileAtomically(std::string(dir) + "/missing/x", "c").ok());
  std::remove(path.c_str());
  rmdir(dir);
}
