#include "balancer/core/policy.h"

#include <gtest/gtest.h>

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
