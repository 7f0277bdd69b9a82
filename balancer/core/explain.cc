#include "balancer/core/explain.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

namespace ballast::core {
namespace {

std::string Pct(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Blockers about the host or the round are stated once; the others count VMs.
bool IsHostLevel(Blocker b) {
  switch (b) {
    case Blocker::kStaleSource:
    case Blocker::kExcludedSource:
    case Blocker::kHostOutCap:
    case Blocker::kClusterCap:
    case Blocker::kRoundCap:
    case Blocker::kNoTarget:
    case Blocker::kNoMovableVm:
    case Blocker::kInsufficientGain:
      return true;
    default:
      return false;
  }
}

std::string WhyNot(const Unrelieved& u) {
  std::vector<std::pair<Blocker, int>> items(u.blockers.begin(), u.blockers.end());
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  std::size_t shown = 0;
  for (const auto& [blocker, count] : items) {
    if (shown == 3) break;
    if (!out.empty()) out += "; ";
    if (IsHostLevel(blocker)) {
      out += BlockerPhrase(blocker);
    } else {
      out += std::to_string(count) + (count == 1 ? " VM " : " VMs ");
      out += BlockerPhrase(blocker);
    }
    ++shown;
  }
  if (items.size() > shown) out += "; and " + std::to_string(items.size() - shown) + " more";
  if (out.empty()) out = std::string(BlockerPhrase(u.main_blocker));
  return out;
}

}  // namespace

std::string_view BlockerName(Blocker b) {
  switch (b) {
    case Blocker::kNone:
      return "none";
    case Blocker::kExcludedVm:
      return "excluded_vm";
    case Blocker::kPinned:
      return "pinned";
    case Blocker::kInFlight:
      return "in_flight";
    case Blocker::kDuplicateVm:
      return "duplicate_vm";
    case Blocker::kFailedRecently:
      return "failed_recently";
    case Blocker::kCooldown:
      return "cooldown";
    case Blocker::kAffinityGroupTooLarge:
      return "affinity_group_too_large";
    case Blocker::kRuleConflict:
      return "rule_conflict";
    case Blocker::kStaleSource:
      return "stale_source";
    case Blocker::kExcludedSource:
      return "excluded_source";
    case Blocker::kHostOutCap:
      return "host_out_cap";
    case Blocker::kStaleTarget:
      return "stale_target";
    case Blocker::kExcludedTarget:
      return "excluded_target";
    case Blocker::kMaintenanceTarget:
      return "maintenance_target";
    case Blocker::kPinnedElsewhere:
      return "pinned_elsewhere";
    case Blocker::kReturnCooldown:
      return "return_cooldown";
    case Blocker::kAntiAffinity:
      return "anti_affinity";
    case Blocker::kMemoryOvercommit:
      return "memory_overcommit";
    case Blocker::kTargetWouldBeHot:
      return "target_would_be_hot";
    case Blocker::kAboveRelievedMark:
      return "above_relieved_mark";
    case Blocker::kHostInCap:
      return "host_in_cap";
    case Blocker::kClusterCap:
      return "cluster_cap";
    case Blocker::kRoundCap:
      return "round_cap";
    case Blocker::kNoTarget:
      return "no_target";
    case Blocker::kNoMovableVm:
      return "no_movable_vm";
    case Blocker::kInsufficientGain:
      return "insufficient_gain";
  }
  return "unknown";
}

std::string_view BlockerPhrase(Blocker b) {
  switch (b) {
    case Blocker::kNone:
      return "no reason recorded";
    case Blocker::kExcludedVm:
      return "excluded by rules.exclude_vms";
    case Blocker::kPinned:
      return "pinned (must) to this host";
    case Blocker::kInFlight:
      return "already migrating";
    case Blocker::kDuplicateVm:
      return "reported by two hosts at once (where it runs is not known)";
    case Blocker::kFailedRecently:
      return "backed off after its migration failed moments ago";
    case Blocker::kCooldown:
      return "in cooldown after a recent move";
    case Blocker::kAffinityGroupTooLarge:
      return "in an affinity group too large to move within the caps";
    case Blocker::kRuleConflict:
      return "caught between affinity and anti-affinity rules that contradict each other";
    case Blocker::kStaleSource:
      return "its data is stale, so nothing is planned from it";
    case Blocker::kExcludedSource:
      return "the host is excluded by rules.exclude_hosts";
    case Blocker::kHostOutCap:
      return "limits.max_per_host_out reached";
    case Blocker::kStaleTarget:
      return "with only stale targets";
    case Blocker::kExcludedTarget:
      return "with only excluded targets";
    case Blocker::kMaintenanceTarget:
      return "with only targets in maintenance";
    case Blocker::kPinnedElsewhere:
      return "pinned (must) to hosts that cannot take it";
    case Blocker::kReturnCooldown:
      return "barred from returning to hosts they left recently";
    case Blocker::kAntiAffinity:
      return "kept off every fitting target by anti-affinity";
    case Blocker::kMemoryOvercommit:
      return "with no target that has enough free memory";
    case Blocker::kTargetWouldBeHot:
      return "with no target that would stay cool in the forecast";
    case Blocker::kAboveRelievedMark:
      return "with no target that stays under the relieved mark";
    case Blocker::kHostInCap:
      return "with every fitting target at limits.max_per_host_in";
    case Blocker::kClusterCap:
      return "limits.max_concurrent reached";
    case Blocker::kRoundCap:
      return "limits.max_moves_per_round reached";
    case Blocker::kNoTarget:
      return "no other host to move to";
    case Blocker::kNoMovableVm:
      return "no VM on it could help";
    case Blocker::kInsufficientGain:
      return "no move cuts the spread by balance.min_move_gain";
  }
  return "unknown reason";
}

std::string ExplainMove(const Move& m) {
  const MoveReason& r = m.reason;
  std::string head = "Move " + m.vm_name + " from " + m.from + " to " + m.to + ": ";
  const std::string res(ResourceName(r.resource));
  switch (r.strategy) {
    case StrategyKind::kHotspot:
      // A second move off the same host starts from the level the first one left; say both,
      // or "83.6% above the hot mark 90.0%" reads as nonsense.
      return head + m.from + " is hot on " + res + " (" +
             Pct(std::max(r.detected, r.source_before)) + " above the hot mark " + Pct(r.mark) +
             (r.detected > r.source_before + 0.0005
                  ? "; " + Pct(r.source_before) + " after the moves planned before this one"
                  : "") +
             "); " + m.vm_name + " has the best volume-to-size ratio (" + Fixed(r.score, 2) +
             " per GiB) among "
             "movable VMs, and moving it takes " +
             m.from + " to " + Pct(r.source_after) + " while " + m.to + " goes from " +
             Pct(r.target_before) + " to " + Pct(r.target_after) + ", within its limit " +
             Pct(r.target_limit) + ".";
    case StrategyKind::kBalance:
      return head + "evens out host load: the spread of host load falls by " + Fixed(r.score, 3) +
             " (>= min_move_gain " + Fixed(r.mark, 3) + "), the std-dev from " +
             Fixed(r.stddev_before, 3) + " to " + Fixed(r.stddev_after, 3) + "; load on " + m.from +
             " goes from " + Pct(r.source_before) + " to " + Pct(r.source_after) + ", on " + m.to +
             " from " + Pct(r.target_before) + " to " + Pct(r.target_after) + ".";
    case StrategyKind::kDensity:
      return head + "consolidates load so " + m.from + " (load " + Pct(r.source_before) +
             ") can be emptied; " + m.to + " goes from " + Pct(r.target_before) + " to " +
             Pct(r.target_after) + " load, within the density limit " + Pct(r.target_limit) + ".";
    case StrategyKind::kDrain:
      return head + m.from + " is in maintenance and is being drained; " + m.to +
             " has the most headroom that fits and goes from " + Pct(r.target_before) + " to " +
             Pct(r.target_after) + " " + res + ".";
  }
  return head + "planned.";
}

std::string ExplainUnrelieved(const Unrelieved& u) {
  if (u.conflict) {
    // Name every VM and group: the admin has to change the policy, and needs to know where.
    std::string vms;
    for (std::size_t i = 0; i < u.vms_left.size(); ++i) {
      if (i > 0) vms += i + 1 == u.vms_left.size() ? " and " : ", ";
      vms += u.vms_left[i];
    }
    std::string groups;
    const std::vector<std::string>& aff = u.conflict->affinity;
    for (std::size_t i = 0; i < aff.size(); ++i) {
      if (i > 0) groups += i + 1 == aff.size() ? " and " : ", ";
      groups += aff[i];
    }
    return "Rules contradict each other: " + vms + " are bound to one host by affinity " +
           (aff.size() == 1 ? "group " : "groups ") + groups +
           " and kept apart by anti-affinity group " + u.conflict->anti_affinity +
           (u.host.empty() ? "" : " (they share " + u.host + ")") +
           "; none of them is moved until the policy settles it (ballastctl policy check).";
  }
  const std::string why = WhyNot(u);
  switch (u.strategy) {
    case StrategyKind::kHotspot: {
      std::string res = u.resource ? std::string(ResourceName(*u.resource)) : "?";
      return u.host + " is hot on " + res + " and stays at " + Pct(u.level) +
             ", above the relieved mark " + Pct(u.mark) + "; why not: " + why + ".";
    }
    case StrategyKind::kDrain:
      return u.host + " is not fully drained (" + std::to_string(u.vms_left.size()) +
             (u.vms_left.size() == 1 ? " VM" : " VMs") + " left); why not: " + why + ".";
    case StrategyKind::kBalance:
      return "Host load stays uneven (std-dev " + Fixed(u.level, 3) + " above the tolerance " +
             Fixed(u.mark, 3) + "); why not: " + why + ".";
    case StrategyKind::kDensity:
      return "No host could be emptied this round; why not: " + why + ".";
  }
  return why;
}

std::string FormatPlan(const Plan& plan) {
  std::string out = "plan policy=" + plan.policy_name +
                    " mode=" + std::string(ModeName(plan.mode)) +
                    " moves=" + std::to_string(plan.moves.size()) +
                    " unrelieved=" + std::to_string(plan.unrelieved.size()) + "\n";
  for (const Move& m : plan.moves) {
    const MoveReason& r = m.reason;
    out += "move vm=" + m.vm_name + " uuid=" + m.vm_uuid + " from=" + m.from + " to=" + m.to +
           " strategy=" + std::string(StrategyName(r.strategy)) +
           " resource=" + std::string(ResourceName(r.resource)) +
           " source=" + Fixed(r.source_before, 4) + "->" + Fixed(r.source_after, 4) +
           " target=" + Fixed(r.target_before, 4) + "->" + Fixed(r.target_after, 4) +
           " mark=" + Fixed(r.mark, 4) + " limit=" + Fixed(r.target_limit, 4) +
           " score=" + Fixed(r.score, 4) + "\n  " + m.explanation + "\n";
  }
  for (const Unrelieved& u : plan.unrelieved) {
    out += "unrelieved strategy=" + std::string(StrategyName(u.strategy)) +
           " host=" + (u.host.empty() ? "-" : u.host) +
           " resource=" + (u.resource ? std::string(ResourceName(*u.resource)) : "-") +
           " level=" + Fixed(u.level, 4) + " mark=" + Fixed(u.mark, 4) +
           " main=" + std::string(BlockerName(u.main_blocker)) + " blockers=";
    bool first = true;
    for (const auto& [b, n] : u.blockers) {
      out += (first ? "" : ",") + std::string(BlockerName(b)) + ":" + std::to_string(n);
      first = false;
    }
    if (!u.vms_left.empty()) {
      out += " vms_left=";
      for (std::size_t i = 0; i < u.vms_left.size(); ++i) {
        out += (i ? "," : "") + u.vms_left[i];
      }
    }
    if (u.conflict) {
      out += " conflict=";
      for (const std::string& g : u.conflict->affinity) out += g + "+";
      out += u.conflict->anti_affinity;
    }
    out += "\n  " + u.explanation + "\n";
  }
  return out;
}

}  // namespace ballast::core
