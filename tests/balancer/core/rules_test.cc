// One table row per hard rule: the same small cluster (one hot host, two cool ones), one
// rule changed, and the plan that must follow.

#include "balancer/core/rules.h"

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "balancer/core/explain.h"
#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using std::chrono::seconds;
using testing::ClusterBuilder;
using testing::MovedVms;
using testing::T0;

TEST(GlobMatchTest, MatchesStarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("web-*", "web-1"));
  EXPECT_TRUE(GlobMatch("web-*", "web-"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("w?b-*-db", "web-eu-db"));
  EXPECT_TRUE(GlobMatch("*a*b*", "xxaxxbxx"));
  EXPECT_FALSE(GlobMatch("web-*", "db-1"));
  EXPECT_FALSE(GlobMatch("web", "web-1"));
  EXPECT_FALSE(GlobMatch("w?b", "wb"));
}

TEST(GlobsOverlapTest, SomeTextMatchesBoth) {
  EXPECT_TRUE(GlobsOverlap("vm-0", "vm-0"));
  EXPECT_TRUE(GlobsOverlap("vm-0", "vm-?"));
  EXPECT_TRUE(GlobsOverlap("web-*", "*-db"));  // web-db
  EXPECT_TRUE(GlobsOverlap("a*b*c", "*b*"));
  EXPECT_TRUE(GlobsOverlap("*", ""));
  EXPECT_TRUE(GlobsOverlap("a?c", "*c"));
  EXPECT_FALSE(GlobsOverlap("vm-0", "vm-1"));
  EXPECT_FALSE(GlobsOverlap("web-*", "db-*"));
  EXPECT_FALSE(GlobsOverlap("a?", "a"));
  EXPECT_FALSE(GlobsOverlap("*x", "*y"));
  EXPECT_FALSE(GlobsOverlap("a*", ""));
}

TEST(VmMatchesTest, MatchesNameGlobOrExactUuid) {
  Vm vm;
  vm.name = "db-7";
  vm.uuid = "6f1c";
  EXPECT_TRUE(VmMatches("db-*", vm));
  EXPECT_TRUE(VmMatches("6f1c", vm));
  EXPECT_FALSE(VmMatches("6f1*", vm));  // UUIDs are not globbed
}

struct RuleCase {
  std::string name;
  std::function<void(ClusterBuilder&)> build = [](ClusterBuilder&) {};
  std::function<void(ClusterState&)> state = [](ClusterState&) {};
  std::function<void(Policy&)> policy = [](Policy&) {};
  std::vector<std::string> moves;
  Blocker unrelieved = Blocker::kNone;  // kNone: the hotspot must be relieved
};

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

// hot: 14/16 cores (87.5 %) > 85 %; a: 2 cores; b: 4 cores. By volume-to-size ratio v2
// (5 cores, 2 GiB) goes first, then v3 (3 cores, 2 GiB), then v1 (6 cores, 4 GiB); either
// of v2 or v3 alone brings hot under the relieved mark (70 %).
ClusterBuilder Base() {
  ClusterBuilder b;
  b.Host("hot").Host("a").Host("b");
  b.Vm("v1", "hot", 6, 4).Vm("v2", "hot", 5, 2).Vm("v3", "hot", 3, 2);
  b.Vm("a1", "a", 2, 2).Vm("b1", "b", 4, 2);
  return b;
}

class RulesTableTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(RulesTableTest, PlanFollowsTheRule) {
  const RuleCase& c = GetParam();
  ClusterBuilder builder = Base();
  c.build(builder);
  ClusterState state = builder.Build();
  c.state(state);
  Policy policy = testing::TestPolicy();
  c.policy(policy);
  ASSERT_TRUE(ValidatePolicy(policy).empty());

  Plan plan = MakePlan(state, policy, T0());
  EXPECT_EQ(MovedVms(plan), c.moves);
  if (c.unrelieved == Blocker::kNone) {
    EXPECT_TRUE(plan.unrelieved.empty()) << plan.unrelieved.front().explanation;
  } else {
    ASSERT_EQ(plan.unrelieved.size(), 1u);
    EXPECT_EQ(plan.unrelieved[0].host, "hot");
    EXPECT_EQ(BlockerName(plan.unrelieved[0].main_blocker), BlockerName(c.unrelieved))
        << plan.unrelieved[0].explanation;
  }
}

