#include "balancer/core/rules.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "balancer/core/explain.h"
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

bool IsLiteral(std::string_view pattern) {
  return pattern.find_first_of("*?") == std::string_view::npos;
}

// Union-find over [0, n) with path halving: affinity binds transitively.
class Components {
 public:
  explicit Components(std::size_t n) : parent_(n) {
    std::iota(parent_.begin(), parent_.end(), std::size_t{0});
  }
  std::size_t Find(std::size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void Join(std::size_t a, std::size_t b) { parent_[Find(a)] = Find(b); }

 private:
  std::vector<std::size_t> parent_;
};

std::string GroupLabel(const VmGroup& g, std::string_view path, std::size_t i) {
  return "'" + g.name + "' (" + std::string(path) + "[" + std::to_string(i) + "])";
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

bool GlobsOverlap(std::string_view a, std::string_view b) {
  // Breadth-first search of the product of the two patterns' automata: state (i, j) means
  // some text has taken a to position i and b to position j. A `*` may match nothing (skip
  // it) or one more character (stay); `?` and a literal consume one character, and two
  // literals only if they are equal.
  const std::size_t n = a.size() + 1;
  const std::size_t m = b.size() + 1;
  std::vector<char> seen(n * m, 0);
  std::vector<std::pair<std::size_t, std::size_t>> todo = {{0, 0}};
  seen[0] = 1;
  auto visit = [&](std::size_t i, std::size_t j) {
    if (seen[i * m + j]) return;
    seen[i * m + j] = 1;
    todo.emplace_back(i, j);
  };
  while (!todo.empty()) {
    const auto [i, j] = todo.back();
    todo.pop_back();
    if (i == a.size() && j == b.size()) return true;
    if (i < a.size() && a[i] == '*') visit(i + 1, j);
    if (j < b.size() && b[j] == '*') visit(i, j + 1);
    if (i == a.size() || j == b.size()) continue;  // no character can be consumed by both
    const bool any_a = a[i] == '*' || a[i] == '?';
    const bool any_b = b[j] == '*' || b[j] == '?';
    if (!any_a && !any_b && a[i] != b[j]) continue;
    visit(a[i] == '*' ? i : i + 1, b[j] == '*' ? j : j + 1);
  }
  return false;
}

std::vector<PolicyIssue> RuleConflictWarnings(const Policy& policy) {
  const Rules& rules = policy.rules;
  std::vector<PolicyIssue> out;
  if (rules.affinity.empty() || rules.anti_affinity.empty()) return out;
  auto overlap = [](const VmGroup& x, const VmGroup& y) {
    for (const std::string& p : x.vms) {
      for (const std::string& q : y.vms) {
        if (GlobsOverlap(p, q)) return true;
      }
    }
    return false;
  };
  // Affinity groups that can share a VM bind their members together: one component.
  Components comp(rules.affinity.size());
  for (std::size_t i = 0; i < rules.affinity.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (overlap(rules.affinity[i], rules.affinity[j])) comp.Join(i, j);
    }
  }
  std::map<std::size_t, std::vector<std::size_t>> components;
  for (std::size_t i = 0; i < rules.affinity.size(); ++i) components[comp.Find(i)].push_back(i);

  for (std::size_t a = 0; a < rules.anti_affinity.size(); ++a) {
    const VmGroup& anti = rules.anti_affinity[a];
    for (const auto& [root, groups] : components) {
      // What both can match: a literal pattern names one VM at most; two patterns with
      // wildcards that overlap can match any number.
      std::set<std::string> names;
      std::vector<std::string> globs;
      for (std::size_t g : groups) {
        for (const std::string& p : rules.affinity[g].vms) {
          for (const std::string& q : anti.vms) {
            if (!GlobsOverlap(p, q)) continue;
            if (IsLiteral(p) || IsLiteral(q)) {
              names.insert(IsLiteral(p) ? p : q);
            } else {
              globs.push_back("'" + p + "' / '" + q + "'");
            }
          }
        }
      }
      if (globs.empty() && names.size() < 2) continue;  // one VM cannot clash with itself
      // Name every group of the component: the chain of affinity groups is the contradiction.
      std::string affinity;
      for (std::size_t k = 0; k < groups.size(); ++k) {
        if (k > 0) affinity += k + 1 == groups.size() ? " and " : ", ";
        affinity += GroupLabel(rules.affinity[groups[k]], "rules.affinity", groups[k]);
      }
      std::string matched;
      for (const std::string& name : names) matched += (matched.empty() ? "" : ", ") + name;
      for (const std::string& g : globs) {
        matched += (matched.empty() ? "VMs matching " : ", VMs matching ") + g;
      }
      out.push_back({"rules.anti_affinity[" + std::to_string(a) + "]",
                     "anti-affinity group " + GroupLabel(anti, "rules.anti_affinity", a) +
                         " contradicts affinity " + (groups.size() > 1 ? "groups " : "group ") +
                         affinity + ": both can match " + matched +
                         ", which affinity keeps on one host and anti-affinity on different "
                         "hosts; the balancer never moves VMs caught in both and reports "
                         "them in every plan (rule_conflict)"});
    }
  }
  return out;
}

void PlanContext::FindRuleConflicts() {
  const Rules& rules = policy_.rules;
  if (rules.affinity.empty() || rules.anti_affinity.empty()) return;
  // VMs linked through shared affinity groups, wherever they run now, belong on one host.
  Components comp(vms_.size());
  std::vector<int> first(rules.affinity.size(), -1);
  for (std::size_t v = 0; v < vms_.size(); ++v) {
    for (int g : extras(static_cast<int>(v)).affinity) {
      int& f = first[Idx(g)];
      if (f < 0) {
        f = static_cast<int>(v);
      } else {
        comp.Join(v, Idx(f));
      }
    }
  }
  for (std::size_t a = 0; a < rules.anti_affinity.size(); ++a) {
    std::map<std::size_t, std::vector<int>> bound;  // component -> its members of group a
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      const VmExtras& x = extras(static_cast<int>(v));
      if (x.affinity.empty()) continue;
      if (std::find(x.anti.begin(), x.anti.end(), static_cast<int>(a)) == x.anti.end()) {
        continue;
      }
      bound[comp.Find(v)].push_back(static_cast<int>(v));
    }
    for (const auto& [root, members] : bound) {
      if (members.size() < 2) continue;
      Conflict c;
      c.anti = static_cast<int>(a);
      c.vms = members;
      std::set<int> groups;
      for (std::size_t v = 0; v < vms_.size(); ++v) {
        if (comp.Find(v) != root) continue;
        const std::vector<int>& of_v = extras(static_cast<int>(v)).affinity;
        groups.insert(of_v.begin(), of_v.end());
      }
      c.affinity.assign(groups.begin(), groups.end());
      for (int v : members) vms_[Idx(v)].conflicted = true;
      conflicts_.push_back(std::move(c));
    }
  }
}

