#include "balancer/core/manual_move.h"

#include "balancer/core/explain.h"
#include "balancer/core/plan_context.h"

namespace ballast::core {
namespace {

ManualMoveCheck Refuse(std::string rule, bool forceable, std::string why) {
  return {false, std::move(rule), forceable, std::move(why)};
}

}  // namespace

ManualMoveCheck CheckManualMove(const ClusterState& state, const Policy& policy, TimePoint now,
                                const std::string& vm_uuid, const std::string& target) {
  PlanContext ctx(state, policy, now);
  int v = -1;
  for (std::size_t i = 0; i < ctx.vms().size(); ++i) {
    if (ctx.vms()[i].vm->uuid == vm_uuid) v = static_cast<int>(i);
  }
  if (v < 0) return Refuse("not_found", false, "no such VM in the cluster");
  const VmState& vs = ctx.vm(v);
  const std::string& name = vs.vm->name;
  auto t = ctx.FindHost(target);
  if (!t) return Refuse("not_found", false, "no host named " + target);
  if (vs.host < 0) return Refuse("no_target", false, name + " runs on a host Ballast does not see");
  if (*t == vs.host) return Refuse("already_there", false, name + " already runs on " + target);
  const Unit unit = ctx.UnitOf(v);
  if (unit.size() > 1) {
    return Refuse("affinity", true,
                  name +
                      " shares an affinity group with VMs on (or migrating to) the same host; "
                      "moving it alone would split the group");
  }
  if (Blocker b = ctx.CheckUnit(unit); b != Blocker::kNone) {
    return Refuse(std::string(BlockerName(b)), true,
                  name + " may not move now: " + std::string(BlockerName(b)));
  }
  if (Blocker b = ctx.CheckSource(vs.host, 1); b != Blocker::kNone) {
    const bool stale = b == Blocker::kStaleSource;
    return Refuse(
        std::string(BlockerName(b)), !stale,
        "its host " + ctx.host(vs.host).host->name + " refuses: " + std::string(BlockerName(b)));
  }
  // Up to full capacity: the admin chose the target; hot-after-move and memory still apply.
  const Resources full{1.0, 1.0, 1.0};
  if (Blocker b = ctx.CheckTarget(unit, *t, full); b != Blocker::kNone) {
    const bool hard = b == Blocker::kMemoryOvercommit || b == Blocker::kStaleTarget;
    return Refuse(std::string(BlockerName(b)), !hard,
                  target + " refuses " + name + ": " + std::string(BlockerName(b)));
  }
  return {true, "", false, name + " may move to " + target};
}

}  // namespace ballast::core
