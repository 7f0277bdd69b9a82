#include "balancer/core/planner.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

#include "balancer/core/plan_context.h"
#include "balancer/core/strategies/registry.h"

namespace ballast::core {
namespace {

// The standard deviation of the weighted load over the hosts that may take VMs.
double StdDevOfTargets(const PlanContext& ctx) {
  double sum = 0;
  double sumsq = 0;
  double n = 0;
  for (const auto& [load, h] : ctx.targets_by_load()) {
    sum += load;
    sumsq += load * load;
    n += 1;
  }
  if (n == 0) return 0;
  const double mean = sum / n;
  return std::sqrt(std::max(0.0, sumsq / n - mean * mean));
}

}  // namespace

PlanWorkspace::PlanWorkspace() : storage_(std::make_unique<Storage>()) {}
PlanWorkspace::~PlanWorkspace() = default;

Plan MakePlan(const ClusterState& state, const Policy& policy, TimePoint now) {
  PlanWorkspace workspace;
  return MakePlan(state, policy, now, workspace);
}

Plan MakePlan(const ClusterState& state, const Policy& policy, TimePoint now,
              PlanWorkspace& workspace) {
  Plan plan;
  plan.mode = policy.mode;
  plan.policy_name = policy.name;
  if (policy.mode == Mode::kOff) {
    plan.load_stddev = LoadStdDev(state, policy);
    return plan;
  }
  PlanContext ctx(state, policy, now, &workspace.storage());
  plan.load_stddev = StdDevOfTargets(ctx);
  for (StrategyKind kind : policy.strategies) {
    if (const Strategy* s = FindStrategy(kind)) s->Run(ctx);
  }
  ctx.ReportRuleConflicts();
  plan.moves = std::move(ctx.moves());
  plan.unrelieved = std::move(ctx.unrelieved());
  return plan;
}

ClusterState ApplyPlan(const ClusterState& state, const Plan& plan) {
  ClusterState out = state;
  std::unordered_map<std::string_view, std::size_t> hosts;
  for (std::size_t i = 0; i < out.hosts.size(); ++i) hosts.emplace(out.hosts[i].name, i);
  std::unordered_map<std::string_view, std::size_t> vms;
  for (std::size_t i = 0; i < out.vms.size(); ++i) vms.emplace(out.vms[i].uuid, i);
  for (const Move& m : plan.moves) {
    auto v = vms.find(m.vm_uuid);
    auto from = hosts.find(m.from);
    auto to = hosts.find(m.to);
    if (v == vms.end() || from == hosts.end() || to == hosts.end()) continue;
    Vm& vm = out.vms[v->second];
    const Resources usage = vm.usage();
    for (Resource r : kAllResources) {
      out.hosts[from->second].used[r] -= usage[r];
      out.hosts[to->second].used[r] += usage[r];
    }
    vm.host = m.to;
  }
  return out;
}

double LoadStdDev(const ClusterState& state, const Policy& policy) {
  return StdDevOfTargets(PlanContext(state, policy, TimePoint{}));
}

}  // namespace ballast::core
