#include <gtest/gtest.h>

#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::MovedVms;
using testing::T0;

Policy DrainPolicy() {
  Policy p = testing::TestPolicy();
  p.strategies = {StrategyKind::kDrain};
  return p;
}

TEST(DrainTest, EvacuatesAHostInMaintenanceToTheRoomiestHosts) {
  ClusterBuilder b;
  b.Host("m").Host("a").Host("b");
  b.Vm("v1", "m", 4).Vm("v2", "m", 3).Vm("a1", "a", 2).Vm("b1", "b", 5);
  b.Maintenance("m");
  Plan plan = MakePlan(b.Build(), DrainPolicy(), T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"v1->a", "v2->b"}));
  EXPECT_TRUE(plan.unrelieved.empty());
  EXPECT_EQ(plan.moves[0].reason.strategy, StrategyKind::kDrain);
}

TEST(DrainTest, PolicyCanNameHostsToDrain) {
  ClusterBuilder b;
  b.Host("node-7").Host("a");
  b.Vm("v1", "node-7", 2);
  Policy p = DrainPolicy();
  p.drain.hosts = {"node-?"};
  EXPECT_EQ(MovedVms(MakePlan(b.Build(), p, T0())), (std::vector<std::string>{"v1->a"}));
}

TEST(DrainTest, CapsSpreadADrainOverRoundsAndSaySo) {
  ClusterBuilder b;
  b.Host("m").Host("a").Host("b");
  b.Vm("v1", "m", 1).Vm("v2", "m", 1).Vm("v3", "m", 1);
  b.Maintenance("m");
  Policy p = DrainPolicy();
  p.limits.max_per_host_out = 2;
  Plan plan = MakePlan(b.Build(), p, T0());
  EXPECT_EQ(plan.moves.size(), 2u);
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].strategy, StrategyKind::kDrain);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kHostOutCap);
  EXPECT_EQ(plan.unrelieved[0].vms_left, (std::vector<std::string>{"v3"}));
}

TEST(DrainTest, PinnedAndExcludedVmsStayAndAreListed) {
  ClusterBuilder b;
  b.Host("m").Host("a");
  b.Vm("pinned", "m", 1).Vm("keep", "m", 1).Vm("free", "m", 1);
  b.Maintenance("m");
  Policy p = DrainPolicy();
  p.rules.pins = {{"pinned", {"m"}, PinMode::kMust}};
  p.rules.exclude_vms = {"keep"};
  Plan plan = MakePlan(b.Build(), p, T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"free->a"}));
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].vms_left, (std::vector<std::string>{"pinned", "keep"}));
  EXPECT_EQ(plan.unrelieved[0].blockers.at(Blocker::kPinned), 1);
  EXPECT_EQ(plan.unrelieved[0].blockers.at(Blocker::kExcludedVm), 1);
}

TEST(DrainTest, StaleHostInMaintenanceIsNotPlannedFrom) {
  ClusterBuilder b;
  b.Host("m").Host("a");
  b.Vm("v1", "m", 1);
  b.Maintenance("m").Stale("m");
  Plan plan = MakePlan(b.Build(), DrainPolicy(), T0());
  EXPECT_TRUE(plan.moves.empty());
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kStaleSource);
}

}  // namespace
}  // namespace ballast::core
