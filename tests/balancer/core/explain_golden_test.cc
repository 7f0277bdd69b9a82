// Golden tests for explanations: FormatPlan of fixed scenarios against files in golden/.
// After an intended wording change, regenerate with BALLAST_UPDATE_GOLDEN=1 and review the
// diff like any other change.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "balancer/core/explain.h"
#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using std::chrono::seconds;
using testing::ClusterBuilder;
using testing::T0;

void ExpectGolden(const std::string& name, const Plan& plan) {
  const std::string path = std::string(BALLAST_GOLDEN_DIR) + "/" + name + ".txt";
  const std::string actual = FormatPlan(plan);
  if (std::getenv("BALLAST_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
    GTEST_SKIP() << "updated " << path;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing golden file " << path << " (run with BALLAST_UPDATE_GOLDEN=1)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden " << path;
}

TEST(ExplainGoldenTest, HotspotRelievedAndNot) {
  ClusterBuilder b;
  b.Host("node-01").Host("node-02").Host("node-03").Host("node-04");
  b.Vm("web-1", "node-01", 6, 4).Vm("web-2", "node-01", 5, 2).Vm("batch", "node-01", 3, 8);
  b.Vm("db-1", "node-02", 7, 16).Vm("db-2", "node-02", 7, 16);
  b.Vm("cache", "node-03", 2, 2).Vm("misc", "node-04", 9, 2);
  b.Finished("db-1", "node-04", "node-02", T0() - seconds(120));
  Policy p = testing::TestPolicy();
  p.rules.exclude_vms = {"db-2"};
  ExpectGolden("hotspot", MakePlan(b.Build(), p, T0()));
}

TEST(ExplainGoldenTest, DrainWithCapsAndPins) {
  ClusterBuilder b;
  b.Host("node-07").Host("node-08").Host("node-09");
  b.Vm("app-1", "node-07", 2).Vm("app-2", "node-07", 2).Vm("app-3", "node-07", 1);
  b.Vm("licence", "node-07", 1).Vm("x", "node-08", 6);
  b.Maintenance("node-07");
  Policy p = testing::TestPolicy();
  p.strategies = {StrategyKind::kDrain};
  p.limits.max_per_host_out = 2;
  p.rules.pins = {{"licence", {"node-07"}, PinMode::kMust}};
  ExpectGolden("drain", MakePlan(b.Build(), p, T0()));
}

TEST(ExplainGoldenTest, BalanceAndDensity) {
  ClusterBuilder b;
  b.Host("a").Host("b").Host("c");
  b.Vm("v1", "a", 4, 8).Vm("v2", "a", 3, 8).Vm("v3", "a", 2, 4).Vm("v4", "b", 1, 2);
  b.Vm("v5", "c", 0.5, 1);
  Policy p = testing::TestPolicy();
  p.strategies = {StrategyKind::kBalance};
  p.balance.min_move_gain = 0.01;  // the second move cuts the spread by 0.021
  p.limits.max_moves_per_round = 2;
  ClusterState s = b.Build();
  ExpectGolden("balance", MakePlan(s, p, T0()));
  p.strategies = {StrategyKind::kDensity};
  ExpectGolden("density", MakePlan(s, p, T0()));
}

TEST(ExplainGoldenTest, StaleAndBlockedHotspots) {
  ClusterBuilder b;
  b.Host("stale-hot").Host("capped").Host("lonely", 16, 8).Host("spare");
  b.Vm("s1", "stale-hot", 8).Vm("s2", "stale-hot", 7);
  b.Vm("c1", "capped", 8).Vm("c2", "capped", 7);
  b.Vm("big", "lonely", 14, 6);
  b.Stale("stale-hot");
  b.InFlight("c1", "capped", "spare");
  Policy p = testing::TestPolicy();
  p.limits.max_per_host_out = 1;
  p.rules.anti_affinity = {{"pair", {"c2", "s*"}}};
  ExpectGolden("unrelieved", MakePlan(b.Build(), p, T0()));
}

TEST(ExplainGoldenTest, RuleConflict) {
  ClusterBuilder b;
  b.Host("node-01").Host("node-02");
  b.Vm("pg-1", "node-01", 2, 8).Vm("pg-2", "node-01", 2, 8).Vm("app", "node-02", 1);
  Policy p = testing::TestPolicy();
  p.rules.affinity = {{"db-with-db", {"pg-*"}}};
  p.rules.anti_affinity = {{"db-replicas", {"pg-?"}}};
  ExpectGolden("rule_conflict", MakePlan(b.Build(), p, T0()));
}

}  // namespace
}  // namespace ballast::core
