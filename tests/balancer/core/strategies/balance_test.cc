#include <gtest/gtest.h>

#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::T0;

Policy BalancePolicy() {
  Policy p = testing::TestPolicy();
  p.strategies = {StrategyKind::kBalance};
  p.balance.weights = {1, 0, 0};  // CPU only: easy numbers
  return p;
}

TEST(BalanceTest, MovesFromBusiestToIdlestAndCutsStdDev) {
  ClusterBuilder b;
  b.Host("busy").Host("idle").Host("mid");
  b.Vm("v1", "busy", 4).Vm("v2", "busy", 4).Vm("v3", "busy", 2).Vm("m", "mid", 5);
  ClusterState s = b.Build();
  Policy p = BalancePolicy();
  Plan plan = MakePlan(s, p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].from, "busy");
  EXPECT_EQ(plan.moves[0].to, "idle");
  EXPECT_GE(plan.moves[0].reason.score, p.balance.min_gain);
  EXPECT_LT(plan.moves[0].reason.stddev_after, plan.moves[0].reason.stddev_before);
  EXPECT_LT(LoadStdDev(ApplyPlan(s, plan), p), LoadStdDev(s, p));
}

TEST(BalanceTest, WithinToleranceDoesNothing) {
  ClusterBuilder b;
  b.Host("a").Host("b");
  b.Vm("v1", "a", 5).Vm("v2", "b", 4);
  Plan plan = MakePlan(b.Build(), BalancePolicy(), T0());
  EXPECT_TRUE(plan.moves.empty());
  EXPECT_TRUE(plan.unrelieved.empty());
}

TEST(BalanceTest, MoveBelowMinGainIsNotWorthIt) {
  ClusterBuilder b;
  b.Host("a").Host("b");
  // Imbalanced, but the only VM would just flip the imbalance to the other side.
  b.Vm("v1", "a", 5);
  Policy p = BalancePolicy();
  Plan plan = MakePlan(b.Build(), p, T0());
  EXPECT_TRUE(plan.moves.empty());
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kInsufficientGain);
}

TEST(BalanceTest, RespectsTheRoundCap) {
  ClusterBuilder b;
  b.Host("busy").Host("idle1").Host("idle2");
  for (int i = 0; i < 10; ++i) b.Vm("v" + std::to_string(i), "busy", 1);
  Policy p = BalancePolicy();
  p.limits.max_moves_per_round = 2;
  EXPECT_EQ(MakePlan(b.Build(), p, T0()).moves.size(), 2u);
}

TEST(BalanceTest, LeavesShouldPinnedVmsWhereTheyWantToBe) {
  ClusterBuilder b;
  b.Host("busy").Host("idle");
  b.Vm("v1", "busy", 4).Vm("v2", "busy", 4);
  Policy p = BalancePolicy();
  p.rules.pins = {{"v*", {"busy"}, PinMode::kShould}};
  EXPECT_TRUE(MakePlan(b.Build(), p, T0()).moves.empty());
}

TEST(BalanceTest, WeighsTargetsWithTheVmsArrivingOnThem) {
  ClusterBuilder b;
  b.Host("busy").Host("arriving").Host("quiet").Host("far");
  for (int i = 0; i < 6; ++i) b.Vm("v" + std::to_string(i), "busy", 2);
  b.Vm("q1", "quiet", 2).Vm("q2", "quiet", 2);
  // 8 cores are on their way to `arriving` (from a host balance does not weigh): it is
  // the busier of the two light hosts once they land (50 % against 25 %).
  b.Vm("big", "far", 8).Stale("far").InFlight("big", "far", "arriving");
  Plan plan = MakePlan(b.Build(), BalancePolicy(), T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].from, "busy");
  EXPECT_EQ(plan.moves[0].to, "quiet");
}

}  // namespace
}  // namespace ballast::core
