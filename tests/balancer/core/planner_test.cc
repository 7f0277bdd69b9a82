#include "balancer/core/planner.h"

#include <gtest/gtest.h>

#include "balancer/core/strategies/registry.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::T0;

TEST(RegistryTest, EveryStrategyKindIsRegisteredOnce) {
  EXPECT_EQ(AllStrategies().size(), 4u);
  for (StrategyKind k : {StrategyKind::kHotspot, StrategyKind::kBalance, StrategyKind::kDensity,
                         StrategyKind::kDrain}) {
    ASSERT_NE(FindStrategy(k), nullptr);
    EXPECT_EQ(FindStrategy(k)->kind(), k);
  }
}

TEST(PlannerTest, StrategiesRunInPolicyOrderAndShareTheCaps) {
  ClusterBuilder b;
  b.Host("hot").Host("m").Host("a").Host("b");
  b.Vm("h1", "hot", 8).Vm("h2", "hot", 6).Vm("m1", "m", 1).Vm("m2", "m", 1);
  b.Maintenance("m");
  Policy p = testing::TestPolicy();
  p.limits.max_moves_per_round = 2;
  p.strategies = {StrategyKind::kDrain, StrategyKind::kHotspot};
  Plan plan = MakePlan(b.Build(), p, T0());
  ASSERT_EQ(plan.moves.size(), 2u);
  EXPECT_EQ(plan.moves[0].reason.strategy, StrategyKind::kDrain);
  EXPECT_EQ(plan.moves[1].reason.strategy, StrategyKind::kDrain);
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kRoundCap);

  p.strategies = {StrategyKind::kHotspot, StrategyKind::kDrain};
  plan = MakePlan(b.Build(), p, T0());
  ASSERT_EQ(plan.moves.size(), 2u);
  EXPECT_EQ(plan.moves[0].reason.strategy, StrategyKind::kHotspot);
}

TEST(PlannerTest, ApplyPlanMovesVmsAndTheirUsage) {
  ClusterBuilder b;
  b.Host("hot").Host("a");
  b.Vm("v1", "hot", 8, 4).Vm("v2", "hot", 6, 2);
  ClusterState s = b.Build();
  Plan plan = MakePlan(s, testing::TestPolicy(), T0());
  ASSERT_EQ(plan.moves.size(), 1u);
  ClusterState after = ApplyPlan(s, plan);
  EXPECT_DOUBLE_EQ(after.hosts[0].used.cpu + after.hosts[1].used.cpu, 14);
  EXPECT_DOUBLE_EQ(after.hosts[1].used.cpu, 6);
  EXPECT_EQ(after.vms[1].host, "a");
}

TEST(PlannerTest, LoadStdDevIgnoresStaleExcludedAndMaintenanceHosts) {
  ClusterBuilder b;
  b.Host("a").Host("b").Host("stale").Host("maint");
  b.Vm("v1", "a", 8).Vm("v2", "stale", 16).Vm("v3", "maint", 16);
  b.Stale("stale").Maintenance("maint");
  Policy p;
  p.balance.weights = {1, 0, 0};
  EXPECT_DOUBLE_EQ(LoadStdDev(b.Build(), p), 0.25);  // loads 0.5 and 0
}

// The round's imbalance gauge comes from the plan (no second view of the cluster): it must
// be the state's before the plan's moves, in every mode.
TEST(PlannerTest, PlanCarriesTheImbalanceItStartedFrom) {
  ClusterBuilder b;
  b.Host("hot").Host("a");
  b.Vm("v1", "hot", 8).Vm("v2", "hot", 6);
  const ClusterState s = b.Build();
  Policy p = testing::TestPolicy();
  const Plan plan = MakePlan(s, p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_DOUBLE_EQ(plan.load_stddev, LoadStdDev(s, p));
  EXPECT_GT(plan.load_stddev, LoadStdDev(ApplyPlan(s, plan), p));
  p.mode = Mode::kOff;
  EXPECT_DOUBLE_EQ(MakePlan(s, p, T0()).load_stddev, LoadStdDev(s, p));
}

TEST(PlannerTest, VmsOnUnknownHostsAreIgnored) {
  ClusterBuilder b;
  b.Host("hot").Host("a");
  b.Vm("v1", "hot", 8).Vm("v2", "hot", 6).Vm("ghost", "nowhere", 1);
  Plan plan = MakePlan(b.Build(), testing::TestPolicy(), T0());
  for (const Move& m : plan.moves) EXPECT_NE(m.vm_name, "ghost");
}

}  // namespace
}  // namespace ballast::core