std::string CaseName(const ::testing::TestParamInfo<RuleCase>& info) { return info.param.name; }

// Contradictory rules are reported in every plan, naming the groups and the VMs, and their
// VMs stay where they are, together or apart.
TEST(RuleConflictTest, ChainedAffinityAgainstAntiAffinityIsReportedAndNothingMoves) {
  Policy p = testing::TestPolicy();
  p.rules.affinity = {{"g1", {"v2", "v1"}}, {"g2", {"v1", "v3"}}};  // v2 - v1 - v3
  p.rules.anti_affinity = {{"spread", {"v2", "v3"}}};
  const Plan plan = MakePlan(Base().Build(), p, T0());
  EXPECT_TRUE(plan.moves.empty());
  ASSERT_EQ(plan.unrelieved.size(), 2u);
  EXPECT_EQ(plan.unrelieved[0].host, "hot");  // the hotspot: its only unit may not move
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kRuleConflict);
  const Unrelieved& c = plan.unrelieved[1];
  EXPECT_EQ(c.main_blocker, Blocker::kRuleConflict);
  EXPECT_EQ(c.host, "hot");
  EXPECT_EQ(c.vms_left, (std::vector<std::string>{"v2", "v3"}));
  ASSERT_TRUE(c.conflict.has_value());
  EXPECT_EQ(c.conflict->affinity,
            (std::vector<std::string>{"'g1' (rules.affinity[0])", "'g2' (rules.affinity[1])"}));
  EXPECT_EQ(c.conflict->anti_affinity, "'spread' (rules.anti_affinity[0])");
  EXPECT_EQ(c.explanation,
            "Rules contradict each other: v2 and v3 are bound to one host by affinity groups "
            "'g1' (rules.affinity[0]) and 'g2' (rules.affinity[1]) and kept apart by "
            "anti-affinity group 'spread' (rules.anti_affinity[0]) (they share hot); none of "
            "them is moved until the policy settles it (ballastctl policy check).");
}

TEST(RuleConflictTest, VmsApartAreNotMovedEither) {
  Policy p = testing::TestPolicy();
  p.rules.affinity = {{"pair", {"v2", "a1"}}};
  p.rules.anti_affinity = {{"apart", {"v2", "a1"}}};
  const Plan plan = MakePlan(Base().Build(), p, T0());
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"v3->a"}));
  ASSERT_EQ(plan.unrelieved.size(), 1u);
  EXPECT_EQ(plan.unrelieved[0].main_blocker, Blocker::kRuleConflict);
  EXPECT_EQ(plan.unrelieved[0].host, "");  // they are on hot and a
  EXPECT_EQ(plan.unrelieved[0].vms_left, (std::vector<std::string>{"v2", "a1"}));
}

TEST(RuleConflictTest, OneVmInBothGroupsIsNoConflict) {
  Policy p = testing::TestPolicy();
  p.rules.affinity = {{"pair", {"v2", "v3"}}};
  p.rules.anti_affinity = {{"apart", {"v3", "b1"}}};
  p.rules.exclude_vms = {"v1"};
  const Plan plan = MakePlan(Base().Build(), p, T0());
  // The pair moves as one unit, and not next to b1.
  EXPECT_EQ(MovedVms(plan), (std::vector<std::string>{"v2->a", "v3->a"}));
  EXPECT_TRUE(plan.unrelieved.empty()) << FormatPlan(plan);
}

