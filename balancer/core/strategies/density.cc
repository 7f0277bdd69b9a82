// Density: consolidate onto fewer hosts, and onto the biggest ones.
//
// Hosts are ranked by size (capacity of the weighted resources, within 5 % counts as the
// same size), then by load. The best-ranked hosts that together can hold the whole load at
// the density limit form the keep set: they receive VMs and are never emptied. Every other
// host is a candidate to empty, smallest and least loaded first; a candidate is chosen only
// if every VM on it can be placed in the keep set (on the biggest host that fits, the
// fullest of that size) under min(relieved mark, density.max_utilization), and with the
// receiver's VMs' recent peaks within density.max_peak_utilization of its capacity, so no
// move here ever creates a hotspot. The caps then bound how much of it moves this round;
// the next rounds continue.
//
// Bigger hosts first because they usually draw less power per unit of capacity (idle power
// does not grow with capacity) and hold more VMs, so fewer hosts stay on. The keep set
// stops churn: a host that the load needs is not emptied only to fill another one, and VMs
// land only on hosts that will stay.

#include <algorithm>
#include <climits>
#include <cmath>
#include <iterator>
#include <limits>
#include <tuple>
#include <vector>

#include "balancer/core/strategies/registry.h"
#include "balancer/core/strategies/strategy.h"

namespace ballast::core {
namespace {

// How many candidate hosts one round tries to empty, at least (each costs a trial
// placement of its VMs); hosts with a VM that may not move do not count.
constexpr int kMaxCandidates = 16;

// Capacities within this factor of each other count as the same host size.
constexpr double kSizeStep = 1.05;

using Ranked = std::tuple<int, double, int>;  // (size class, load, host)

struct Sizes {
  std::vector<int> of;  // per host with VMs: its size class
  int biggest_kept = 0;
  // Receivers' loads are at most this minus a unit's least share (SetReceiverBound).
  double receiver_bound = std::numeric_limits<double>::infinity();
  double weight_sum = 0;
  Resources max_cap;  // per resource, over every host
  // Kept hosts only receive, so their loads stay at or above this during the plan.
  double least_kept_load = std::numeric_limits<double>::infinity();
};

class Density final : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kDensity; }

  void Run(PlanContext& ctx) const override {
    const Policy& policy = ctx.policy();
    Resources limits = ctx.RelievedLimits();
    for (Resource r : kAllResources) {
      limits[r] = std::min(limits[r], policy.density.max_utilization);
    }
    Sizes sizes;
    sizes.of.assign(ctx.hosts().size(), 0);
    std::vector<char> keep(ctx.hosts().size(), 0);
    std::vector<Ranked> candidates;
    int scanned = 0;
    const int max_candidates = std::max(kMaxCandidates, 2 * policy.density.max_hosts_per_round);
    {
      std::vector<Ranked> ranked;
      for (const auto& [load, h] : ctx.targets_by_load()) {
        if (ctx.host(h).vms.empty()) continue;
        const int size = SizeClass(ctx, h);
        sizes.of[static_cast<std::size_t>(h)] = size;
        ranked.emplace_back(size, load, h);
      }
      MarkKeepSet(ctx, limits, ranked, keep);
      for (const auto& [size, load, h] : ranked) {
        if (keep[static_cast<std::size_t>(h)]) {
          sizes.biggest_kept = std::max(sizes.biggest_kept, size);
          sizes.least_kept_load = std::min(sizes.least_kept_load, load);
        }
      }
      std::sort(ranked.begin(), ranked.end());
      for (const auto& [size, load, h] : ranked) {
        if (static_cast<int>(candidates.size()) >= max_candidates) break;
        if (scanned++ >= kTargetScanBudget) break;
        const HostState& hs = ctx.host(h);
        if (keep[static_cast<std::size_t>(h)] || hs.in_count > 0) continue;  // stays, receives
        if (std::any_of(hs.hot.begin(), hs.hot.end(), [](bool b) { return b; })) continue;
        if (ctx.CheckSource(h, 1, /*check_caps=*/false) != Blocker::kNone) continue;
        if (!Movable(ctx, h)) continue;
        candidates.emplace_back(size, load, h);
      }
    }
    SetReceiverBound(ctx, limits, sizes);
    int emptying = 0;
    for (const auto& [size, load, h] : candidates) {
      if (emptying >= policy.density.max_hosts_per_round) break;
      if (ctx.CheckSource(h, 1) != Blocker::kNone) continue;
      const std::size_t checkpoint = ctx.Checkpoint();
      const bool feasible = Empty(ctx, h, keep, sizes, limits, /*for_real=*/false);
      ctx.RollbackTo(checkpoint);
      if (!feasible) continue;
      ++emptying;
      Empty(ctx, h, keep, sizes, limits, /*for_real=*/true);
    }
  }

 private:
  static int SizeClass(const PlanContext& ctx, int h) {
    const Policy& p = ctx.policy();
    double sum = 0;
    double w = 0;
    for (Resource r : kAllResources) {
      if (p.balance.weights[r] <= 0 || ctx.host(h).cap[r] <= 0) continue;
      sum += p.balance.weights[r] * std::log(ctx.host(h).cap[r]);
      w += p.balance.weights[r];
    }
    return w > 0 ? static_cast<int>(std::lround(sum / w / std::log(kSizeStep))) : 0;
  }

