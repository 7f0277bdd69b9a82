#pragma once

// Checking a move an admin asks for (ballastctl migrate) against the same hard rules the
// planner obeys. Pure, like the rest of the core.
//
// A manual move is not held to the relieved mark (the admin chose the target), but to every
// hard rule: exclusion, pins, affinity (a VM with partners on its host would be split),
// anti-affinity, cooldown, return cooldown, in-flight, the concurrency caps, memory, a stale
// or excluded or maintenance target, and a target that would be hot after the move.

#include <string>

#include "balancer/core/cluster_state.h"
#include "balancer/core/plan.h"
#include "balancer/core/policy.h"

namespace ballast::core {

struct ManualMoveCheck {
  bool allowed = false;
  std::string rule;         // "" when allowed; else a stable name (BlockerName, "affinity", ...)
  bool forceable = false;   // --force may override (never memory overcommit or a stale target)
  std::string explanation;  // one sentence
};

ManualMoveCheck CheckManualMove(const ClusterState& state, const Policy& policy, TimePoint now,
                                const std::string& vm_uuid, const std::string& target);

}  // namespace ballast::core
