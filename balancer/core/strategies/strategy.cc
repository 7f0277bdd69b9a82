#include "balancer/core/strategies/strategy.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <iterator>
#include <utility>

#include "balancer/core/explain.h"

namespace ballast::core {

TargetChoice FindRoomiestTarget(const PlanContext& ctx, const Unit& unit, const Resources& limit,
                                bool check_caps) {
  constexpr std::size_t kNumBlockers = static_cast<std::size_t>(Blocker::kInsufficientGain) + 1;
  std::array<int, kNumBlockers> counts{};
  int scanned = 0;
  for (const auto& [volume, h] : ctx.targets_by_volume()) {
    if (scanned++ >= kTargetScanBudget) break;
    Blocker b = ctx.CheckTarget(unit, h, limit, check_caps);
    if (b == Blocker::kNone) return {h, Blocker::kNone};
    if (b != Blocker::kNoTarget) ++counts[static_cast<std::size_t>(b)];  // kNoTarget: own host
  }
  TargetChoice none;
  int best = 0;
  for (std::size_t i = 0; i < kNumBlockers; ++i) {
    if (counts[i] > best) {
      best = counts[i];
      none.blocker = static_cast<Blocker>(i);
    }
  }
  return none;
}

bool DensityFits(const PlanContext& ctx, const Unit& unit, int t) {
  const Policy& p = ctx.policy();
  const DensityOptions& d = p.density;
  const HostState& ts = ctx.host(t);
  for (Resource r : kAllResources) {
    if (!p.threshold(r).enabled || ts.cap[r] <= 0) continue;
    double peak = ts.peak[r];
    for (int v : unit) peak += ctx.vm(v).peak_usage[r];
    if (peak > d.max_peak_utilization * ts.cap[r]) return false;
    if (d.effective_sigmas <= 0) continue;
    double mean = ts.forecast[r] * ts.cap[r];
    double variance = ts.variance[r];
    for (int v : unit) {
      mean += ctx.vm(v).forecast_usage[r];
      variance += ctx.VmVariance(v)[r];
    }
    if (mean + d.effective_sigmas * std::sqrt(std::max(0.0, variance)) >
        d.max_effective_utilization * ts.cap[r]) {
      return false;
    }
  }
  return true;
}

TargetChoice FindFullestDensityTarget(const PlanContext& ctx, const Unit& unit) {
  const Policy& p = ctx.policy();
  Resources limits = ctx.RelievedLimits();
  for (Resource r : kAllResources) limits[r] = std::min(limits[r], p.density.max_utilization);
  const auto& by_load = ctx.targets_by_load();
  const auto fullest = by_load.upper_bound({p.density.max_utilization, INT_MAX});
  int scanned = 0;
  for (auto it = std::make_reverse_iterator(fullest); it != by_load.rend(); ++it) {
    if (scanned++ >= kTargetScanBudget) break;
    const int t = it->second;
    if (ctx.CheckTarget(unit, t, limits) == Blocker::kNone && DensityFits(ctx, unit, t)) {
      return {t, Blocker::kNone};
    }
  }
  return {};
}

void AddUnrelieved(PlanContext& ctx, Unrelieved u) {
  int best = 0;
  for (const auto& [b, n] : u.blockers) {
    if (n > best) {
      best = n;
      u.main_blocker = b;
    }
  }
  u.explanation = ExplainUnrelieved(u);
  ctx.unrelieved().push_back(std::move(u));
}

}  // namespace ballast::core
