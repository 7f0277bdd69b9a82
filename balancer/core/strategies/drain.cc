// Drain: evacuate hosts in maintenance (the host flag, set by the control endpoint, or
// policy drain.hosts). Each VM goes to the host with the most headroom that stays under
// the relieved marks; the caps make a large drain take several rounds, and whatever is
// left is reported with the reason.

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "balancer/core/strategies/registry.h"
#include "balancer/core/strategies/strategy.h"

namespace ballast::core {
namespace {

bool IsCapBlocker(Blocker b) {
  return b == Blocker::kRoundCap || b == Blocker::kClusterCap || b == Blocker::kHostOutCap;
}

class Drain final : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kDrain; }

  void Run(PlanContext& ctx) const override {
    for (int h = 0; h < static_cast<int>(ctx.hosts().size()); ++h) {
      if (ctx.host(h).maintenance && !ctx.host(h).vms.empty()) Evacuate(ctx, h);
    }
  }

 private:
  static void Evacuate(PlanContext& ctx, int h) {
    Unrelieved left;
    left.strategy = StrategyKind::kDrain;
    left.host = ctx.host(h).host->name;
    Blocker source = ctx.CheckSource(h, 1, /*check_caps=*/false);
    if (source != Blocker::kNone) {
      left.blockers[source] = 1;
      Finish(ctx, h, std::move(left));
      return;
    }
    const Resources limits = ctx.RelievedLimits();
    std::vector<int> residents = ctx.host(h).vms;
    std::sort(residents.begin(), residents.end());
    // The host's own VMs only: one flag per VM of the cluster, per host, made a plan
    // quadratic (17,000 hot hosts x 2,000,000 VMs at 100,000 hosts).
    std::unordered_set<int> seen;
    seen.reserve(residents.size());
    for (int v : residents) {
      if (seen.count(v) != 0) continue;
      const Unit unit = ctx.UnitOf(v);
      for (int m : unit) seen.insert(m);
      Blocker b = ctx.CheckUnit(unit);
      if (b != Blocker::kNone) {
        ++left.blockers[b];
        continue;
      }
      b = ctx.CheckSource(h, unit.size());
      if (IsCapBlocker(b)) {
        left.blockers[b] = 1;
        break;
      }
      TargetChoice t = FindRoomiestTarget(ctx, unit, limits);
      if (t.host < 0) {
        ++left.blockers[t.blocker];
        continue;
      }
      // Report the resource that binds on the target: the one closest to its limit after.
      const Resources share = ctx.Share(unit, t.host);
      Resource binding = Resource::kCpu;
      double headroom = 1e300;
      for (Resource r : kAllResources) {
        if (!ctx.policy().threshold(r).enabled || ctx.host(t.host).cap[r] <= 0) continue;
        double room = limits[r] - (ctx.Level(t.host, r) + share[r]);
        if (room < headroom) {
          headroom = room;
          binding = r;
        }
      }
      MoveReason reason;
      reason.strategy = StrategyKind::kDrain;
      reason.resource = binding;
      reason.target_limit = limits[binding];
      reason.source_before = ctx.Level(h, binding);
      reason.target_before = ctx.Level(t.host, binding);
      const std::size_t first = ctx.Checkpoint();
      ctx.MoveUnit(unit, t.host);
      reason.source_after = ctx.Level(h, binding);
      reason.target_after = ctx.Level(t.host, binding);
      ctx.Annotate(first, reason);
    }
    if (!ctx.host(h).vms.empty()) Finish(ctx, h, std::move(left));
  }

  static void Finish(PlanContext& ctx, int h, Unrelieved u) {
    std::vector<int> residents = ctx.host(h).vms;
    std::sort(residents.begin(), residents.end());
    for (int v : residents) u.vms_left.push_back(ctx.vm(v).vm->name);
    AddUnrelieved(ctx, std::move(u));
  }
};

}  // namespace

const Strategy& DrainStrategy() {
  static const Drain kStrategy;
  return kStrategy;
}

}  // namespace ballast::core
