#include <gtest/gtest.h>

#include <set>

#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::MovedVms;
using testing::T0;

Policy DensityPolicy() {
  Policy p = testing::TestPolicy();
  p.strategies = {StrategyKind::kDensity};
  return p;
}

TEST(DensityTest, EmptiesTheLeastLoadedHostOntoTheFullestThatFits) {
  ClusterBuilder b;
  b.Host("light").Host("medium").Host("full");
  b.Vm("l1", "light", 1).Vm("l2", "light", 1);
  b.Vm("m1", "medium", 5);
  b.Vm("f1", "full", 9);  // 56 %: 9+1 = 62.5 % > the 60 % density cap
  ClusterState s = b.Build();
  Plan plan = MakePlan(s, DensityPolicy(), T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"l1->medium", "l2->medium"}));
  for (const Move& m : plan.moves) {
    EXPECT_EQ(m.reason.strategy, StrategyKind::kDensity);
    EXPECT_LE(m.reason.target_after, 0.60 + 1e-9);
  }
}

TEST(DensityTest, DoesNotStartWhatItCannotFinish) {
  ClusterBuilder b;
  b.Host("light").Host("other");
  b.Vm("l1", "light", 2).Vm("l2", "light", 7).Vm("o1", "other", 3);
  // l2 would take `other` to 62.5 %+: the host cannot be emptied, so nothing moves.
  Plan plan = MakePlan(b.Build(), DensityPolicy(), T0());
  EXPECT_TRUE(plan.moves.empty());
}

TEST(DensityTest, NeverCreatesAHotspot) {
  ClusterBuilder b;
  b.Host("a").Host("b").Host("c").Host("d");
  b.Vm("a1", "a", 2).Vm("b1", "b", 4).Vm("c1", "c", 6).Vm("d1", "d", 8);
  Policy p = DensityPolicy();
  p.density.max_hosts_per_round = 3;
  ClusterState s = b.Build();
  Plan plan = MakePlan(s, p, T0());
  ClusterState after = ApplyPlan(s, plan);
  for (const Host& h : after.hosts) EXPECT_LE(h.used.cpu / h.capacity.cpu, 0.60 + 1e-9);
  EXPECT_FALSE(plan.moves.empty());
}

TEST(DensityTest, CapsLimitTheRoundButTheChoiceStands) {
  ClusterBuilder b;
  b.Host("light").Host("target");
  b.Vm("l1", "light", 0.5).Vm("l2", "light", 0.5).Vm("l3", "light", 0.5).Vm("t", "target", 4);
  Policy p = DensityPolicy();
  p.limits.max_per_host_out = 1;
  Plan plan = MakePlan(b.Build(), p, T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"l1->target"}));
}

}  // namespace
}  // namespace ballast::core
