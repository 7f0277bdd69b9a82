#pragma once

// A balancing strategy: reads and moves units in a PlanContext. Each strategy is one file
// in this directory and one line in registry.cc; the policy lists which run, in order.

#include <map>
#include <span>

#include "balancer/core/plan_context.h"
#include "balancer/core/policy.h"

namespace ballast::core {

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual StrategyKind kind() const = 0;
  // Adds moves (PlanContext::MoveUnit) and unrelieved entries; must be deterministic.
  virtual void Run(PlanContext& ctx) const = 0;
};

// The most targets one unit examines, best first. Targets are kept ordered by headroom,
// so if the roomiest ones refuse, deeper ones rarely fit; the bound keeps a hopeless
// search at 10,000 hosts from costing O(hosts) per VM.
inline constexpr int kTargetScanBudget = 1024;

struct TargetChoice {
  int host = -1;                         // -1: none fits
  Blocker blocker = Blocker::kNoTarget;  // when none fits: the most common refusal
};

// The eligible target with the most headroom (lowest volume) that passes every check.
TargetChoice FindRoomiestTarget(const PlanContext& ctx, const Unit& unit, const Resources& limit,
                                bool check_caps = true);

// Density's own limits on a receiver beyond CheckTarget's: with the unit, its VMs' recent
// peaks together within density.max_peak_utilization of capacity, and their forecasts plus
// density.effective_sigmas standard deviations of their sum (variances added, as for
// independent VMs) within density.max_effective_utilization, per enabled resource.
bool DensityFits(const PlanContext& ctx, const Unit& unit, int t);

// The fullest eligible target whose load is at most density.max_utilization that takes the
// unit under min(relieved mark, density.max_utilization) and DensityFits: where hotspot
// relief puts a VM when density.relieve_onto_receivers is set, so that density does not
// move it again to empty that host.
TargetChoice FindFullestDensityTarget(const PlanContext& ctx, const Unit& unit);

// Sets main_blocker (most frequent, ties to the earlier check) and the explanation, and
// appends the entry to the context.
void AddUnrelieved(PlanContext& ctx, Unrelieved u);

}  // namespace ballast::core
