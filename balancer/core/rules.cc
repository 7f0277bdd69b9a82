#include "balancer/core/rules.h"

#include <algorithm>
#include <cstddef>

#include "balancer/core/plan_context.h"

namespace ballast::core {
namespace {

std::size_t Idx(int i) { return static_cast<std::size_t>(i); }

bool Intersects(const std::vector<int>& a, const std::vector<int>& b) {
  for (int x : a) {
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  }
  return false;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear in practice, no recursion.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool VmMatches(std::string_view pattern, const Vm& vm) {
  return pattern == vm.uuid || GlobMatch(pattern, vm.name);
}

Blocker PlanContext::CheckUnit(const Unit& unit) const {
  for (int v : unit) {
    const VmState& vs = vms_[Idx(v)];
    if (vs.host < 0) return Blocker::kNoTarget;
    if (vs.excluded) return Blocker::kExcludedVm;
    if (vs.must_pin >= 0) {
      // A must-pinned VM may only move between the hosts its pin lists.
      const std::vector<char>& allowed = pin_hosts_[Idx(vs.must_pin)];
      long others = std::count(allowed.begin(), allowed.end(), 1) - (allowed[Idx(vs.host)] ? 1 : 0);
      if (others <= 0) return Blocker::kPinned;
    }
    if (vs.in_flight || vs.planned) return Blocker::kInFlight;
    if (vs.last_move && now_ - *vs.last_move < policy_.limits.vm_cooldown) {
      return Blocker::kCooldown;
    }
  }
  const Limits& lim = policy_.limits;
  const int size = static_cast<int>(unit.size());
  if (size > lim.max_per_host_out || size > lim.max_per_host_in || size > lim.max_concurrent ||
      size > std::max(lim.max_moves_per_round, 1)) {
    return Blocker::kAffinityGroupTooLarge;
  }
  return Blocker::kNone;
}

Blocker PlanContext::CheckSource(int h, std::size_t unit_size, bool check_caps) const {
  const HostState& hs = hosts_[Idx(h)];
  if (hs.stale) return Blocker::kStaleSource;
  if (hs.excluded) return Blocker::kExcludedSource;
  if (!check_caps) return Blocker::kNone;
  const int n = static_cast<int>(unit_size);
  const Limits& lim = policy_.limits;
  if (planned_count() + n > lim.max_moves_per_round) return Blocker::kRoundCap;
  if (cluster_in_flight_ + planned_count() + n > lim.max_concurrent) {
    return Blocker::kClusterCap;
  }
  if (hs.out_count + n > lim.max_per_host_out) return Blocker::kHostOutCap;
  return Blocker::kNone;
}

Blocker PlanContext::CheckTarget(const Unit& unit, int target, const Resources& limit,
                                 bool check_caps) const {
  const HostState& ts = hosts_[Idx(target)];
  if (ts.stale) return Blocker::kStaleTarget;
  if (ts.excluded) return Blocker::kExcludedTarget;
  if (ts.maintenance) return Blocker::kMaintenanceTarget;
  if (!unit.empty() && vms_[Idx(unit[0])].host == target) return Blocker::kNoTarget;

  double memory = 0;
  for (int v : unit) {
    const VmState& vs = vms_[Idx(v)];
    if (vs.must_pin >= 0 && !pin_hosts_[Idx(vs.must_pin)][Idx(target)]) {
      return Blocker::kPinnedElsewhere;
    }
    for (const auto& [left_host, when] : vs.left) {
      if (left_host == target && now_ - when < policy_.limits.return_cooldown) {
        return Blocker::kReturnCooldown;
      }
    }
    if (!vs.anti.empty()) {
      // Residents (those leaving still count until they have left) and arrivals alike.
      for (const std::vector<int>* list : {&ts.vms, &ts.arriving}) {
        for (int other : *list) {
          if (Intersects(vs.anti, vms_[Idx(other)].anti)) return Blocker::kAntiAffinity;
        }
      }
    }
    memory += vs.usage.memory;
  }
  // Members of one unit already share a host; only residents of the target can clash.
  if (ts.used.memory + memory > ts.cap.memory) return Blocker::kMemoryOvercommit;

  const Resources share = Share(unit, target);
  const Resources fshare = ForecastShare(unit, target);
  for (Resource r : kAllResources) {
    const Threshold& t = policy_.threshold(r);
    if (!t.enabled || ts.cap[r] <= 0) continue;
    if (ForecastUtil(target, r) + fshare[r] > t.hot) return Blocker::kTargetWouldBeHot;
  }
  for (Resource r : kAllResources) {
    const Threshold& t = policy_.threshold(r);
    if (!t.enabled || ts.cap[r] <= 0) continue;
    double after = std::max(Util(target, r) + share[r], ForecastUtil(target, r) + fshare[r]);
    if (after > limit[r]) return Blocker::kAboveRelievedMark;
  }
  if (check_caps && ts.in_count + static_cast<int>(unit.size()) > policy_.limits.max_per_host_in) {
    return Blocker::kHostInCap;
  }
  return Blocker::kNone;
}

}  // namespace ballast::core
