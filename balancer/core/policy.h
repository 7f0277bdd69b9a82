#pragma once

// The balancing policy as the core uses it: already parsed and defaulted. The YAML form
// (apiVersion ballast/v1) is read by balancer/policy; every default below is documented in
// policies/README.md, and the two must agree.

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/core/resources.h"

namespace ballast::core {

enum class Mode {
  kOff,        // plan nothing
  kRecommend,  // plan and explain; the daemon moves nothing
  kAutomatic,  // plan, explain, and the daemon carries the plan out
};

enum class ForecastModel { kEwma, kAr1 };

// What host load balance weighs (and density ranks by): the newest sample, or the forecast
// of the host's history (detection's model) projected through the planned moves.
enum class LoadBasis { kNow, kForecast };

enum class StrategyKind { kHotspot, kBalance, kDensity, kDrain };

enum class PinMode { kMust, kShould };

std::string_view ModeName(Mode m);
std::optional<Mode> ParseMode(std::string_view s);
std::string_view ForecastModelName(ForecastModel m);
std::optional<ForecastModel> ParseForecastModel(std::string_view s);
std::string_view LoadBasisName(LoadBasis b);
std::optional<LoadBasis> ParseLoadBasis(std::string_view s);
std::string_view StrategyName(StrategyKind k);
std::optional<StrategyKind> ParseStrategyName(std::string_view s);
std::string_view PinModeName(PinMode m);
std::optional<PinMode> ParsePinMode(std::string_view s);

// Hysteresis: a host becomes hot above `hot` and counts as relieved at or below `relieved`;
// a move never takes a target above `relieved`. Fractions of capacity.
struct Threshold {
  bool enabled = true;
  double hot = 0.85;
  double relieved = 0.70;
};

struct Detection {
  int k = 3;  // hot if at least k ...
  int n = 5;  // ... of the last n samples are above the hot mark
  ForecastModel forecast = ForecastModel::kEwma;
  double ewma_alpha = 0.5;  // weight of the newest sample, (0, 1]
};

struct BalanceOptions {
  // Host load = sum over resources of weight * utilisation, divided by the sum of weights.
  Resources weights = {1.0, 1.0, 0.0};
  LoadBasis load = LoadBasis::kNow;
  // A move must cut the spread of host load, the sum over hosts of (load - mean)^2, by at
  // least this. One move's cut does not depend on the number of hosts: moving a share d
  // from a host at load a to an equal host at load b cuts it by 2 d (a - b - d).
  double min_move_gain = 0.02;
  // Optional older test: a move must also cut the std-dev by at least this (0: off). One
  // move's cut shrinks as 1 / hosts, so at scale any positive value stops every move.
  double min_gain = 0.0;
  // A move off a host that is above a hot mark now (on a weighted resource) counts the
  // larger of its cut on `load` and surge_weight x its cut on the newest sample: with
  // load = forecast, a surge the forecast has not caught up with is still relieved.
  double surge_weight = 0.5;
  double tolerance = 0.05;  // std-dev at or below this is balanced enough: do nothing
};

struct DensityOptions {
  // Hosts that receive VMs stay at or below this utilisation (and below `relieved`).
  double max_utilization = 0.60;
  int max_hosts_per_round = 1;  // hosts being emptied at once
  // Receivers also keep the sum of their VMs' recent peaks (each VM's highest sample in its
  // history window, or its usage now) at or below this fraction of capacity: spiky VMs get
  // headroom, steady ones pack tighter.
  double max_peak_utilization = 1.0;
  // Receivers also keep sum(m) + effective_sigmas x sqrt(sum(var)) at or below
  // max_effective_utilization of capacity, over their VMs and the arriving one: m is a VM's
  // forecast, var the variance of its history window. Independent bursts rarely coincide, so
  // many steady VMs pack tighter than a few jumpy ones. 0 sigmas: not checked.
  double effective_sigmas = 0.0;
  double max_effective_utilization = 1.0;
  // Hotspot relief puts a VM on the fullest host within density's limits (the host density
  // would fill), and on the roomiest host under the relieved mark only when none fits: the
  // roomiest host is the next one density empties, and the VM would move twice.
  bool relieve_onto_receivers = false;
};

struct DrainOptions {
  std::vector<std::string> hosts;  // host names or globs, drained like maintenance hosts
};

// VMs are matched by name glob (`*`, `?`) or by exact UUID.
struct VmGroup {
  std::string name;
  std::vector<std::string> vms;
};

struct Pin {
  std::string vm;                  // name glob or UUID
  std::vector<std::string> hosts;  // host names or globs it must / should run on
  PinMode mode = PinMode::kMust;
};

struct Rules {
  std::vector<VmGroup> affinity;       // members stay together
  std::vector<VmGroup> anti_affinity;  // members never share a host
  std::vector<Pin> pins;
  std::vector<std::string> exclude_vms;    // never moved
  std::vector<std::string> exclude_hosts;  // never a source or a target
};

struct Limits {
  int max_moves_per_round = 4;
  int max_concurrent = 4;                      // in-flight + planned, cluster wide
  int max_per_host_out = 1;                    // in-flight + planned leaving one host
  int max_per_host_in = 2;                     // in-flight + planned arriving on one host
  std::chrono::seconds vm_cooldown{300};       // no new move of a VM this soon after one
  std::chrono::seconds return_cooldown{1800};  // no return to the host it left
};

// How the daemon carries out a move (the core plans; these only reach the actuator).
struct MigrationSettings {
  std::chrono::seconds timeout{120};          // a migration still running then is aborted
  int bandwidth_mib_per_second = 0;           // 0: unlimited
  std::chrono::milliseconds max_downtime{0};  // 0: the hypervisor's default
  std::chrono::seconds failure_backoff{30};   // first pause after a host pair fails (doubles)
};

struct Policy {
  std::string name = "default";
  Mode mode = Mode::kRecommend;
  std::chrono::milliseconds interval{2000};  // sampling / planning interval (for the daemon)
  std::array<Threshold, kNumResources> thresholds = {
      Threshold{true, 0.85, 0.70}, Threshold{true, 0.90, 0.80}, Threshold{true, 0.85, 0.70}};
  Detection detection;
  std::vector<StrategyKind> strategies = {StrategyKind::kHotspot, StrategyKind::kDrain};
  BalanceOptions balance;
  DensityOptions density;
  DrainOptions drain;
  Rules rules;
  Limits limits;
  MigrationSettings migration;

  const Threshold& threshold(Resource r) const { return thresholds[static_cast<std::size_t>(r)]; }
  Threshold& threshold(Resource r) { return thresholds[static_cast<std::size_t>(r)]; }
};

// One problem with a policy: the option path ("thresholds.cpu.relieved") and what is wrong.
struct PolicyIssue {
  std::string path;
  std::string message;
};

// Checks ranges and cross-field constraints; empty when the policy is usable. The loader
// reports these with file:line:column; programmatic callers (simulator, tests) can call it.
std::vector<PolicyIssue> ValidatePolicy(const Policy& policy);

// Warnings, not errors: affinity and anti-affinity groups whose patterns can match the same
// two or more VMs (directly, or through affinity groups that overlap each other). Such VMs
// must share a host and must not; whether any exist depends on the cluster, so the policy
// stays valid, and at plan time the VMs caught in both are never moved and are reported
// (Blocker::kRuleConflict). One issue per anti-affinity group and set of affinity groups,
// at the anti-affinity group's path, naming both. `ballastctl policy check` prints them.
std::vector<PolicyIssue> RuleConflictWarnings(const Policy& policy);

}  // namespace ballast::core
