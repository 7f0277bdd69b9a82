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

// Sets main_blocker (most frequent, ties to the earlier check) and the explanation, and
// appends the entry to the context.
void AddUnrelieved(PlanContext& ctx, Unrelieved u);

}  // namespace ballast::core
