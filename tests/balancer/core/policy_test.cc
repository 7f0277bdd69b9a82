#include "balancer/core/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ballast::core {
namespace {

TEST(PolicyTest, DefaultsAreValid) { EXPECT_TRUE(ValidatePolicy(Policy{}).empty()); }

TEST(PolicyTest, IssuesNameThePathAndTheRange) {
  Policy p;
  p.threshold(Resource::kMemory).relieved = 0.95;
  p.detection.k = 6;
  p.balance.weights = {0, 0, 0};
  p.limits.max_per_host_in = 0;
  p.strategies = {StrategyKind::kHotspot, StrategyKind::kHotspot};
  p.rules.pins = {{"", {}, PinMode::kMust}};
  std::vector<PolicyIssue> issues = ValidatePolicy(p);
  std::vector<std::string> paths;
  for (const PolicyIssue& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"thresholds.memory.relieved", "detection.k",
                                             "strategies[1]", "balance.weights", "rules.pins[0].vm",
                                             "rules.pins[0].hosts", "limits.max_per_host_in"}));
  EXPECT_EQ(issues.back().message, "value 0 is out of range; allowed: [1, 1000]");
}

std::vector<std::string> ConflictWarnings(std::vector<VmGroup> affinity,
                                          std::vector<VmGroup> anti_affinity) {
  Policy p;
  p.rules.affinity = std::move(affinity);
  p.rules.anti_affinity = std::move(anti_affinity);
  EXPECT_TRUE(ValidatePolicy(p).empty());  // warnings only: the policy stays valid
  std::vector<std::string> out;
  for (const PolicyIssue& i : RuleConflictWarnings(p)) out.push_back(i.path + ": " + i.message);
  return out;
}

TEST(PolicyTest, WarnsWhenAffinityAndAntiAffinityCanMatchTheSameVms) {
  EXPECT_EQ(ConflictWarnings({{"aff", {"vm-0", "vm-4"}}}, {{"anti", {"vm-0", "vm-4", "vm-7"}}}),
            (std::vector<std::string>{
                "rules.anti_affinity[0]: anti-affinity group 'anti' (rules.anti_affinity[0]) "
                "contradicts affinity group 'aff' (rules.affinity[0]): both can match vm-0, "
                "vm-4, which affinity keeps on one host and anti-affinity on different hosts; "
                "the balancer never moves VMs caught in both and reports them in every plan "
                "(rule_conflict)"}));
  // Globs on both sides can match any number of VMs.
  EXPECT_EQ(ConflictWarnings({{"web", {"web-*"}}}, {{"fe", {"db-*", "web-fe-?"}}}).size(), 1u);
  // Through a chain of affinity groups; the warning names every group of the chain.
  auto chain = ConflictWarnings({{"g1", {"a", "b"}}, {"g2", {"b", "c"}}, {"other", {"z"}}},
                                {{"n", {"a", "c"}}});
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_NE(chain[0].find("affinity groups 'g1' (rules.affinity[0]) and 'g2' (rules.affinity[1])"),
            std::string::npos)
      << chain[0];
  EXPECT_EQ(chain[0].find("other"), std::string::npos) << chain[0];
}

TEST(PolicyTest, NoWarningWithoutTwoVmsInBothGroups) {
  // One VM in both groups clashes with nobody.
  EXPECT_TRUE(ConflictWarnings({{"app", {"web-1", "db-1"}}}, {{"dbs", {"db-*"}}}).empty());
  EXPECT_TRUE(
      ConflictWarnings({{"shop", {"shop-app", "shop-cache"}}}, {{"db", {"pg-replica-*"}}}).empty());
  EXPECT_TRUE(ConflictWarnings({{"web", {"web-*"}}}, {{"db", {"db-*"}}}).empty());
  EXPECT_TRUE(ConflictWarnings({}, {{"db", {"db-*"}}}).empty());
}

TEST(PolicyTest, NamesRoundTrip) {
  for (Mode m : {Mode::kOff, Mode::kRecommend, Mode::kAutomatic}) {
    EXPECT_EQ(ParseMode(ModeName(m)), m);
  }
  for (StrategyKind k : {StrategyKind::kHotspot, StrategyKind::kBalance, StrategyKind::kDensity,
                         StrategyKind::kDrain}) {
    EXPECT_EQ(ParseStrategyName(StrategyName(k)), k);
  }
  EXPECT_EQ(ParseForecastModel("ar1"), ForecastModel::kAr1);
  EXPECT_EQ(ParsePinMode("should"), PinMode::kShould);
  EXPECT_FALSE(ParseMode("auto").has_value());
}

}  // namespace
}  // namespace ballast::core
