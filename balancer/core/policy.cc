#include "balancer/core/policy.h"

#include <string>

namespace ballast::core {
namespace {

std::string Num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

void CheckFraction(std::vector<PolicyIssue>& out, const std::string& path, double v,
                   bool allow_zero) {
  if (!(v >= 0.0 && v <= 1.0) || (!allow_zero && v == 0.0)) {
    out.push_back({path, "value " + Num(v) +
                             " is out of range; allowed: " + (allow_zero ? "[0, 1]" : "(0, 1]")});
  }
}

void CheckIntRange(std::vector<PolicyIssue>& out, const std::string& path, long long v,
                   long long lo, long long hi) {
  if (v < lo || v > hi) {
    out.push_back({path, "value " + std::to_string(v) + " is out of range; allowed: [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + "]"});
  }
}

void CheckGroups(std::vector<PolicyIssue>& out, const std::string& path,
                 const std::vector<VmGroup>& groups, std::size_t min_members) {
  for (std::size_t i = 0; i < groups.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "].vms";
    if (groups[i].vms.size() < min_members) {
      out.push_back({p, "needs at least " + std::to_string(min_members) + " entries"});
    }
    for (const std::string& v : groups[i].vms) {
      if (v.empty()) out.push_back({p, "empty VM name"});
    }
  }
}

}  // namespace

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kOff:
      return "off";
    case Mode::kRecommend:
      return "recommend";
    case Mode::kAutomatic:
      return "automatic";
  }
  return "?";
}

std::optional<Mode> ParseMode(std::string_view s) {
  for (Mode m : {Mode::kOff, Mode::kRecommend, Mode::kAutomatic}) {
    if (ModeName(m) == s) return m;
  }
  return std::nullopt;
}

std::string_view ForecastModelName(ForecastModel m) {
  switch (m) {
    case ForecastModel::kEwma:
      return "ewma";
    case ForecastModel::kAr1:
      return "ar1";
  }
  return "?";
}

std::optional<ForecastModel> ParseForecastModel(std::string_view s) {
  for (ForecastModel m : {ForecastModel::kEwma, ForecastModel::kAr1}) {
    if (ForecastModelName(m) == s) return m;
  }
  return std::nullopt;
}

std::string_view LoadBasisName(LoadBasis b) {
  switch (b) {
    case LoadBasis::kNow:
      return "now";
    case LoadBasis::kForecast:
      return "forecast";
  }
  return "?";
}

std::optional<LoadBasis> ParseLoadBasis(std::string_view s) {
  for (LoadBasis b : {LoadBasis::kNow, LoadBasis::kForecast}) {
    if (LoadBasisName(b) == s) return b;
  }
  return std::nullopt;
}

std::string_view StrategyName(StrategyKind k) {
  switch (k) {
    case StrategyKind::kHotspot:
      return "hotspot";
    case StrategyKind::kBalance:
      return "balance";
    case StrategyKind::kDensity:
      return "density";
    case StrategyKind::kDrain:
      return "drain";
  }
  return "?";
}

std::optional<StrategyKind> ParseStrategyName(std::string_view s) {
  for (StrategyKind k : {StrategyKind::kHotspot, StrategyKind::kBalance, StrategyKind::kDensity,
                         StrategyKind::kDrain}) {
    if (StrategyName(k) == s) return k;
  }
  return std::nullopt;
}

std::string_view PinModeName(PinMode m) { return m == PinMode::kMust ? "must" : "should"; }

std::optional<PinMode> ParsePinMode(std::string_view s) {
  if (s == "must") return PinMode::kMust;
  if (s == "should") return PinMode::kShould;
  return std::nullopt;
}