void PlanContext::ReportRuleConflicts() {
  const Rules& rules = policy_.rules;
  for (const Conflict& c : conflicts_) {
    Unrelieved u;
    u.strategy = policy_.strategies.empty() ? StrategyKind::kHotspot : policy_.strategies.front();
    const int host = vms_[Idx(c.vms.front())].host;
    bool shared = host >= 0;
    for (int v : c.vms) {
      u.vms_left.push_back(vms_[Idx(v)].vm->name);
      if (vms_[Idx(v)].host != host) shared = false;
    }
    if (shared) u.host = hosts_[Idx(host)].host->name;
    RuleConflict rc;
    for (int g : c.affinity) {
      rc.affinity.push_back(GroupLabel(rules.affinity[Idx(g)], "rules.affinity", Idx(g)));
    }
    rc.anti_affinity =
        GroupLabel(rules.anti_affinity[Idx(c.anti)], "rules.anti_affinity", Idx(c.anti));
    u.conflict = std::move(rc);
    u.main_blocker = Blocker::kRuleConflict;
    u.blockers[Blocker::kRuleConflict] = static_cast<int>(c.vms.size());
    u.explanation = ExplainUnrelieved(u);
    unrelieved_.push_back(std::move(u));
  }
}

Blocker PlanContext::CheckUnit(const Unit& unit) const {
  for (int v : unit) {
    const VmState& vs = vms_[Idx(v)];
    if (vs.host < 0) return Blocker::kNoTarget;
    if (vs.excluded) return Blocker::kExcludedVm;
    if (vs.conflicted) return Blocker::kRuleConflict;
    if (vs.must_pin >= 0) {
      // A must-pinned VM may only move between the hosts its pin lists.
      const std::vector<char>& allowed = pin_hosts_[Idx(vs.must_pin)];
      long others = std::count(allowed.begin(), allowed.end(), 1) - (allowed[Idx(vs.host)] ? 1 : 0);
      if (others <= 0) return Blocker::kPinned;
    }
    if (vs.in_flight || vs.planned) return Blocker::kInFlight;
    if (vs.reported_twice) return Blocker::kDuplicateVm;
    if (vs.failed_recently) return Blocker::kFailedRecently;
    const std::optional<TimePoint>& last_move = extras(v).last_move;
    if (last_move && now_ - *last_move < policy_.limits.vm_cooldown) {
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
    const VmExtras& x = extras(v);
    for (const auto& [left_host, when] : x.left) {
      if (left_host == target && now_ - when < policy_.limits.return_cooldown) {
        return Blocker::kReturnCooldown;
      }
    }
    if (!x.anti.empty()) {
      // Residents (those leaving still count until they have left) and arrivals alike.
      for (const std::vector<int>* list : {&ts.vms, &ts.arriving}) {
        for (int other : *list) {
          if (Intersects(x.anti, extras(other).anti)) return Blocker::kAntiAffinity;
        }
      }
    }
    memory += vs.usage.memory;
  }
  // Members of one unit already share a host, and never clash with each other: two of
  // them in one anti-affinity group would be a rule conflict, refused by CheckUnit.
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
