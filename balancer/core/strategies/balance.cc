// Balance (VMware DRS's cost-benefit idea): repeatedly make the single move that cuts the
// spread of weighted host load, sum over hosts of (load - mean)^2, the most, among the most
// and least loaded hosts, and only if the cut earns the migration: at least
// balance.min_move_gain (and, if set, a std-dev cut of balance.min_gain). Stops when the
// std-dev is within tolerance.
//
// The load is the newest sample or its forecast (balance.load). A move off a host that is
// above a hot mark right now may also be justified by its cut on the newest sample, weighed
// by balance.surge_weight: the forecast lags a surge, and an overloaded host cannot wait.

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

// Sums over the balanced hosts, kept current move by move (a step reads them in O(1)).
struct Stats {
  double sum = 0;
  double sumsq = 0;
  double n = 0;
  // sum of (load - mean)^2
  double Spread() const { return n <= 0 ? 0 : std::max(0.0, sumsq - sum * sum / n); }
  double StdDev() const { return n <= 0 ? 0 : std::sqrt(Spread() / n); }
  // The same sums once host loads a -> a2 and b -> b2.
  Stats With(double a, double a2, double b, double b2) const {
    Stats s = *this;
    s.sum += (a2 - a) + (b2 - b);
    s.sumsq += (a2 * a2 - a * a) + (b2 * b2 - b * b);
    return s;
  }
};

class Balance final : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kBalance; }

  void Run(PlanContext& ctx) const override {
    const Policy& policy = ctx.policy();
    const BalanceOptions& opt = policy.balance;
    if (ctx.targets_by_load().size() < 2) return;
    double weight_sum = 0;
    for (Resource r : kAllResources) weight_sum += opt.weights[r];
    if (weight_sum <= 0) return;
    const Resources limits = ctx.RelievedLimits();
    const bool surge_rule = opt.load != LoadBasis::kNow && opt.surge_weight > 0;

    Stats stats;  // on balance.load
    Stats now;    // on the newest sample (the surge rule's)
    for (const auto& [load, h] : ctx.targets_by_load()) {
      stats.sum += load;
      stats.sumsq += load * load;
      ++stats.n;
      if (surge_rule) {
        const double l = ctx.NowLoad(h);
        now.sum += l;
        now.sumsq += l * l;
        ++now.n;
      }
    }

    Unrelieved left;
    left.strategy = StrategyKind::kBalance;
    bool moved = false;
    // Reused step after step (a step at 100,000 hosts is a few microseconds).
    std::vector<int> sources;
    std::vector<int> targets;
    std::vector<int> residents;
    std::vector<int> done;
    while (true) {
      const double before = stats.StdDev();
      if (before <= opt.tolerance) return;

      struct Best {
        double gain = 0;  // cut in the spread
        double after = 0;
        Unit unit;
        int from = -1;
        int to = -1;
      } best;
      bool capped = false;

      sources.clear();
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
      targets.clear();
      for (auto it = ctx.targets_by_load().begin();
           it != ctx.targets_by_load().end() && static_cast<int>(targets.size()) < kWindow; ++it) {
        if (ctx.host(it->second).in_count < policy.limits.max_per_host_in) {
          targets.push_back(it->second);
        }
      }

      for (int s : sources) {
        const bool surging = surge_rule && Surging(ctx, s);
        residents.assign(ctx.host(s).vms.begin(), ctx.host(s).vms.end());
        std::sort(residents.begin(), residents.end());
        done.clear();
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
          const double ds = WeightedShare(ctx, unit, s, weight_sum, opt.load);
          const double ns = surging ? ctx.NowLoad(s) : 0;
          const double nds = surging ? WeightedShare(ctx, unit, s, weight_sum, LoadBasis::kNow) : 0;
          for (int t : targets) {
            if (t == s) continue;
            const double lt = ctx.Load(t);
            const double dt = WeightedShare(ctx, unit, t, weight_sum, opt.load);
            const Stats next = stats.With(ls, ls - ds, lt, lt + dt);
            double gain = stats.Spread() - next.Spread();
            if (surging) {
              const double nt = ctx.NowLoad(t);
              const double ndt = WeightedShare(ctx, unit, t, weight_sum, LoadBasis::kNow);
              const Stats n2 = now.With(ns, ns - nds, nt, nt + ndt);
              gain = std::max(gain, opt.surge_weight * (now.Spread() - n2.Spread()));
            }
            if (gain <= best.gain) continue;
            const double after = next.StdDev();
            if (opt.min_gain > 0 && before - after < opt.min_gain) continue;
            if (ctx.CheckTarget(unit, t, limits) != Blocker::kNone) continue;
            best = {gain, after, unit, s, t};
          }
        }
      }
      if (best.to < 0 || best.gain < opt.min_move_gain) {
        if (!moved) left.blockers[Blocker::kInsufficientGain] = 1;
        break;
      }
      MoveReason reason;
      reason.strategy = StrategyKind::kBalance;
      reason.mark = opt.min_move_gain;
      reason.score = best.gain;
      reason.stddev_before = before;
      reason.stddev_after = best.after;
      reason.source_before = ctx.Load(best.from);
      reason.target_before = ctx.Load(best.to);
      const double now_from = surge_rule ? ctx.NowLoad(best.from) : 0;
      const double now_to = surge_rule ? ctx.NowLoad(best.to) : 0;
      const std::size_t first = ctx.Checkpoint();
      ctx.MoveUnit(best.unit, best.to);
      reason.source_after = ctx.Load(best.from);
      reason.target_after = ctx.Load(best.to);
      ctx.Annotate(first, reason);
      // The sums follow the loads the move really left (the projected forecast moves by
      // the VM's forecast, which may differ from the share the step estimated).
      stats = stats.With(reason.source_before, reason.source_after, reason.target_before,
                         reason.target_after);
      if (surge_rule) {
        now = now.With(now_from, ctx.NowLoad(best.from), now_to, ctx.NowLoad(best.to));
      }
      moved = true;
    }
    if (!moved) {
      left.level = stats.StdDev();
      left.mark = opt.tolerance;
      AddUnrelieved(ctx, std::move(left));
    }
  }

 private:
  // Above a hot mark now, on a resource that is watched and weighed.
  static bool Surging(const PlanContext& ctx, int h) {
    for (Resource r : kAllResources) {
      const Threshold& t = ctx.policy().threshold(r);
      if (t.enabled && ctx.policy().balance.weights[r] > 0 && ctx.Util(h, r) > t.hot) return true;
    }
    return false;
  }

  // The unit's weighted share of host h: of its usage now, or of its forecast.
  static double WeightedShare(const PlanContext& ctx, const Unit& unit, int h, double weight_sum,
                              LoadBasis basis) {
    const Resources share =
        basis == LoadBasis::kForecast ? ctx.ForecastShare(unit, h) : ctx.Share(unit, h);
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