std::vector<PolicyIssue> ValidatePolicy(const Policy& p) {
  std::vector<PolicyIssue> out;
  if (p.interval.count() < 100 || p.interval.count() > 3'600'000) {
    out.push_back({"interval_seconds", "value " + Num(p.interval.count() / 1000.0) +
                                           " is out of range; allowed: [0.1, 3600]"});
  }
  for (Resource r : kAllResources) {
    const Threshold& t = p.threshold(r);
    std::string base = "thresholds." + std::string(ResourceName(r));
    CheckFraction(out, base + ".hot", t.hot, false);
    CheckFraction(out, base + ".relieved", t.relieved, false);
    if (t.relieved >= t.hot) {
      out.push_back(
          {base + ".relieved", "must be below hot (" + Num(t.hot) + "), got " + Num(t.relieved)});
    }
  }
  CheckIntRange(out, "detection.n", p.detection.n, 1, 1000);
  CheckIntRange(out, "detection.k", p.detection.k, 1, 1000);
  if (p.detection.k > p.detection.n) {
    out.push_back({"detection.k", "must be at most detection.n (" + std::to_string(p.detection.n) +
                                      "), got " + std::to_string(p.detection.k)});
  }
  CheckFraction(out, "detection.ewma_alpha", p.detection.ewma_alpha, false);
  for (std::size_t i = 0; i < p.strategies.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (p.strategies[i] == p.strategies[j]) {
        out.push_back({"strategies[" + std::to_string(i) + "]",
                       "'" + std::string(StrategyName(p.strategies[i])) + "' is listed twice"});
      }
    }
  }
  double weight_sum = 0;
  for (Resource r : kAllResources) {
    double w = p.balance.weights[r];
    if (!(w >= 0 && w <= 100)) {
      out.push_back({"balance.weights." + std::string(ResourceName(r)),
                     "value " + Num(w) + " is out of range; allowed: [0, 100]"});
    } else {
      weight_sum += w;
    }
  }
  if (weight_sum <= 0) out.push_back({"balance.weights", "at least one weight must be > 0"});
  if (!(p.balance.min_move_gain > 0 && p.balance.min_move_gain <= 1)) {
    out.push_back({"balance.min_move_gain",
                   "value " + Num(p.balance.min_move_gain) + " is out of range; allowed: (0, 1]"});
  }
  CheckFraction(out, "balance.min_gain", p.balance.min_gain, true);
  CheckFraction(out, "balance.surge_weight", p.balance.surge_weight, true);
  CheckFraction(out, "balance.tolerance", p.balance.tolerance, true);
  CheckFraction(out, "density.max_utilization", p.density.max_utilization, false);
  CheckIntRange(out, "density.max_hosts_per_round", p.density.max_hosts_per_round, 1, 1000);
  CheckFraction(out, "density.max_peak_utilization", p.density.max_peak_utilization, false);
  if (!(p.density.effective_sigmas >= 0 && p.density.effective_sigmas <= 10)) {
    out.push_back({"density.effective_sigmas", "value " + Num(p.density.effective_sigmas) +
                                                   " is out of range; allowed: [0, 10]"});
  }
  CheckFraction(out, "density.max_effective_utilization", p.density.max_effective_utilization,
                false);
  CheckGroups(out, "rules.affinity", p.rules.affinity, 1);
  CheckGroups(out, "rules.anti_affinity", p.rules.anti_affinity, 1);
  for (std::size_t i = 0; i < p.rules.pins.size(); ++i) {
    std::string base = "rules.pins[" + std::to_string(i) + "]";
    if (p.rules.pins[i].vm.empty()) out.push_back({base + ".vm", "must not be empty"});
    if (p.rules.pins[i].hosts.empty()) {
      out.push_back({base + ".hosts", "needs at least 1 entry"});
    }
  }
  CheckIntRange(out, "limits.max_moves_per_round", p.limits.max_moves_per_round, 0, 100000);
  CheckIntRange(out, "limits.max_concurrent", p.limits.max_concurrent, 1, 100000);
  CheckIntRange(out, "limits.max_per_host_out", p.limits.max_per_host_out, 1, 1000);
  CheckIntRange(out, "limits.max_per_host_in", p.limits.max_per_host_in, 1, 1000);
  CheckIntRange(out, "limits.vm_cooldown_seconds", p.limits.vm_cooldown.count(), 0, 7 * 24 * 3600);
  CheckIntRange(out, "limits.return_cooldown_seconds", p.limits.return_cooldown.count(), 0,
                7 * 24 * 3600);
  CheckIntRange(out, "migration.timeout_seconds", p.migration.timeout.count(), 1, 24 * 3600);
  CheckIntRange(out, "migration.bandwidth_mib_per_second", p.migration.bandwidth_mib_per_second, 0,
                1000000);
  CheckIntRange(out, "migration.max_downtime_ms", p.migration.max_downtime.count(), 0, 600000);
  CheckIntRange(out, "migration.failure_backoff_seconds", p.migration.failure_backoff.count(), 0,
                24 * 3600);
  return out;
}

}  // namespace ballast::core
