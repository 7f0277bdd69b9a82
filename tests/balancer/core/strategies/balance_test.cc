#include <gtest/gtest.h>

#include "balancer/core/explain.h"
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
  EXPECT_GE(plan.moves[0].reason.score, p.balance.min_move_gain);
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

// a at 50 % (VMs of 6 and 2 cores), b at 12.5 %, c at 25 %: the best move is the 2-core VM
// (a share d = 0.125) from a to b, which cuts the spread, sum of (load - mean)^2, by
// 2 d (0.5 - 0.125 - d) = 0.0625 (the mean does not change). Every other move cuts less.
ClusterState SpreadCutCluster() {
  ClusterBuilder b;
  b.Host("a").Host("b").Host("c");
  b.Vm("big", "a", 6).Vm("small", "a", 2).Vm("vb", "b", 2).Vm("vc", "c", 4);
  return b.Build();
}

TEST(BalanceTest, MinMoveGainIsTheCutInTheSpread) {
  Policy p = BalancePolicy();
  p.balance.min_move_gain = 0.0625 - 1e-6;
  Plan plan = MakePlan(SpreadCutCluster(), p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].vm_name, "small");
  EXPECT_EQ(plan.moves[0].to, "b");
  EXPECT_NEAR(plan.moves[0].reason.score, 0.0625, 1e-12);

  p.balance.min_move_gain = 0.0625 + 1e-6;
  plan = MakePlan(SpreadCutCluster(), p, T0());
  EXPECT_TRUE(plan.moves.empty());
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kInsufficientGain);
}

// Half the hosts at 75 %, half at 25 %: the std-dev is 0.25 at any size, and the best move
// (a 4-core VM from a busy host to an idle one) cuts the spread by 0.125 at any size. Its
// cut in the std-dev is about 0.25 / hosts: a std-dev test stops every move at scale.
ClusterState HalfBusyHalfIdle(int pairs) {
  ClusterBuilder b;
  for (int i = 0; i < pairs; ++i) {
    const std::string busy = "busy-" + std::to_string(i);
    const std::string idle = "idle-" + std::to_string(i);
    b.Host(busy).Host(idle);
    for (int j = 0; j < 3; ++j) b.Vm(busy + "-vm" + std::to_string(j), busy, 4);
    b.Vm(idle + "-vm", idle, 4);
  }
  return b.Build();
}

TEST(BalanceTest, AMovesWorthDoesNotShrinkWithTheClusterSize) {
  Policy p = BalancePolicy();
  p.limits.max_moves_per_round = 1;
  for (int pairs : {5, 1000}) {
    SCOPED_TRACE(pairs);
    Plan plan = MakePlan(HalfBusyHalfIdle(pairs), p, T0());
    ASSERT_EQ(plan.moves.size(), 1u);
    EXPECT_EQ(plan.moves[0].from.substr(0, 5), "busy-");
    EXPECT_EQ(plan.moves[0].to.substr(0, 5), "idle-");
    EXPECT_NEAR(plan.moves[0].reason.score, 0.125, 1e-9);
  }
  // The older std-dev test (balance.min_gain) refuses the same move once the cluster is big.
  p.balance.min_gain = 0.01;
  EXPECT_EQ(MakePlan(HalfBusyHalfIdle(5), p, T0()).moves.size(), 1u);
  EXPECT_TRUE(MakePlan(HalfBusyHalfIdle(1000), p, T0()).moves.empty());
}

// `a` runs at 75 % now but has been at 25 % (its history); b is at 25 %, c is empty.
ClusterState SurgeCluster() {
  ClusterBuilder b;
  b.Host("a").Host("b").Host("c");
  b.Vm("a1", "a", 6).Vm("a2", "a", 6).Vm("b1", "b", 4);
  b.History("a", Resource::kCpu, {0.25, 0.25, 0.25, 0.25, 0.25});
  return b.Build();
}

TEST(BalanceTest, LoadBasisAndTheSurgeRule) {
  Policy p = BalancePolicy();
  p.threshold(Resource::kCpu) = {true, 0.70, 0.60};
  // On the newest sample a is the busy host.
  p.balance.load = LoadBasis::kNow;
  Plan plan = MakePlan(SurgeCluster(), p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].from, "a");
  // On the forecast it is not, and without the surge rule nothing moves off it.
  p.balance.load = LoadBasis::kForecast;
  p.balance.surge_weight = 0;
  plan = MakePlan(SurgeCluster(), p, T0());
  for (const Move& m : plan.moves) EXPECT_NE(m.from, "a") << FormatPlan(plan);
  // a is above its hot mark now: the surge rule relieves it on that evidence.
  p.balance.surge_weight = 0.5;
  plan = MakePlan(SurgeCluster(), p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].from, "a");
  EXPECT_EQ(plan.moves[0].to, "c");
  // ... and only above it.
  p.threshold(Resource::kCpu) = {true, 0.80, 0.60};
  plan = MakePlan(SurgeCluster(), p, T0());
  for (const Move& m : plan.moves) EXPECT_NE(m.from, "a") << FormatPlan(plan);
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
