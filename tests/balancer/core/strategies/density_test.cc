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

TEST(DensityTest, EmptiesSmallerHostsFirstOntoTheBiggest) {
  // By utilisation alone, big-1 (6 %) would be emptied first, onto small (the fullest).
  ClusterBuilder b;
  b.Host("small", 8).Host("big-1", 16).Host("big-2", 16);
  b.Vm("s1", "small", 2);  // 25 %
  b.Vm("b1", "big-1", 1);  // 6.25 %
  b.Vm("b2", "big-2", 4);  // 25 %
  Plan plan = MakePlan(b.Build(), DensityPolicy(), T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"s1->big-2"}));
}

TEST(DensityTest, ReceiversAreTheBiggestHostsEvenIfASmallOneIsFuller) {
  ClusterBuilder b;
  b.Host("small-1", 8).Host("small-2", 8).Host("big", 16);
  b.Vm("a", "small-1", 1);  // 12.5 %
  b.Vm("c", "small-2", 3);  // 37.5 %: would take `a` and stay under 60 %
  b.Vm("d", "big", 1);      // 6.25 %
  Plan plan = MakePlan(b.Build(), DensityPolicy(), T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"a->big"}));
}

TEST(DensityTest, NeverEmptiesAHostTheLoadNeedsToFillAnother) {
  // 7 cores fit on `big` alone (60 % of 16 = 9.6): it stays, the small hosts go, and its
  // two small VMs are not moved onto a small host that would then have to stay on.
  ClusterBuilder b;
  b.Host("big", 16).Host("small-1", 8).Host("small-2", 8);
  b.Vm("g1", "big", 0.5).Vm("g2", "big", 0.5);      // 6.25 %, the least utilised
  b.Vm("s1", "small-1", 3).Vm("s2", "small-2", 3);  // 37.5 % each
  Policy p = DensityPolicy();
  p.density.max_hosts_per_round = 3;
  Plan plan = MakePlan(b.Build(), p, T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"s1->big", "s2->big"}));
}

TEST(DensityTest, HostsWhoseVmsMayNotMoveDoNotUseUpTheCandidates) {
  // The 16 least loaded hosts each hold a VM in cooldown; the 17th can be emptied.
  ClusterBuilder b;
  for (int i = 0; i < 16; ++i) {
    const std::string h = "cool-" + std::to_string(i);
    b.Host(h)
        .Vm("c" + std::to_string(i), h, 0.25)
        .Finished("c" + std::to_string(i), "elsewhere", h, T0() - std::chrono::seconds(60));
  }
  b.Host("free").Vm("f", "free", 0.5);
  b.Host("keep-1").Host("keep-2").Host("keep-3");
  b.Vm("k1", "keep-1", 5).Vm("k2", "keep-2", 5).Vm("k3", "keep-3", 5);
  Plan plan = MakePlan(b.Build(), DensityPolicy(), T0());
  ASSERT_EQ(plan.moves.size(), 1u);
  EXPECT_EQ(plan.moves[0].vm_name, "f");
}

TEST(DensityTest, ReceiversKeepTheirVmsRecentPeaksUnderThePeakLimit) {
  auto build = [](std::vector<float> history) {
    ClusterBuilder b;
    b.Host("light").Host("full");
    b.Vm("v", "light", 1);
    b.Vm("f", "full", 5);
    ClusterState s = b.Build();
    s.vms[0].history[static_cast<std::size_t>(Resource::kCpu)] = std::move(history);
    return s;
  };
  Policy p = DensityPolicy();
  p.density.max_peak_utilization = 0.8;  // 12.8 cores
  // A steady VM packs; one that recently peaked at 8 cores does not (5 + 8 > 12.8) ...
  EXPECT_EQ(MovedVms(MakePlan(build({1, 1, 1}), p, T0())), (std::vector<std::string>{"v->full"}));
  EXPECT_TRUE(MakePlan(build({1, 8, 1}), p, T0()).moves.empty());
  // ... unless the limit allows the peaks together (5 + 8 <= 16).
  p.density.max_peak_utilization = 1.0;
  EXPECT_EQ(MovedVms(MakePlan(build({1, 8, 1}), p, T0())), (std::vector<std::string>{"v->full"}));
}

TEST(DensityTest, ReceiversKeepRoomForTheSpreadOfTheirVms) {
  // v (1 core, steady) can go to `full`, whose VM f uses 5 cores now; its history decides.
  auto build = [](std::vector<float> f_history) {
    ClusterBuilder b;
    b.Host("light").Host("full");
    b.Vm("v", "light", 1).Vm("f", "full", 5);
    ClusterState s = b.Build();
    s.vms[0].history[static_cast<std::size_t>(Resource::kCpu)] = {1, 1, 1, 1};
    s.vms[1].history[static_cast<std::size_t>(Resource::kCpu)] = std::move(f_history);
    return s;
  };
  Policy p = DensityPolicy();
  p.density.effective_sigmas = 2;
  p.density.max_effective_utilization = 0.5;  // 8 cores
  // Steady f: 5 + 1 and no spread, within 8 cores.
  EXPECT_EQ(MovedVms(MakePlan(build({5, 5, 5, 5}), p, T0())),
            (std::vector<std::string>{"v->full"}));
  // f swings between 1 and 9 cores (standard deviation 4): 5 + 1 + 2 x 4 > 8. The peaks
  // (9 + 1 of 16) and the density limit (6 of 16 < 60 %) would both let it pack.
  EXPECT_TRUE(MakePlan(build({1, 9, 1, 9}), p, T0()).moves.empty());
  // Without the spread check it packs.
  p.density.effective_sigmas = 0;
  EXPECT_EQ(MovedVms(MakePlan(build({1, 9, 1, 9}), p, T0())),
            (std::vector<std::string>{"v->full"}));
}

