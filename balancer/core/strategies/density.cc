// Density: consolidate onto fewer hosts. Take the least loaded hosts as candidates to
// empty; a candidate is chosen only if every VM on it could be placed elsewhere (best fit:
// the fullest host that stays under min(relieved mark, density.max_utilization)), so no
// move here ever creates a hotspot. The caps then bound how much of it moves this round;
// the next rounds continue, since the host stays the least loaded.

#include <algorithm>
#include <vector>

#include "balancer/core/strategies/registry.h"
#include "balancer/core/strategies/strategy.h"

namespace ballast::core {
namespace {

// How many candidate hosts one round examines (each costs a trial placement of its VMs).
constexpr int kMaxCandidates = 16;

class Density final : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kDensity; }

  void Run(PlanContext& ctx) const override {
    const Policy& policy = ctx.policy();
    Resources limits = ctx.RelievedLimits();
    for (Resource r : kAllResources) {
      limits[r] = std::min(limits[r], policy.density.max_utilization);
    }
    std::vector<std::pair<double, int>> candidates;
    for (const auto& [load, h] : ctx.targets_by_load()) {
      if (static_cast<int>(candidates.size()) >= kMaxCandidates) break;
      const HostState& hs = ctx.host(h);
      if (hs.vms.empty() || hs.in_count > 0) continue;  // empty already, or receiving
      if (std::any_of(hs.hot.begin(), hs.hot.end(), [](bool b) { return b; })) continue;
      candidates.emplace_back(load, h);
    }
    std::vector<int> emptying;
    for (const auto& [load, h] : candidates) {
      if (static_cast<int>(emptying.size()) >= policy.density.max_hosts_per_round) break;
      if (ctx.CheckSource(h, 1) != Blocker::kNone) continue;
      emptying.push_back(h);
      const std::size_t checkpoint = ctx.Checkpoint();
      const bool feasible = Empty(ctx, h, emptying, limits, /*for_real=*/false);
      ctx.RollbackTo(checkpoint);
      if (!feasible) {
        emptying.pop_back();
        continue;
      }
      Empty(ctx, h, emptying, limits, /*for_real=*/true);
    }
  }

 private:
  // Places every unit of host h on the fullest fitting host. A trial (for_real = false)
  // ignores the caps and reports whether all units found a place; for real, stops at the
  // first cap and annotates the moves.
  static bool Empty(PlanContext& ctx, int h, const std::vector<int>& emptying,
                    const Resources& limits, bool for_real) {
    std::vector<int> residents = ctx.host(h).vms;
    std::sort(residents.begin(), residents.end());
    std::vector<int> done;
    const double source_load = ctx.Load(h);
    for (int v : residents) {
      if (std::find(done.begin(), done.end(), v) != done.end()) continue;
      const Unit unit = ctx.UnitOf(v);
      done.insert(done.end(), unit.begin(), unit.end());
      if (ctx.PrefersHost(unit, h)) return false;  // a should-pin wants it here
      Blocker b = ctx.CheckSource(h, unit.size(), for_real);
      if (b != Blocker::kNone) return false;
      if (ctx.CheckUnit(unit) != Blocker::kNone) return false;
      int target = -1;
      int scanned = 0;
      // Fullest first; never onto a host as empty as this one, or one being emptied.
      for (auto it = ctx.targets_by_load().rbegin(); it != ctx.targets_by_load().rend(); ++it) {
        if (scanned++ >= kTargetScanBudget) break;
        const int t = it->second;
        if (it->first < source_load || (it->first == source_load && t <= h)) break;
        if (ctx.host(t).vms.empty()) continue;
        if (std::find(emptying.begin(), emptying.end(), t) != emptying.end()) continue;
        if (ctx.CheckTarget(unit, t, limits, for_real) == Blocker::kNone) {
          target = t;
          break;
        }
      }
      if (target < 0) return false;
      MoveReason reason;
      reason.strategy = StrategyKind::kDensity;
      reason.source_before = ctx.Load(h);
      reason.target_before = ctx.Load(target);
      reason.target_limit = ctx.policy().density.max_utilization;
      const std::size_t first = ctx.Checkpoint();
      ctx.MoveUnit(unit, target);
      reason.source_after = ctx.Load(h);
      reason.target_after = ctx.Load(target);
      if (for_real) ctx.Annotate(first, reason);
    }
    return true;
  }
};

}  // namespace

const Strategy& DensityStrategy() {
  static const Density kStrategy;
  return kStrategy;
}

}  // namespace ballast::core
