#include <gtest/gtest.h>

#include "balancer/core/explain.h"
#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::MovedVms;
using testing::T0;

TEST(HotspotTest, MovesBestVolumeToSizeRatioToRoomiestHost) {
  ClusterBuilder b;
  b.Host("hot").Host("busy").Host("idle");
  // Same CPU, but big has 8x the memory: small relieves as much for a fraction of the copy.
  b.Vm("big", "hot", 4, 16).Vm("small", "hot", 4, 2).Vm("rest", "hot", 6, 8);
  b.Vm("x", "busy", 6, 2).Vm("y", "idle", 1, 2);
  Plan plan = MakePlan(b.Build(), testing::TestPolicy(), T0());
  ASSERT_EQ(MovedVms(plan), (std::vector<std::string>{"small->idle"}));
  const MoveReason& r = plan.moves[0].reason;
  EXPECT_EQ(r.strategy, StrategyKind::kHotspot);
  EXPECT_EQ(r.resource, Resource::kCpu);
  EXPECT_DOUBLE_EQ(r.source_before, 14.0 / 16);
  EXPECT_DOUBLE_EQ(r.source_after, 10.0 / 16);
  EXPECT_DOUBLE_EQ(r.target_before, 1.0 / 16);
  EXPECT_DOUBLE_EQ(r.target_after, 5.0 / 16);
  EXPECT_DOUBLE_EQ(r.mark, 0.85);
  EXPECT_DOUBLE_EQ(r.target_limit, 0.70);
  EXPECT_GT(r.score, 0);
  EXPECT_TRUE(plan.unrelieved.empty());
}

// Under a density policy the roomiest host is the next one density empties: relief goes to
// the fullest host within density's limits instead, and to the roomiest only if none fits.
TEST(HotspotTest, RelievesOntoTheHostsDensityFillsWhenAsked) {
  ClusterBuilder b;
  b.Host("hot").Host("idle").Host("mid").Host("near");
  b.Vm("v1", "hot", 4).Vm("v2", "hot", 4).Vm("v3", "hot", 4).Vm("v4", "hot", 3.5);
  b.Vm("i", "idle", 1).Vm("m", "mid", 4).Vm("n", "near", 7);
  const ClusterState s = b.Build();
  Policy p = testing::TestPolicy();
  p.strategies = {StrategyKind::kHotspot, StrategyKind::kDensity};
  Plan plan = MakePlan(s, p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].to, "idle");  // the roomiest
  p.density.relieve_onto_receivers = true;
  plan = MakePlan(s, p, T0());
  ASSERT_EQ(plan.moves.size(), 2u);
  // 4 more cores take `near` to 69 %, above the density limit (60 %); `mid` to 50 %.
  EXPECT_EQ(plan.moves[0].reason.strategy, StrategyKind::kHotspot);
  EXPECT_EQ(plan.moves[0].to, "mid");
  EXPECT_EQ(plan.moves[1].to, "idle");  // mid is full now: the fullest that still fits
  EXPECT_TRUE(plan.unrelieved.empty());
  // No host fits density's limits: the roomiest under the relieved mark, as without.
  p.density.max_utilization = 0.1;
  plan = MakePlan(s, p, T0());
  ASSERT_FALSE(plan.moves.empty());
  EXPECT_EQ(plan.moves[0].to, "idle");
  EXPECT_TRUE(plan.unrelieved.empty());
}

TEST(HotspotTest, KeepsMovingUntilUnderTheRelievedMark) {
  ClusterBuilder b;
  b.Host("hot").Host("a").Host("b");
  b.Vm("v1", "hot", 4).Vm("v2", "hot", 4).Vm("v3", "hot", 4).Vm("v4", "hot", 3.5);
  Plan plan = MakePlan(b.Build(), testing::TestPolicy(), T0());
  // 15.5/16 = 97 %: one 4-core move leaves 72 % > 70 %, so two moves, to alternating hosts.
  EXPECT_EQ(plan.moves.size(), 2u);
  EXPECT_NE(plan.moves[0].to, plan.moves[1].to);
  EXPECT_TRUE(plan.unrelieved.empty());
  // The second move's sentence gives the level that made the host hot, and where the first
  // move left it, not "71.9% above the hot mark 85.0%".
  EXPECT_DOUBLE_EQ(plan.moves[1].reason.detected, 15.5 / 16);
  EXPECT_NE(plan.moves[0].explanation.find("hot on cpu (96.9% above the hot mark 85.0%); "),
            std::string::npos)
      << plan.moves[0].explanation;
  EXPECT_NE(plan.moves[1].explanation.find("hot on cpu (96.9% above the hot mark 85.0%; 71.9% "
                                           "after the moves planned before this one)"),
            std::string::npos)
      << plan.moves[1].explanation;
}

