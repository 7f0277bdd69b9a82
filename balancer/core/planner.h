#pragma once

// The decision core's entry point. Pure and deterministic: the same snapshot, policy and
// time give the same plan; no I/O, no clock reads, no randomness. Thread-compatible: the
// daemon, the simulator and the benchmarks call it concurrently on their own inputs.
//
// Usage (daemon, once per interval):
//   core::Plan plan = core::MakePlan(snapshot, *policy_store.current(), clock.Now());
//   log each plan.moves[i].explanation and plan.unrelieved[i].explanation;
//   if (plan.mode == core::Mode::kAutomatic) start plan.moves in order.

#include "balancer/core/cluster_state.h"
#include "balancer/core/plan.h"
#include "balancer/core/policy.h"

namespace ballast::core {

// Runs the policy's strategies in order over one projected copy of the cluster: each
// strategy sees the moves of the ones before it, and the caps are shared. Mode kOff gives
// an empty plan. The policy should have passed ValidatePolicy.
Plan MakePlan(const ClusterState& state, const Policy& policy, TimePoint now);

// The snapshot as if every move of the plan had completed: each VM's host changes and
// `used` shifts by the VM's usage on both hosts. For simulations and property tests.
ClusterState ApplyPlan(const ClusterState& state, const Plan& plan);

// The std-dev of weighted host load (balance.weights) over the hosts balance weighs:
// fresh, not excluded, not in maintenance. What the balance strategy minimises.
double LoadStdDev(const ClusterState& state, const Policy& policy);

}  // namespace ballast::core
