#pragma once

// Internal to the core: the projected cluster a plan is built on. Strategies read it and
// move units (a VM plus the affinity partners that share its host) in it; every move
// updates loads, forecasts, placement and cap counters, and can be undone (density tries
// to empty a host and backs out if it cannot).
//
// Not thread-safe; one PlanContext per MakePlan call. Borrows the ClusterState and Policy,
// which must outlive it.

#include <array>
#include <cstddef>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "balancer/core/cluster_state.h"
#include "balancer/core/name_index.h"
#include "balancer/core/plan.h"
#include "balancer/core/planner.h"
#include "balancer/core/policy.h"

namespace ballast::core {

struct HostState {
  const Host* host = nullptr;
  Resources cap;
  Resources used;      // projected; memory = max(reported, sum of VM allocations)
  Resources forecast;  // projected forecast utilisation (fraction of capacity)
  Resources peak;      // projected sum of the residents' peak_usage (absolute)
  Resources variance;  // projected sum of the residents' variance (absolute, squared)
  std::array<bool, kNumResources> hot = {false, false, false};  // detected at start
  bool stale = false;
  bool maintenance = false;  // flag or policy.drain.hosts
  bool excluded = false;
  int out_count = 0;     // in-flight + planned migrations leaving
  int in_count = 0;      // in-flight + planned migrations arriving
  std::vector<int> vms;  // projected residents (VM indices)
  // VMs in flight to this host. They still run on (and count on) their sources, but they
  // count here too in every resource and rule: the target must carry them once they land.
  std::vector<int> arriving;
};

// What few VMs have, kept apart from VmState: their rule groups and their recent moves. The
// view writes a VmState for every VM every round (2,000,000 at 100,000 hosts), and these
// lists took half of its bytes while nearly every VM has none.
struct VmExtras {
  std::optional<TimePoint> last_move;           // newest finished migration
  std::vector<std::pair<int, TimePoint>> left;  // (host it left, when), recent ones
  std::vector<int> affinity;                    // indices into policy.rules.affinity
  std::vector<int> anti;                        // indices into policy.rules.anti_affinity
};

struct VmState {
  const Vm* vm = nullptr;
  int host = -1;             // projected; -1 = its host is not in the snapshot (never moved)
  Resources usage;           // absolute: cores, bytes, bits/s
  Resources forecast_usage;  // max(now, forecast of its own history)
  Resources peak_usage;      // max(now, highest sample of its own history)
  bool excluded = false;
  // In an affinity and an anti-affinity group with another VM of both: never moved, since
  // any move would side with one rule against the other (see FindRuleConflicts).
  bool conflicted = false;
  bool in_flight = false;
  bool reported_twice = false;   // Vm::reported_twice
  bool failed_recently = false;  // Vm::failed_recently
  bool planned = false;          // already moved in this plan
  int must_pin = -1;             // index into policy.rules.pins
  int should_pin = -1;
  int extras = -1;  // index of its VmExtras (PlanContext::extras), -1: none
};

// What a PlanContext leaves behind for the next one: its containers, with their storage.
// Every element is reset before it is read again.
struct PlanWorkspace::Storage {
  std::vector<HostState> hosts;
  std::vector<VmState> vms;
  NameIndex host_index;
};

// VMs that move together: one VM and its co-located affinity partners.
using Unit = std::vector<int>;

class PlanContext {
 public:
  // With `workspace`, the context works in its containers and hands them back when done.
  PlanContext(const ClusterState& state, const Policy& policy, TimePoint now,
              PlanWorkspace::Storage* workspace = nullptr);
  ~PlanContext();
  PlanContext(const PlanContext&) = delete;
  PlanContext& operator=(const PlanContext&) = delete;

  const Policy& policy() const { return policy_; }
  TimePoint now() const { return now_; }
  const std::vector<HostState>& hosts() const { return hosts_; }
  const std::vector<VmState>& vms() const { return vms_; }
  const HostState& host(int h) const { return hosts_[static_cast<std::size_t>(h)]; }
  const VmState& vm(int v) const { return vms_[static_cast<std::size_t>(v)]; }
  // VM v's rule groups and recent moves (empty lists for most VMs).
  const VmExtras& extras(int v) const {
    const int e = vms_[static_cast<std::size_t>(v)].extras;
    return e < 0 ? kNoExtras : extras_[static_cast<std::size_t>(e)];
  }
  std::optional<int> FindHost(std::string_view name) const;

  // Utilisations (fractions of capacity), projected through the planned moves. A resource
  // whose capacity is unknown (0) reads 0; a disabled threshold is skipped by the checks.
  double Util(int h, Resource r) const;
  double ForecastUtil(int h, Resource r) const;
  // max(now, forecast): what hysteresis and target checks compare with the marks.
  double Level(int h, Resource r) const;
  // Weighted load for balance/density: sum(w_r * u_r) / sum(w_r), where u is the
  // utilisation now or its forecast, as policy.balance.load says.
  double Load(int h) const;
  double NowLoad(int h) const;       // u = Util
  double ForecastLoad(int h) const;  // u = ForecastUtil
  // Sandpiper's volume: product over enabled resources of 1 / (1 - level), level capped.
  double Volume(int h) const;
  // The unit's share of host h's capacity per resource, now and forecast.
  Resources Share(const Unit& unit, int h) const;
  Resources ForecastShare(const Unit& unit, int h) const;

