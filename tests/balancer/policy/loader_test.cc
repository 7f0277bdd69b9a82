#include "balancer/policy/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "common/edit_distance.h"

namespace ballast::policy {
namespace {

using ::testing::HasSubstr;

core::Policy MustLoad(const std::string& text) {
  Result<core::Policy> r = LoadPolicyFromString(text, "p.yaml");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : core::Policy{};
}

std::string Errors(const std::string& text) {
  Result<core::Policy> r = LoadPolicyFromString(text, "p.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  return r.status().message();
}

TEST(LoaderTest, MinimalPolicyTakesEveryDefault) {
  core::Policy p = MustLoad("apiVersion: ballast/v1\n");
  core::Policy d;
  EXPECT_EQ(p.name, d.name);
  EXPECT_EQ(p.mode, d.mode);
  EXPECT_EQ(p.interval, d.interval);
  EXPECT_EQ(p.threshold(core::Resource::kCpu).hot, 0.85);
  EXPECT_EQ(p.detection.k, 3);
  EXPECT_EQ(p.strategies, d.strategies);
  EXPECT_EQ(p.limits.vm_cooldown, d.limits.vm_cooldown);
}

TEST(LoaderTest, ReadsEveryOption) {
  core::Policy p = MustLoad(R"(apiVersion: ballast/v1
name: full
mode: automatic
interval_seconds: 1.5
thresholds:
  cpu: {hot: 0.8, relieved: 0.6}
  memory: {enabled: false}
  network: {hot: 0.9, relieved: 0.5}
detection: {k: 2, n: 4, forecast: ar1, ewma_alpha: 0.3}
strategies: [drain, balance, density, hotspot]
balance:
  weights: {cpu: 2, memory: 1, network: 0.5}
  min_gain: 0.02
  tolerance: 0.1
density: {max_utilization: 0.5, max_hosts_per_round: 2}
drain: {hosts: [node-1]}
rules:
  affinity: [{name: a, vms: [x, y]}]
  anti_affinity: [{vms: ["db-*"]}]
  pins: [{vm: lic, hosts: [n1, n2], mode: should}, {vm: q, hosts: [n3]}]
  exclude_vms: [backup-*]
  exclude_hosts: [gpu-*]
limits:
  max_moves_per_round: 7
  max_concurrent: 6
  max_per_host_out: 3
  max_per_host_in: 4
  vm_cooldown_seconds: 60
  return_cooldown_seconds: 600
)");
  EXPECT_EQ(p.name, "full");
  EXPECT_EQ(p.mode, core::Mode::kAutomatic);
  EXPECT_EQ(p.interval, std::chrono::milliseconds(1500));
  EXPECT_DOUBLE_EQ(p.threshold(core::Resource::kCpu).relieved, 0.6);
  EXPECT_FALSE(p.threshold(core::Resource::kMemory).enabled);
  EXPECT_DOUBLE_EQ(p.threshold(core::Resource::kNetwork).hot, 0.9);
  EXPECT_EQ(p.detection.forecast, core::ForecastModel::kAr1);
  EXPECT_DOUBLE_EQ(p.detection.ewma_alpha, 0.3);
  EXPECT_EQ(p.strategies.size(), 4u);
  EXPECT_EQ(p.strategies[0], core::StrategyKind::kDrain);
  EXPECT_DOUBLE_EQ(p.balance.weights.net, 0.5);
  EXPECT_EQ(p.density.max_hosts_per_round, 2);
  EXPECT_EQ(p.drain.hosts, (std::vector<std::string>{"node-1"}));
  ASSERT_EQ(p.rules.affinity.size(), 1u);
  EXPECT_EQ(p.rules.affinity[0].vms, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(p.rules.anti_affinity[0].name, "anti_affinity-0");
  ASSERT_EQ(p.rules.pins.size(), 2u);
  EXPECT_EQ(p.rules.pins[0].mode, core::PinMode::kShould);
  EXPECT_EQ(p.rules.pins[1].mode, core::PinMode::kMust);
  EXPECT_EQ(p.rules.exclude_hosts, (std::vector<std::string>{"gpu-*"}));
  EXPECT_EQ(p.limits.max_per_host_in, 4);
  EXPECT_EQ(p.limits.return_cooldown, std::chrono::seconds(600));
}

TEST(LoaderTest, DensityReceiverLimitsLoadDefaultsAndAreRangeChecked) {
  EXPECT_DOUBLE_EQ(MustLoad("apiVersion: ballast/v1\n").density.max_peak_utilization, 1.0);
  core::Policy p = MustLoad("apiVersion: ballast/v1\ndensity: {max_peak_utilization: 0.85}\n");
  EXPECT_DOUBLE_EQ(p.density.max_peak_utilization, 0.85);
  EXPECT_EQ(Errors("apiVersion: ballast/v1\ndensity: {max_peak_utilization: 0}\n"),
            "p.yaml:2:33: density.max_peak_utilization: value 0 is out of range; "
            "allowed: (0, 1]");
  const core::Policy d = MustLoad("apiVersion: ballast/v1\n");
  EXPECT_DOUBLE_EQ(d.density.effective_sigmas, 0.0);
  EXPECT_DOUBLE_EQ(d.density.max_effective_utilization, 1.0);
  EXPECT_FALSE(d.density.relieve_onto_receivers);
  const core::Policy e = MustLoad(
      "apiVersion: ballast/v1\ndensity: {effective_sigmas: 2, max_effective_utilization: 0.9,"
      " relieve_onto_receivers: true}\n");
  EXPECT_DOUBLE_EQ(e.density.effective_sigmas, 2.0);
  EXPECT_DOUBLE_EQ(e.density.max_effective_utilization, 0.9);
  EXPECT_TRUE(e.density.relieve_onto_receivers);
  EXPECT_NE(Errors("apiVersion: ballast/v1\ndensity: {effective_sigmas: -1}\n")
                .find("density.effective_sigmas: value -1 is out of range; allowed: [0, 10]"),
            std::string::npos);
}

TEST(LoaderTest, BalanceGainLoadAndSurgeLoadDefaultsAndAreChecked) {
  core::Policy d = MustLoad("apiVersion: ballast/v1\n");
  EXPECT_EQ(d.balance.load, core::LoadBasis::kNow);
  EXPECT_DOUBLE_EQ(d.balance.min_move_gain, 0.02);
  EXPECT_DOUBLE_EQ(d.balance.min_gain, 0.0);
  EXPECT_DOUBLE_EQ(d.balance.surge_weight, 0.5);
  core::Policy p = MustLoad(
      "apiVersion: ballast/v1\nbalance: {load: forecast, min_move_gain: 0.1, min_gain: 0.002, "
      "surge_weight: 0}\n");
  EXPECT_EQ(p.balance.load, core::LoadBasis::kForecast);
  EXPECT_DOUBLE_EQ(p.balance.min_move_gain, 0.1);
  EXPECT_DOUBLE_EQ(p.balance.min_gain, 0.002);
  EXPECT_DOUBLE_EQ(p.balance.surge_weight, 0.0);
  EXPECT_EQ(Errors("apiVersion: ballast/v1\nbalance: {load: forcast}\n"),
            "p.yaml:2:17: balance.load: invalid value 'forcast'; allowed: now, forecast; did you "
            "mean 'forecast'?");
  EXPECT_EQ(Errors("apiVersion: ballast/v1\nbalance: {min_move_gain: 0}\n"),
            "p.yaml:2:26: balance.min_move_gain: value 0 is out of range; allowed: (0, 1]");
  EXPECT_EQ(Errors("apiVersion: ballast/v1\nbalance: {surge_weight: 1.5}\n"),
            "p.yaml:2:25: balance.surge_weight: value 1.5 is out of range; allowed: [0, 1]");
}

TEST(LoaderTest, UnknownKeyNamesPathPositionAndSuggestion) {
  std::string e = Errors("apiVersion: ballast/v1\nthresholds:\n  cpu:\n    hott: 0.9\n");
  EXPECT_EQ(e,
            "p.yaml:4:5: thresholds.cpu.hott: unknown key 'thresholds.cpu.hott'; "
            "did you mean 'hot'?");
}

TEST(LoaderTest, UnknownKeyWithoutCloseMatchListsAllowedKeys) {
  std::string e = Errors("apiVersion: ballast/v1\nwhatever: 1\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:2:1: whatever: unknown key 'whatever'; allowed here: "));
  EXPECT_THAT(e, HasSubstr("thresholds"));
}

TEST(LoaderTest, OutOfRangeNamesTheAllowedRange) {
  std::string e = Errors("apiVersion: ballast/v1\nthresholds:\n  cpu: {hot: 1.5}\n");
  EXPECT_EQ(e,
            "p.yaml:3:14: thresholds.cpu.hot: value 1.5 is out of range; "
            "allowed: (0, 1]");
}

TEST(LoaderTest, CrossFieldConstraintsPointAtTheValue) {
  std::string e = Errors("apiVersion: ballast/v1\ndetection:\n  n: 5\n  k: 7\n");
  EXPECT_EQ(e, "p.yaml:4:6: detection.k: must be at most detection.n (5), got 7");
  e = Errors("apiVersion: ballast/v1\nthresholds:\n  cpu: {hot: 0.6}\n");
  // relieved is absent (default 0.70): the error points at the enclosing
  // mapping.
  EXPECT_EQ(e, "p.yaml:3:8: thresholds.cpu.relieved: must be below hot (0.6), got 0.7");
}

TEST(LoaderTest, BadEnumValuesSuggestTheClosest) {
  std::string e = Errors("apiVersion: ballast/v1\nmode: automatc\n");
  EXPECT_EQ(e,
            "p.yaml:2:7: mode: invalid value 'automatc'; allowed: off, recommend, "
            "automatic; did you mean 'automatic'?");
  e = Errors("apiVersion: ballast/v1\nstrategies: [hotspot, balanse]\n");
  EXPECT_THAT(e, HasSubstr("strategies[1]: invalid value 'balanse'"));
  EXPECT_THAT(e, HasSubstr("did you mean 'balance'?"));
}

TEST(LoaderTest, WrongTypesAreReported) {
  std::string e = Errors(
      "apiVersion: ballast/v1\ndetection: {k: three}\nlimits: "
      "{vm_cooldown_seconds: 1.5}\n"
      "rules: {exclude_vms: backup}\nthresholds: {cpu: {enabled: maybe}}\n");
  EXPECT_THAT(e, HasSubstr("detection.k: expected an integer, got 'three'"));
  EXPECT_THAT(e, HasSubstr("limits.vm_cooldown_seconds: expected an integer, got '1.5'"));
  EXPECT_THAT(e, HasSubstr("rules.exclude_vms: expected a list of strings, got 'backup'"));
  EXPECT_THAT(e, HasSubstr("thresholds.cpu.enabled: expected true or false, got 'maybe'"));
}

TEST(LoaderTest, AllErrorsAreReportedAtOnce) {
  std::string e = Errors(
      "apiVersion: ballast/v1\nmode: auto\ndetection: {kk: "
      "1}\nlimits: {max_concurrent: 0}\n");
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 2) << e;
  EXPECT_THAT(e, HasSubstr("mode:"));
  EXPECT_THAT(e, HasSubstr("detection.kk"));
  EXPECT_THAT(e, HasSubstr("limits.max_concurrent: value 0 is out of range; "
                           "allowed: [1, 100000]"));
}

TEST(LoaderTest, ApiVersionIsRequiredAndChecked) {
  EXPECT_THAT(Errors("mode: off\n"), HasSubstr("apiVersion: missing; expected 'ballast/v1'"));
  EXPECT_THAT(Errors("apiVersion: ballast/v2\n"),
              HasSubstr("p.yaml:1:13: apiVersion: unsupported 'ballast/v2'"));
  EXPECT_THAT(Errors(""), HasSubstr("the policy is empty"));
  EXPECT_THAT(Errors("- a\n- b\n"), HasSubstr("(top level): expected a mapping"));
}

TEST(LoaderTest, SyntaxErrorsHavePositions) {
  std::string e = Errors("apiVersion: ballast/v1\nthresholds: {cpu: [\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:"));
  EXPECT_EQ(e.rfind("p.yaml:", 0), 0u);
}

TEST(LoaderTest, RepeatedKeyIsRejectedNotSilentlyDropped) {
  // yaml-cpp keeps both and a lookup sees only the first: the second list was
  // lost.
  const std::string e = Errors(
      "apiVersion: ballast/v1\nstrategies: "
      "[hotspot]\nlimits:\n  max_concurrent: 2\n"
      "  max_concurrent: 3\nstrategies: [balance]\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:5:3: limits.max_concurrent: key given twice "
                           "(first on line 4)"));
  EXPECT_THAT(e, HasSubstr("p.yaml:6:1: strategies: key given twice (first on line 2)"));
}