INSTANTIATE_TEST_SUITE_P(
    HardRules, RulesTableTest,
    ::testing::Values(
        RuleCase{.name = "Baseline", .moves = {"v2->a"}},
        RuleCase{.name = "ExcludedVmByGlob",
                 .policy = [](Policy& p) { p.rules.exclude_vms = {"v2*"}; },
                 .moves = {"v3->a"}},
        RuleCase{.name = "ExcludedVmByUuid",
                 .policy = [](Policy& p) { p.rules.exclude_vms = {"vm-uuid-v2"}; },
                 .moves = {"v3->a"}},
        RuleCase{.name = "AllVmsExcluded",
                 .policy = [](Policy& p) { p.rules.exclude_vms = {"v?"}; },
                 .moves = {},
                 .unrelieved = Blocker::kExcludedVm},
        RuleCase{.name = "ExcludedTargetHost",
                 .policy = [](Policy& p) { p.rules.exclude_hosts = {"a"}; },
                 .moves = {"v2->b"}},
        RuleCase{.name = "ExcludedSourceHost",
                 .policy = [](Policy& p) { p.rules.exclude_hosts = {"ho*"}; },
                 .moves = {},
                 .unrelieved = Blocker::kExcludedSource},
        RuleCase{.name = "MustPinKeepsVmHome",
                 .policy =
                     [](Policy& p) {
                       p.rules.pins = {{"v2", {"hot"}, PinMode::kMust}};
                     },
                 .moves = {"v3->a"}},
        RuleCase{.name = "MustPinAllowsOnlyListedHosts",
                 .policy =
                     [](Policy& p) {
                       p.rules.pins = {{"v2", {"hot", "b"}, PinMode::kMust}};
                     },
                 .moves = {"v2->b"}},
        RuleCase{.name = "ShouldPinMovesLast",
                 .policy =
                     [](Policy& p) {
                       p.rules.pins = {{"v2", {"hot"}, PinMode::kShould}};
                     },
                 .moves = {"v3->a"}},
        RuleCase{.name = "AntiAffinityAvoidsMember",
                 .policy =
                     [](Policy& p) {
                       p.rules.anti_affinity = {{"g", {"v2", "a1"}}};
                     },
                 .moves = {"v2->b"}},
        RuleCase{.name = "AffinityGroupMovesTogether",
                 .policy =
                     [](Policy& p) {
                       p.rules.affinity = {{"g", {"v2", "v3"}}};
                     },
                 .moves = {"v2->a", "v3->a"}},
        RuleCase{.name = "AffinityContradictedByAntiAffinityNeverMoves",
                 .policy =  // v2 and v3 must share a host and must not: neither moves
                 [](Policy& p) {
                   p.rules.affinity = {{"pair", {"v2", "v3"}}};
                   p.rules.anti_affinity = {{"apart", {"v3", "v2"}}};
                 },
                 .moves = {"v1->a"},
                 .unrelieved = Blocker::kRuleConflict},
        RuleCase{.name = "AffinityGroupTooLargeForCaps",
                 .policy =
                     [](Policy& p) {
                       p.rules.affinity = {{"g", {"v1", "v2", "v3"}}};
                       p.limits.max_per_host_out = 2;
                     },
                 .moves = {},
                 .unrelieved = Blocker::kAffinityGroupTooLarge},
        RuleCase{.name = "MemoryNeverOvercommitted",
                 .state = [](ClusterState& s) { s.hosts[1].capacity.memory = 3 * testing::kGiB; },
                 .policy = [](Policy& p) { p.threshold(Resource::kMemory).enabled = false; },
                 .moves = {"v2->b"}},
        RuleCase{
            .name = "CooldownAfterMove",
            .build = [](ClusterBuilder& b) { b.Finished("v2", "b", "hot", T0() - seconds(60)); },
            .moves = {"v3->a"}},
        RuleCase{
            .name = "CooldownExpired",
            .build = [](ClusterBuilder& b) { b.Finished("v2", "b", "hot", T0() - seconds(301)); },
            .moves = {"v2->a"}},
        RuleCase{
            .name = "NoReturnWithinReturnCooldown",
            .build = [](ClusterBuilder& b) { b.Finished("v2", "a", "hot", T0() - seconds(400)); },
            .moves = {"v2->b"}},
        RuleCase{.name = "OneInFlightMovePerVm",
                 .build = [](ClusterBuilder& b) { b.InFlight("v2", "hot", "b"); },
                 .moves = {"v3->a"}},
        RuleCase{.name = "PerHostOutCap",
                 .build = [](ClusterBuilder& b) { b.InFlight("v1", "hot", "b"); },
                 .policy = [](Policy& p) { p.limits.max_per_host_out = 1; },
                 .moves = {},
                 .unrelieved = Blocker::kHostOutCap},
        RuleCase{.name = "PerHostInCap",
                 .build = [](ClusterBuilder& b) { b.InFlight("b1", "b", "a"); },
                 .policy = [](Policy& p) { p.limits.max_per_host_in = 1; },
                 .moves = {"v2->b"}},
        RuleCase{.name = "ClusterCap",
                 .build = [](ClusterBuilder& b) { b.InFlight("b1", "b", "a"); },
                 .policy = [](Policy& p) { p.limits.max_concurrent = 1; },
                 .moves = {},
                 .unrelieved = Blocker::kClusterCap},
        RuleCase{.name = "RoundCap",
                 .policy = [](Policy& p) { p.limits.max_moves_per_round = 0; },
                 .moves = {},
                 .unrelieved = Blocker::kRoundCap},
        RuleCase{.name = "StaleSourceNeverPlannedFrom",
                 .build = [](ClusterBuilder& b) { b.Stale("hot"); },
                 .moves = {},
                 .unrelieved = Blocker::kStaleSource},
        RuleCase{.name = "StaleHostNeverATarget",
                 .build = [](ClusterBuilder& b) { b.Stale("a"); },
                 .moves = {"v2->b"}},
        RuleCase{.name = "MaintenanceHostNeverATarget",
                 .build = [](ClusterBuilder& b) { b.Maintenance("a"); },
                 .moves = {"v2->b"}},
        RuleCase{
            .name = "TargetHotWithinForecastRefused",
            .build =
                [](ClusterBuilder& b) {
                  b.History("a", Resource::kCpu, {0.1, 0.3, 0.5, 0.7, 0.9});
                },
            .policy = [](Policy& p) { p.rules.exclude_hosts = {"b"}; },
            .moves = {},
            .unrelieved = Blocker::kTargetWouldBeHot},
        RuleCase{
            .name = "TargetStaysUnderRelievedMark",
            .state =
                [](ClusterState& s) {
                  s.hosts[1].used.cpu = 7;
                  s.hosts[1].history[0].assign(5, 7.0 / 16);
                },
            .policy = [](Policy& p) { p.rules.exclude_hosts = {"b"}; },
            .moves = {"v3->a"}},
        // Migrations in flight: the target must carry what lands on it (every resource,
        // every rule), while the source still carries it until it leaves.
        RuleCase{.name = "ArrivingCpuCountsOnTarget",
                 .build =  // a: 2 + 6 arriving = 8 cores; v2 would take it to 81 %
                 [](ClusterBuilder& b) { b.Vm("big", "b", 6).InFlight("big", "b", "a"); },
                 .moves = {"v3->a"}},
        RuleCase{.name = "ArrivingNetworkCountsOnTarget",
                 .build =  // 7.5 of a's 10 Gbit/s arrive: above the relieved mark (70 %)
                 [](ClusterBuilder& b) {
                   b.Vm("stream", "hot", 0, 2, 7500).InFlight("stream", "hot", "a");
                 },
                 .moves = {"v2->b"}},
        RuleCase{.name = "ArrivalsCountInTheTargetForecast",
                 .build =  // a's forecast is 30 % + 3 cores arriving: v2 would end at 79 %
                 [](ClusterBuilder& b) {
                   b.History("a", Resource::kCpu, {0.3, 0.3, 0.3, 0.3, 0.3});
                   b.Vm("x", "b", 3).InFlight("x", "b", "a");
                 },
                 .policy = [](Policy& p) { p.rules.exclude_hosts = {"b"}; },
                 .moves = {"v3->a"}},
        RuleCase{.name = "AntiAffinityCountsArrivals",
                 .build =  // peer arrives on a and is still on b: v2 fits neither
                 [](ClusterBuilder& b) { b.Vm("peer", "b", 0).InFlight("peer", "b", "a"); },
                 .policy =
                     [](Policy& p) {
                       p.rules.anti_affinity = {{"g", {"v2", "peer"}}};
                     },
                 .moves = {"v3->a"}},
        RuleCase{.name = "AffinityPartnerArrivingKeepsVmHome",
                 .build =  // mate is on its way to v2: moving v2 now would split them
                 [](ClusterBuilder& b) { b.Vm("mate", "a", 0).InFlight("mate", "a", "hot"); },
                 .policy =
                     [](Policy& p) {
                       p.rules.affinity = {{"g", {"v2", "mate"}}};
                     },
                 .moves = {"v3->a"}}),
    CaseName);

}  // namespace
}  // namespace ballast::core