  // VM v's variance over its own history window per resource (absolute units, squared);
  // all 0 unless density.effective_sigmas is set, so other policies do not pay for it.
  Resources VmVariance(int v) const;

  // True for hosts that may receive VMs: fresh, not in maintenance, not excluded.
  bool IsTargetEligible(int h) const;
  // Fresh, not excluded, and not in maintenance: the hosts balance/density weigh.
  bool IsBalanceEligible(int h) const { return IsTargetEligible(h); }

  // Eligible targets ordered by (volume, index) and by (load, index), kept current.
  const std::set<std::pair<double, int>>& targets_by_volume() const { return by_volume_; }
  // The load index catches up with the moves made since it was last read (LoadIndexCatchUp).
  const std::set<std::pair<double, int>>& targets_by_load() const {
    if (!load_pending_.empty()) LoadIndexCatchUp();
    return by_load_;
  }

  // Whether pin `pin` (an index into policy.rules.pins) lists host h.
  bool PinAllows(int pin, int h) const {
    return pin_hosts_[static_cast<std::size_t>(pin)][static_cast<std::size_t>(h)] != 0;
  }
  // True if some member of the unit has a should-pin that lists host h.
  bool PrefersHost(const Unit& unit, int h) const;

  // The VM plus affinity partners on the same host (transitively), sorted. Partners in
  // flight to that host belong too (the unit then cannot move: they are in flight), so a
  // VM is not taken away from a partner that is about to join it.
  Unit UnitOf(int v) const;

  // Hard rules (rules.cc). Each returns the first rule that refuses, or kNone.
  // The VMs themselves: exclusion, contradictory rules, must-pins with nowhere else to go,
  // in flight, cooldown.
  Blocker CheckUnit(const Unit& unit) const;
  // The source host and the caps on leaving it (skipped with check_caps = false).
  Blocker CheckSource(int h, std::size_t unit_size, bool check_caps = true) const;
  // The target: eligibility, pins, return cooldown, anti-affinity, memory, forecast hot,
  // `limit` per resource (usually the relieved marks), and the caps on arriving.
  Blocker CheckTarget(const Unit& unit, int target, const Resources& limit,
                      bool check_caps = true) const;
  // The relieved marks as a per-resource limit (density lowers it to max_utilization).
  Resources RelievedLimits() const;

  // Moves the unit to `to`, recording one Move per VM; then Annotate() gives the moves
  // since `first` (a Checkpoint()) their reason and explanation, once the caller has read
  // the levels after the move.
  void MoveUnit(const Unit& unit, int to);
  void Annotate(std::size_t first, const MoveReason& reason);
  std::size_t Checkpoint() const { return moves_.size(); }
  void RollbackTo(std::size_t checkpoint);

  // Appends one unrelieved entry per contradiction between affinity and anti-affinity
  // groups among the VMs of the snapshot (rules.cc); the planner calls it once per plan.
  void ReportRuleConflicts();

  int planned_count() const { return static_cast<int>(moves_.size()); }
  int cluster_in_flight() const { return cluster_in_flight_; }
  std::vector<Move>& moves() { return moves_; }
  std::vector<Unrelieved>& unrelieved() { return unrelieved_; }

 private:
  // sum(w_r * util(h, r)) / sum(w_r) over the weighted resources.
  double WeightedLoad(int h, double (PlanContext::*util)(int, Resource) const) const;
  // VMs bound together by affinity and kept apart by the same anti-affinity group.
  struct Conflict {
    std::vector<int> affinity;  // indices into policy.rules.affinity
    int anti = -1;              // index into policy.rules.anti_affinity
    std::vector<int> vms;       // VM indices, ascending
  };
  // Finds the conflicts and marks their VMs (rules.cc); run once VMs know their groups.
  void FindRuleConflicts();
  void ShiftUnit(const Unit& unit, int from, int to);
  VmExtras& MutableExtras(int v);
  void IndexTarget(int h);
  void UnindexTarget(int h);
  // by_load_ is brought up to date when it is read, not after every move: hotspot makes
  // thousands of moves and never reads it, and each update of a 100,000-host std::set is a
  // descent of cache misses. load_pending_ holds each host changed since the last read, with
  // the key it has in by_load_.
  void LoadIndexCatchUp() const;

  const ClusterState& state_;
  const Policy& policy_;
  TimePoint now_;
  PlanWorkspace::Storage* workspace_ = nullptr;
  double weight_sum_ = 1;
  std::vector<HostState> hosts_;
  std::vector<VmState> vms_;
  std::vector<VmExtras> extras_;
  static const VmExtras kNoExtras;
  NameIndex host_index_;
  std::vector<std::vector<char>> pin_hosts_;  // [pin][host]: host listed by the pin
  int cluster_in_flight_ = 0;
  std::set<std::pair<double, int>> by_volume_;
  mutable std::set<std::pair<double, int>> by_load_;
  mutable std::vector<std::pair<double, int>> load_pending_;  // (key in by_load_, host)
  mutable std::vector<char> load_is_pending_;                 // per host
  std::vector<Move> moves_;
  std::vector<int> move_from_;  // per recorded move: its source host (for rollback)
  std::vector<Unrelieved> unrelieved_;
  std::vector<Conflict> conflicts_;
};

}  // namespace ballast::core