TEST(HotspotTest, HottestHostFirstWhenTheRoundCapBinds) {
  Policy p = testing::TestPolicy();
  p.limits.max_moves_per_round = 1;
  ClusterBuilder b;
  b.Host("warm").Host("hotter").Host("cool");
  b.Vm("w1", "warm", 11).Vm("w2", "warm", 3).Vm("h1", "hotter", 11).Vm("h2", "hotter", 4.5);
  Plan plan = MakePlan(b.Build(), p, T0());
  ASSERT_EQ(plan.moves.size(), 1u);
  EXPECT_EQ(plan.moves[0].from, "hotter");
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].host, "warm");
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kRoundCap);
}

TEST(HotspotTest, SingleSpikeDoesNotTrigger) {
  ClusterBuilder b;
  b.Host("h").Host("a");
  b.Vm("v1", "h", 8).Vm("v2", "h", 6);
  b.History("h", Resource::kCpu, {0.5, 0.5, 0.99, 0.5, 0.88});
  Plan plan = MakePlan(b.Build(), testing::TestPolicy(), T0());
  EXPECT_TRUE(plan.moves.empty());
  EXPECT_TRUE(plan.unrelieved.empty());
}

TEST(HotspotTest, NetworkHotspotMovesOnlyVmsThatUseTheNetwork) {
  ClusterBuilder b;
  b.Host("h", 16, 64, 1).Host("a", 16, 64, 1);
  b.Vm("quiet", "h", 1, 2, 0).Vm("chatty", "h", 1, 2, 500).Vm("steady", "h", 1, 2, 420);
  Plan plan = MakePlan(b.Build(), testing::TestPolicy(), T0());
  ASSERT_EQ(plan.moves.size(), 1u);
  EXPECT_EQ(plan.moves[0].vm_name, "chatty");
  EXPECT_EQ(plan.moves[0].reason.resource, Resource::kNetwork);
}

TEST(HotspotTest, NoTargetIsExplained) {
  ClusterBuilder b;
  b.Host("h").Host("full");
  // v2 and v3 would take `full` to 81 % (over the relieved mark), v1 to 112 % (hot).
  b.Vm("v1", "h", 8).Vm("v2", "h", 3).Vm("v3", "h", 3).Vm("f", "full", 10);
  Plan plan = MakePlan(b.Build(), testing::TestPolicy(), T0());
  EXPECT_TRUE(plan.moves.empty());
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kAboveRelievedMark);
  EXPECT_EQ(plan.unrelieved[0].blockers.at(Blocker::kAboveRelievedMark), 2);
  EXPECT_EQ(plan.unrelieved[0].blockers.at(Blocker::kTargetWouldBeHot), 1);
}

TEST(HotspotTest, ModeOffPlansNothingAndRecommendStillPlans) {
  ClusterBuilder b;
  b.Host("h").Host("a");
  b.Vm("v1", "h", 8).Vm("v2", "h", 6);
  ClusterState s = b.Build();
  Policy p = testing::TestPolicy();
  p.mode = Mode::kOff;
  EXPECT_TRUE(MakePlan(s, p, T0()).moves.empty());
  p.mode = Mode::kRecommend;
  Plan plan = MakePlan(s, p, T0());
  EXPECT_EQ(plan.mode, Mode::kRecommend);
  EXPECT_EQ(plan.moves.size(), 1u);
}

TEST(HotspotTest, DeterministicForTheSameInput) {
  ClusterBuilder b;
  b.Host("h1").Host("h2").Host("a").Host("b");
  b.Vm("v1", "h1", 8).Vm("v2", "h1", 6).Vm("v3", "h2", 7).Vm("v4", "h2", 7.5);
  ClusterState s = b.Build();
  EXPECT_EQ(FormatPlan(MakePlan(s, testing::TestPolicy(), T0())),
            FormatPlan(MakePlan(s, testing::TestPolicy(), T0())));
}

}  // namespace
}  // namespace ballast::core