TEST(DensityTest, AVmPlacedThisRoundAddsItsSpreadToTheReceiver) {
  ClusterBuilder b;
  b.Host("light").Host("full").Host("other");
  b.Vm("v1", "light", 1).Vm("v2", "light", 1).Vm("f", "full", 5).Vm("o", "other", 3);
  ClusterState s = b.Build();
  for (int i : {0, 1}) s.vms[i].history[static_cast<std::size_t>(Resource::kCpu)] = {2, 0, 2, 0};
  Policy p = DensityPolicy();
  p.density.effective_sigmas = 2;
  p.density.max_effective_utilization = 9.5 / 16;
  // v1 on full: 5 + 1 + 2 x 1 <= 9.5. v2 as well would be 7 + 2 x sqrt(2) > 9.5 (9 if v1's
  // variance were forgotten), so it goes to `other`.
  EXPECT_EQ(MovedVms(MakePlan(s, p, T0())), (std::vector<std::string>{"v1->full", "v2->other"}));
}

// v (1 core) on `light` may go to `full` (f, 5 cores), where s (1 core now, `history`
// before) is arriving from a stale host.
ClusterState ArrivingOnFull(std::vector<float> history) {
  ClusterBuilder b;
  b.Host("light").Host("full").Host("far");
  b.Vm("v", "light", 1).Vm("f", "full", 5).Vm("s", "far", 1);
  b.Stale("far").InFlight("s", "far", "full");
  ClusterState s = b.Build();
  s.vms[2].history[static_cast<std::size_t>(Resource::kCpu)] = std::move(history);
  return s;
}

TEST(DensityTest, ReceiversCountTheSpreadOfVmsArrivingOnThem) {
  const auto build = ArrivingOnFull;
  Policy p = DensityPolicy();
  p.density.effective_sigmas = 2;
  p.density.max_effective_utilization = 0.5;  // 8 cores
  EXPECT_EQ(MovedVms(MakePlan(build({1, 1, 1, 1}), p, T0())),
            (std::vector<std::string>{"v->full"}));
  // s lands on full after one burst to 9 cores: a forecast near 1 core, but a standard
  // deviation of 2.2: 5 + 1 + ~1.3 + 2 x 2.2 > 8.
  EXPECT_TRUE(MakePlan(build({1, 1, 1, 1, 1, 1, 9, 1, 1, 1, 1, 1}), p, T0()).moves.empty());
}

TEST(DensityTest, ReceiversCountThePeaksOfVmsArrivingOnThem) {
  const auto build = ArrivingOnFull;
  Policy p = DensityPolicy();
  p.density.max_peak_utilization = 0.8;  // 12.8 cores
  EXPECT_EQ(MovedVms(MakePlan(build({1, 1, 1}), p, T0())), (std::vector<std::string>{"v->full"}));
  // s lands on full with a recent peak of 7 cores: 5 + 7 + 1 > 12.8.
  EXPECT_TRUE(MakePlan(build({1, 7, 1}), p, T0()).moves.empty());
}

// More hosts above the density limit than a target scan looks at (kTargetScanBudget, 1,024):
// the receivers are below them in load order, and density must still find the fullest one
// that fits. Until 2026-12-02 it scanned from the fullest host down and gave up at 10,000
// hosts.
TEST(DensityTest, FindsAReceiverBelowMoreFullHostsThanAScanLooksAt) {
  ClusterBuilder b;
  for (int i = 0; i < 1100; ++i) {
    b.Host("full-" + std::to_string(i))
        .Vm("f" + std::to_string(i), "full-" + std::to_string(i), 9.92);
  }
  for (int i = 0; i < 600; ++i) {
    b.Host("mid-" + std::to_string(i)).Vm("m" + std::to_string(i), "mid-" + std::to_string(i), 3.2);
  }
  b.Host("mid-top").Vm("mt", "mid-top", 6.4);  // 40 %: the fullest that fits
  b.Host("idle").Vm("i", "idle", 0.8);
  Policy p = DensityPolicy();
  p.balance.weights = {1, 0, 0};
  Plan plan = MakePlan(b.Build(), p, T0());
  ASSERT_EQ(plan.moves.size(), 1u) << plan.unrelieved.size();
  EXPECT_EQ(plan.moves[0].vm_name, "i");
  EXPECT_EQ(plan.moves[0].to, "mid-top");
}

// Over 1,024 kept hosts whose weighted load is low enough to look like receivers, but whose
// CPU is above the density limit (CPU 65 %, memory 45 %): the scan from the fullest runs
// out of budget among them, and density must fall back to the least loaded kept hosts.
TEST(DensityTest, FallsBackToTheLeastLoadedKeptHostsWhenTheFullestDoNotFit) {
  ClusterBuilder b;
  for (int i = 0; i < 1100; ++i) {
    const std::string h = "cpufull-" + std::to_string(i);
    b.Host(h).Vm("f" + std::to_string(i), h, 10.4, 28.8);
  }
  for (int i = 0; i < 600; ++i) {
    const std::string h = "mid-" + std::to_string(i);
    b.Host(h).Vm("m" + std::to_string(i), h, 3.2, 12.8);
  }
  b.Host("idle").Vm("i", "idle", 0.8, 2);
  Policy p = DensityPolicy();
  p.balance.weights = {1, 1, 0};
  Plan plan = MakePlan(b.Build(), p, T0());
  ASSERT_EQ(plan.moves.size(), 1u);
  EXPECT_EQ(plan.moves[0].vm_name, "i");
  EXPECT_EQ(plan.moves[0].to.substr(0, 4), "mid-");
}

}  // namespace
}  // namespace ballast::core
