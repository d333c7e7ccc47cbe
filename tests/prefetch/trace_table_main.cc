// Prints the detector's classification of the synthetic traces as a Markdown
// table (trace, reads, expected, got, agreement). Not a test: the lead pastes
// its output into the notes; access_pattern_test asserts the same results.
#include <cstdio>

#include "traces.h"

int main() {
  std::printf("| trace | reads | expected | got | reads agreeing |\n|---|---|---|---|---|\n");
  for (const auto& trace : strata::testing::AllTraces()) {
    auto r = strata::testing::RunTrace(trace);
    std::printf("| %s | %zu | %s | %s | %.1f%% |\n", trace.name.c_str(), trace.reads.size(),
                strata::AccessPatternName(trace.expected), strata::AccessPatternName(r.final_mode),
                100.0 * r.agreement);
  }
  return 0;
}