TEST(LoaderTest, MissingFileIsNotFound) {
  Result<core::Policy> r = LoadPolicyFile("/nonexistent/ballast/policy.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

// ballast::EditDistance (common/edit_distance.h) drives the loader's
// did-you-mean.
TEST(EditDistanceTest, Levenshtein) {
  EXPECT_EQ(EditDistance("hott", "hot"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
}

}  // namespace
}  // namespace ballast::policy

namespace ballast::policy {
namespace {

TEST(LoaderMigrationTest, MigrationSectionLoadsAndIsRangeChecked) {
  auto p = LoadPolicyFromString(
      "apiVersion: ballast/v1\nmigration:\n  timeout_seconds: 20\n  "
      "bandwidth_mib_per_second: 40\n"
      "  max_downtime_ms: 300\n  failure_backoff_seconds: 5\n",
      "m.yaml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->migration.timeout, std::chrono::seconds(20));
  EXPECT_EQ(p->migration.bandwidth_mib_per_second, 40);
  EXPECT_EQ(p->migration.max_downtime, std::chrono::milliseconds(300));
  EXPECT_EQ(p->migration.failure_backoff, std::chrono::seconds(5));

  auto bad = LoadPolicyFromString(
      "apiVersion: ballast/v1\nmigration:\n  "
      "timeout_seconds: 0\n  bandwith_mib_per_second: 4\n",
      "m.yaml");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("migration.timeout_seconds"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'bandwidth_mib_per_second'"), std::string::npos) << m;
}

}  // namespace
}  // namespace ballast::policy
