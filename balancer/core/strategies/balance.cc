// Balance (VMware DRS's cost-benefit idea): repeatedly make the single move that cuts the
// std-dev of weighted host load the most, among the most and least loaded hosts, and only
// if it cuts it by at least balance.min_gain. Stops when the std-dev is within tolerance.

#include <algorithm>
#include <cmath>
#include <vector>

#include "balancer/core/planner.h"
#include "balancer/core/strategies/registry.h"
#include "balancer/core/strategies/strategy.h"

namespace ballast::core {
namespace {

// How many of the most (least) loaded hosts are considered as sources (targets) per move.
// The best single move almost always involves the extremes; the bound keeps a step at
// O(kWindow^2 * VMs per host) whatever the cluster size.
constexpr int kWindow = 8;

bool IsCapBlocker(Blocker b) {
  return b == Blocker::kRoundCap || b == Blocker::kClusterCap || b == Blocker::kHostOutCap;
}

struct Stats {
  double sum = 0;
  double sumsq = 0;
  double n = 0;
  double StdDev() const {
    if (n <= 0) return 0;
    double mean = sum / n;
    return std::sqrt(std::max(0.0, sumsq / n - mean * mean));
  }
};

class Balance final : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kBalance; }

  void Run(PlanContext& ctx) const override {
    const Policy& policy = ctx.policy();
    if (ctx.targets_by_load().size() < 2) return;
    double weight_sum = 0;
    for (Resource r : kAllResources) weight_sum += policy.balance.weights[r];
    if (weight_sum <= 0) return;
    const Resources limits = ctx.RelievedLimits();

    Unrelieved left;
    left.strategy = StrategyKind::kBalance;
    bool moved = false;
    while (true) {
      Stats stats = Compute(ctx);
      const double before = stats.StdDev();
      if (before <= policy.balance.tolerance) return;

      struct Best {
        double gain = 0;
        double after = 0;
        Unit unit;
        int from = -1;
        int to = -1;
      } best;
      bool capped = false;

      std::vector<int> sources;
      for (auto it = ctx.targets_by_load().rbegin();
           it != ctx.targets_by_load().rend() && static_cast<int>(sources.size()) < kWindow; ++it) {
        Blocker b = ctx.CheckSource(it->second, 1);
        if (b == Blocker::kRoundCap || b == Blocker::kClusterCap) {
          left.blockers[b] = 1;
          capped = true;
          break;
        }
        if (b == Blocker::kNone && !ctx.host(it->second).vms.empty()) {
          sources.push_back(it->second);
        }
      }
      if (capped) break;
      std::vector<int> targets;
      for (auto it = ctx.targets_by_load().begin();
           it != ctx.targets_by_load().end() && static_cast<int>(targets.size()) < kWindow; ++it) {
        if (ctx.host(it->second).in_count < policy.limits.max_per_host_in) {
          targets.push_back(it->second);
        }
      }

      for (int s : sources) {
        std::vector<int> residents = ctx.host(s).vms;
        std::sort(residents.begin(), residents.end());
        std::vector<int> done;
        for (int v : residents) {
          if (std::find(done.begin(), done.end(), v) != done.end()) continue;
          const Unit unit = ctx.UnitOf(v);
          done.insert(done.end(), unit.begin(), unit.end());
          if (ctx.PrefersHost(unit, s)) continue;  // should-pinned where it wants to be
          if (IsCapBlocker(ctx.CheckSource(s, unit.size()))) continue;
          Blocker b = ctx.CheckUnit(unit);
          if (b != Blocker::kNone) {
            ++left.blockers[b];
            continue;
          }
          const double ls = ctx.Load(s);
          const double ds = WeightedShare(ctx, unit, s, weight_sum);
          for (int t : targets) {
            if (t == s) continue;
            const double lt = ctx.Load(t);
            const double dt = WeightedShare(ctx, unit, t, weight_sum);
            Stats next = stats;
            next.sum += -ds + dt;
            next.sumsq += (ls - ds) * (ls - ds) - ls * ls + (lt + dt) * (lt + dt) - lt * lt;
            const double after = next.StdDev();
            const double gain = before - after;
            if (gain <= best.gain) continue;
            if (ctx.CheckTarget(unit, t, limits) != Blocker::kNone) continue;
            best = {gain, after, unit, s, t};
          }
        }
      }
      if (best.to < 0 || best.gain < policy.balance.min_gain) {
        if (!moved) left.blockers[Blocker::kInsufficientGain] = 1;
        break;
      }
      MoveReason reason;
      reason.strategy = StrategyKind::kBalance;
      reason.mark = policy.balance.min_gain;
      reason.score = best.gain;
      reason.stddev_before = before;
      reason.stddev_after = best.after;
      reason.source_before = ctx.Load(best.from);
      reason.target_before = ctx.Load(best.to);
      const std::size_t first = ctx.Checkpoint();
      ctx.MoveUnit(best.unit, best.to);
      reason.source_after = ctx.Load(best.from);
      reason.target_after = ctx.Load(best.to);
      ctx.Annotate(first, reason);
      moved = true;
    }
    if (!moved) {
      left.level = Compute(ctx).StdDev();
      left.mark = policy.balance.tolerance;
      AddUnrelieved(ctx, std::move(left));
    }
  }

 private:
  static Stats Compute(const PlanContext& ctx) {
    Stats s;
    for (const auto& [load, h] : ctx.targets_by_load()) {
      s.sum += load;
      s.sumsq += load * load;
      s.n += 1;
    }
    return s;
  }

  static double WeightedShare(const PlanContext& ctx, const Unit& unit, int h, double weight_sum) {
    const Resources share = ctx.Share(unit, h);
    double d = 0;
    for (Resource r : kAllResources) {
      double w = ctx.policy().balance.weights[r];
      if (w > 0) d += w * share[r];
    }
    return d / weight_sum;
  }
};

}  // namespace

const Strategy& BalanceStrategy() {
  static const Balance kStrategy;
  return kStrategy;
}

}  // namespace ballast::core
