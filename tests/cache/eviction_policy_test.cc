#include "strata/eviction_policy.h"

#include <catch2/catch.hpp>
#include <unordered_set>
#include <vector>

namespace strata {
namespace {

// Drives a policy like a tier holding `capacity` entries of one byte each;
// returns the hit ratio of each epoch of a cyclic scan over `dataset` ids.
std::vector<double> CyclicEpochs(const std::string& name, uint64_t capacity, uint64_t dataset,
                                 int epochs) {
  auto policy = MakeEvictionPolicy(name, capacity).value();
  std::unordered_set<uint64_t> resident;
  std::vector<double> ratios;
  for (int e = 0; e < epochs; ++e) {
    uint64_t hits = 0;
    for (uint64_t id = 0; id < dataset; ++id) {
      if (resident.count(id)) {
        ++hits;
        policy->OnAccess(id);
        continue;
      }
      while (resident.size() + 1 > capacity) {
        auto victim = policy->PickVictim();
        REQUIRE(victim.has_value());
        REQUIRE(resident.erase(*victim) == 1);
      }
      policy->OnInsert(id, 1);
      resident.insert(id);
    }
    ratios.push_back(static_cast<double>(hits) / dataset);
  }
  return ratios;
}

TEST_CASE("S3-FIFO keeps a stable part of a cyclic scan twice the cache size") {
  auto ratios = CyclicEpochs("s3fifo", 1000, 2000, 6);
  CHECK(ratios[0] == 0.0);
  for (int e = 1; e < 6; ++e) {
    INFO("epoch " << e);
    CHECK(ratios[e] >= 0.40);
  }
}

TEST_CASE("LRU gets no hits from a cyclic scan larger than the cache") {
  auto ratios = CyclicEpochs("lru", 1000, 2000, 4);
  for (double r : ratios) CHECK(r < 0.01);
}

TEST_CASE("S3-FIFO on other loop lengths beats LRU every epoch after the first") {
  for (uint64_t dataset : {1200u, 1500u, 3000u}) {
    auto s3 = CyclicEpochs("s3fifo", 1000, dataset, 5);
    auto lru = CyclicEpochs("lru", 1000, dataset, 5);
    for (int e = 1; e < 5; ++e) {
      INFO("dataset " << dataset << " epoch " << e);
      CHECK(s3[e] >= 0.2);
      CHECK(lru[e] < 0.01);
    }
  }
}

TEST_CASE("S3-FIFO keeps a hot set through a one-time scan") {
  auto policy = MakeEvictionPolicy("s3fifo", 100).value();
  std::unordered_set<uint64_t> resident;
  auto access = [&](uint64_t id) {
    if (resident.count(id)) {
      policy->OnAccess(id);
      return true;
    }
    while (resident.size() + 1 > 100) resident.erase(*policy->PickVictim());
    policy->OnInsert(id, 1);
    resident.insert(id);
    return false;
  };
  for (int round = 0; round < 5; ++round) {
    for (uint64_t id = 0; id < 50; ++id) access(id);
  }
  for (uint64_t id = 1000; id < 3000; ++id) access(id);  // a scan 20x the cache
  int hot_hits = 0;
  for (uint64_t id = 0; id < 50; ++id) hot_hits += access(id);
  CHECK(hot_hits >= 45);
}

TEST_CASE("Eviction policies forget removed entries and report sizes") {
  for (const char* name : {"s3fifo", "lru"}) {
    auto policy = MakeEvictionPolicy(name, 10).value();
    CHECK(std::string(policy->name()) == name);
    policy->OnInsert(1, 4);
    policy->OnInsert(2, 4);
    policy->OnResize(2, 6);
    CHECK(policy->entries() == 2);
    policy->OnRemove(1);
    policy->OnRemove(99);  // unknown: ignored
    CHECK(policy->entries() == 1);
    CHECK(policy->PickVictim() == std::optional<uint64_t>(2));
    CHECK(policy->PickVictim() == std::nullopt);
  }
  CHECK(MakeEvictionPolicy("arc", 10).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace strata