  // Receivers a unit cannot fit are skipped, not scanned: at 10,000 hosts the 1,024 fullest
  // (the scan's budget) were all too full, and density found no receiver. A receiver t
  // that takes the unit keeps level_r + share_r <= limit_r on every limited resource, so
  // its load (a weighted mean of utilisations, each at most its level) is at most
  // sum w_r limit_r / W minus the unit's weighted share on t, which is least on the
  // biggest host. No bound when a weighted resource has no limit.
  static void SetReceiverBound(const PlanContext& ctx, const Resources& limits, Sizes& sizes) {
    const Policy& p = ctx.policy();
    double bound = 0;
    double w = 0;
    for (Resource r : kAllResources) {
      if (p.balance.weights[r] <= 0) continue;
      if (!p.threshold(r).enabled) return;
      bound += p.balance.weights[r] * limits[r];
      w += p.balance.weights[r];
    }
    if (w <= 0) return;
    sizes.receiver_bound = bound / w;
    sizes.weight_sum = w;
    for (const HostState& hs : ctx.hosts()) {
      for (Resource r : kAllResources) sizes.max_cap[r] = std::max(sizes.max_cap[r], hs.cap[r]);
    }
  }

  // The highest load at which a receiver may still take `unit` (see SetReceiverBound).
  static double ReceiverBound(const PlanContext& ctx, const Unit& unit, const Resources& limits,
                              const Sizes& sizes) {
    if (std::isinf(sizes.receiver_bound)) return sizes.receiver_bound;
    double least_share = 0;
    for (Resource r : kAllResources) {
      const double w = ctx.policy().balance.weights[r];
      if (w <= 0 || sizes.max_cap[r] <= 0) continue;
      double share = 0;
      for (int v : unit) share += ctx.vm(v).usage[r] / sizes.max_cap[r];
      // At most the limit: a host that does not know its capacity is not checked on r.
      least_share += w * std::min(share, limits[r]);
    }
    return sizes.receiver_bound - least_share / sizes.weight_sum;
  }

  // The best-ranked hosts (biggest, then fullest) whose room under the limits covers the
  // load of every host with VMs, per weighted resource.
  static void MarkKeepSet(const PlanContext& ctx, const Resources& limits,
                          std::vector<Ranked> ranked, std::vector<char>& keep) {
    const Policy& p = ctx.policy();
    Resources total;
    for (const auto& [size, load, h] : ranked) {
      for (Resource r : kAllResources) total[r] += ctx.host(h).used[r];
    }
    std::sort(ranked.rbegin(), ranked.rend());
    Resources room;
    for (const auto& [size, load, h] : ranked) {
      bool covered = true;
      for (Resource r : kAllResources) {
        if (p.balance.weights[r] <= 0 || !p.threshold(r).enabled) continue;
        if (room[r] < total[r]) covered = false;
      }
      if (covered) break;
      keep[static_cast<std::size_t>(h)] = 1;
      for (Resource r : kAllResources) room[r] += ctx.host(h).cap[r] * limits[r];
    }
  }

  // Every VM on h may move: the hard rules of the VMs themselves, and no should-pin to h.
  static bool Movable(const PlanContext& ctx, int h) {
    std::vector<int> done;
    for (int v : ctx.host(h).vms) {
      if (std::find(done.begin(), done.end(), v) != done.end()) continue;
      const Unit unit = ctx.UnitOf(v);
      done.insert(done.end(), unit.begin(), unit.end());
      if (ctx.PrefersHost(unit, h) || ctx.CheckUnit(unit) != Blocker::kNone) return false;
    }
    return true;
  }

  // Places every unit of host h in the keep set: the biggest fitting host, the fullest of
  // that size. A trial (for_real = false) ignores the caps and reports whether all units
  // found a place; for real, a capped receiver is passed over, and the first cap on the
  // source stops the host (later rounds continue).
  static bool Empty(PlanContext& ctx, int h, const std::vector<char>& keep, const Sizes& sizes,
                    const Resources& limits, bool for_real) {
    std::vector<int> residents = ctx.host(h).vms;
    std::sort(residents.begin(), residents.end());
    std::vector<int> done;
    for (int v : residents) {
      if (std::find(done.begin(), done.end(), v) != done.end()) continue;
      const Unit unit = ctx.UnitOf(v);
      done.insert(done.end(), unit.begin(), unit.end());
      if (ctx.PrefersHost(unit, h)) return false;  // a should-pin wants it here
      Blocker b = ctx.CheckSource(h, unit.size(), for_real);
      if (b != Blocker::kNone) return false;
      if (ctx.CheckUnit(unit) != Blocker::kNone) return false;
      int target = -1;
      int target_size = 0;
      int scanned = 0;
      const auto& by_load = ctx.targets_by_load();
      const auto consider = [&](int t) {
        if (!keep[static_cast<std::size_t>(t)]) return false;
        const int size = sizes.of[static_cast<std::size_t>(t)];
        if (target >= 0 && size <= target_size) return false;  // a fuller one of its size fits
        if (ctx.CheckTarget(unit, t, limits, for_real) == Blocker::kNone &&
            DensityFits(ctx, unit, t)) {
          target = t;
          target_size = size;
          return size >= sizes.biggest_kept;  // none bigger: stop
        }
        return false;
      };
      const double bound = ReceiverBound(ctx, unit, limits, sizes);
      const auto fullest =
          std::isinf(bound) ? by_load.end() : by_load.upper_bound({bound + 1e-12, INT_MAX});
      for (auto it = std::make_reverse_iterator(fullest); it != by_load.rend(); ++it) {
        if (scanned++ >= kTargetScanBudget || consider(it->second)) break;
      }
      // In a big cluster the budget can run out among hosts full on one resource (the
      // weighted load orders them, not the fit): then the least loaded kept hosts, which
      // fit if any does, from the bottom up.
      if (target < 0 && scanned > kTargetScanBudget) {
        scanned = 0;
        for (auto it = by_load.lower_bound({sizes.least_kept_load, INT_MIN}); it != fullest; ++it) {
          if (scanned++ >= kTargetScanBudget || consider(it->second)) break;
          if (target >= 0) break;
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
