#pragma once

// The decision core's entry point. Pure and deterministic: the same snapshot, policy and
// time give the same plan; no I/O, no clock reads, no randomness. Thread-compatible: the
// daemon, the simulator and the benchmarks call it concurrently on their own inputs.
//
// Usage (daemon, once per interval):
//   core::Plan plan = core::MakePlan(snapshot, *policy_store.current(), clock.Now());
//   log each plan.moves[i].explanation and plan.unrelieved[i].explanation;
//   if (plan.mode == core::Mode::kAutomatic) start plan.moves in order.

#include <memory>

#include "balancer/core/cluster_state.h"
#include "balancer/core/plan.h"
#include "balancer/core/policy.h"

namespace ballast::core {

// Memory MakePlan works in, for a caller that plans every round (the controller, the
// benchmarks): the per-host and per-VM working state of the plan's view (about 200 bytes a
// VM, 400 MB at 2,000,000 VMs) is then reused instead of being allocated, faulted in and
// freed each round. It carries nothing from one plan to the next: a plan made in a reused
// workspace is the plan made without one. One MakePlan at a time per workspace.
class PlanWorkspace {
 public:
  PlanWorkspace();
  ~PlanWorkspace();
  PlanWorkspace(const PlanWorkspace&) = delete;
  PlanWorkspace& operator=(const PlanWorkspace&) = delete;

  struct Storage;  // plan_context.h
  Storage& storage() { return *storage_; }

 private:
  std::unique_ptr<Storage> storage_;
};

// Runs the policy's strategies in order over one projected copy of the cluster: each
// strategy sees the moves of the ones before it, and the caps are shared. Mode kOff gives
// an empty plan. The policy should have passed ValidatePolicy.
Plan MakePlan(const ClusterState& state, const Policy& policy, TimePoint now);
// The same, working in `workspace` (kept by the caller across rounds).
Plan MakePlan(const ClusterState& state, const Policy& policy, TimePoint now,
              PlanWorkspace& workspace);

// The snapshot as if every move of the plan had completed: each VM's host changes and
// `used` shifts by the VM's usage on both hosts. For simulations and property tests.
ClusterState ApplyPlan(const ClusterState& state, const Plan& plan);

// The std-dev of weighted host load (balance.weights) over the hosts balance weighs:
// fresh, not excluded, not in maintenance. What the balance strategy minimises.
double LoadStdDev(const ClusterState& state, const Policy& policy);

}  // namespace ballast::core
