// Hotspot relief (Sandpiper): for each hot host, most loaded first, move the VMs with the
// highest volume-to-size ratio (most load relieved per byte copied) to the host with the
// most headroom that stays under the relieved mark, until the host is relieved. With
// density.relieve_onto_receivers, the fullest host density would fill comes first.

#include <algorithm>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "balancer/core/strategies/registry.h"
#include "balancer/core/strategies/strategy.h"

namespace ballast::core {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMinSizeGiB = 1.0 / 16;  // a tiny VM must not get an infinite ratio
constexpr double kMaxShareForVolume = 0.99;

struct Candidate {
  Unit unit;
  bool prefers_here = false;  // a should-pin names this host: move it last
  double vsr = 0;
};

bool IsCapBlocker(Blocker b) {
  return b == Blocker::kRoundCap || b == Blocker::kClusterCap || b == Blocker::kHostOutCap;
}

class Hotspot final : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kHotspot; }

  void Run(PlanContext& ctx) const override {
    const Policy& policy = ctx.policy();
    std::vector<std::pair<double, int>> hot_hosts;
    for (int h = 0; h < static_cast<int>(ctx.hosts().size()); ++h) {
      const HostState& hs = ctx.host(h);
      if (std::any_of(hs.hot.begin(), hs.hot.end(), [](bool b) { return b; })) {
        hot_hosts.emplace_back(ctx.Volume(h), h);
      }
    }
    std::sort(hot_hosts.begin(), hot_hosts.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });

    for (const auto& [volume, h] : hot_hosts) Relieve(ctx, h, policy);
  }

 private:
  static std::vector<Resource> HotResources(const PlanContext& ctx, int h) {
    std::vector<Resource> out;
    for (Resource r : kAllResources) {
      if (ctx.host(h).hot[static_cast<std::size_t>(r)]) out.push_back(r);
    }
    return out;
  }

  // The hot resource furthest above its relieved mark.
  static Resource Worst(const PlanContext& ctx, int h, const std::vector<Resource>& hot) {
    Resource worst = hot.front();
    double gap = -1e300;
    for (Resource r : hot) {
      double g = ctx.Level(h, r) - ctx.policy().threshold(r).relieved;
      if (g > gap) {
        gap = g;
        worst = r;
      }
    }
    return worst;
  }

  static bool Relieved(const PlanContext& ctx, int h, const std::vector<Resource>& hot) {
    return std::all_of(hot.begin(), hot.end(), [&](Resource r) {
      return ctx.Level(h, r) <= ctx.policy().threshold(r).relieved;
    });
  }

  static void Relieve(PlanContext& ctx, int h, const Policy& policy) {
    const std::vector<Resource> hot = HotResources(ctx, h);
    Resources detected;
    for (Resource r : hot) detected[r] = ctx.Level(h, r);
    Unrelieved left;
    left.strategy = StrategyKind::kHotspot;
    left.host = ctx.host(h).host->name;

    Blocker source = ctx.CheckSource(h, 1, /*check_caps=*/false);
    if (source != Blocker::kNone) {
      left.blockers[source] = 1;
      Finish(ctx, h, hot, std::move(left));
      return;
    }

    std::vector<Candidate> candidates;
    // The host's own VMs only: one flag per VM of the cluster, per host, made a plan
    // quadratic (17,000 hot hosts x 2,000,000 VMs at 100,000 hosts).
    std::unordered_set<int> seen;
    seen.reserve(ctx.host(h).vms.size());
    for (int v : ctx.host(h).vms) {
      if (seen.count(v) != 0) continue;
      Candidate c;
      c.unit = ctx.UnitOf(v);
      for (int m : c.unit) seen.insert(m);
      const Resources share = ctx.Share(c.unit, h);
      double helps = 0;
      for (Resource r : hot) helps += share[r];
      if (helps <= 0) continue;  // moving it would not cool the hot resource
      double volume = 1.0;
      double memory = 0;
      for (Resource r : kAllResources) {
        if (!policy.threshold(r).enabled) continue;
        volume /= 1.0 - std::min(share[r], kMaxShareForVolume);
      }
      for (int m : c.unit) {
        memory += ctx.vm(m).usage.memory;
        const int pin = ctx.vm(m).should_pin;
        if (pin >= 0 && ctx.PinAllows(pin, h)) c.prefers_here = true;
      }
      c.vsr = volume / std::max(memory / kGiB, kMinSizeGiB);
      candidates.push_back(std::move(c));
    }
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      return std::tuple(a.prefers_here, -a.vsr, a.unit.front()) <
             std::tuple(b.prefers_here, -b.vsr, b.unit.front());
    });
    if (candidates.empty()) left.blockers[Blocker::kNoMovableVm] = 1;

    const Resources limits = ctx.RelievedLimits();
    for (const Candidate& c : candidates) {
      if (Relieved(ctx, h, hot)) break;
      Blocker b = ctx.CheckUnit(c.unit);
      if (b != Blocker::kNone) {
        ++left.blockers[b];
        continue;
      }
      b = ctx.CheckSource(h, c.unit.size());
      if (IsCapBlocker(b)) {
        left.blockers[b] = 1;
        break;
      }
      TargetChoice t;
      if (policy.density.relieve_onto_receivers) t = FindFullestDensityTarget(ctx, c.unit);
      if (t.host < 0) t = FindRoomiestTarget(ctx, c.unit, limits);
      if (t.host < 0) {
        ++left.blockers[t.blocker];
        continue;
      }
      const Resource r = Worst(ctx, h, hot);
      MoveReason reason;
      reason.strategy = StrategyKind::kHotspot;
      reason.resource = r;
      reason.mark = policy.threshold(r).hot;
      reason.target_limit = limits[r];
      reason.score = c.vsr;
      reason.source_before = ctx.Level(h, r);
      reason.detected = detected[r];
      reason.target_before = ctx.Level(t.host, r);
      const std::size_t first = ctx.Checkpoint();
      ctx.MoveUnit(c.unit, t.host);
      reason.source_after = ctx.Level(h, r);
      reason.target_after = ctx.Level(t.host, r);
      ctx.Annotate(first, reason);
    }
    if (!Relieved(ctx, h, hot)) Finish(ctx, h, hot, std::move(left));
  }

  static void Finish(PlanContext& ctx, int h, const std::vector<Resource>& hot, Unrelieved u) {
    const Resource r = Worst(ctx, h, hot);
    u.resource = r;
    u.level = ctx.Level(h, r);
    u.mark = ctx.policy().threshold(r).relieved;
    AddUnrelieved(ctx, std::move(u));
  }
};

}  // namespace

const Strategy& HotspotStrategy() {
  static const Hotspot kStrategy;
  return kStrategy;
}

}  // namespace ballast::core
