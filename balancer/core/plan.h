#pragma once

// The decision core's output: an ordered list of migrations, each with a structured reason
// and one human sentence, plus the hotspots and drains it could not resolve, and why not.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/core/policy.h"
#include "balancer/core/resources.h"

namespace ballast::core {

// Why a candidate move (a VM, a target) was refused. Ordered roughly as the checks run.
enum class Blocker {
  kNone = 0,
  // The VM itself.
  kExcludedVm,             // rules.exclude_vms
  kPinned,                 // rules.pins (must): it may not leave / go there
  kInFlight,               // a migration of it is under way
  kDuplicateVm,            // two hosts report it at once: where it runs is not known
  kFailedRecently,         // its last migration failed moments ago (the controller backs off)
  kCooldown,               // moved less than limits.vm_cooldown ago
  kAffinityGroupTooLarge,  // its affinity group cannot move together within the caps
  kRuleConflict,           // it and another VM are bound together by affinity and kept
                           // apart by anti-affinity: the rules contradict each other
  // The source host.
  kStaleSource,     // no fresh data: never planned from
  kExcludedSource,  // rules.exclude_hosts
  kHostOutCap,      // limits.max_per_host_out reached
  // The target host.
  kStaleTarget,
  kExcludedTarget,
  kMaintenanceTarget,
  kPinnedElsewhere,  // a must-pin names other hosts
  kReturnCooldown,   // the VM left this host less than limits.return_cooldown ago
  kAntiAffinity,     // would put two members of an anti-affinity group together
  kMemoryOvercommit,
  kTargetWouldBeHot,   // the target's forecast after the move is above the hot mark
  kAboveRelievedMark,  // the target would end above the relieved mark (or density cap)
  kHostInCap,          // limits.max_per_host_in reached
  // The cluster / round.
  kClusterCap,  // limits.max_concurrent reached
  kRoundCap,    // limits.max_moves_per_round reached
  // Strategy-level outcomes.
  kNoTarget,          // no host at all to consider (e.g. a one-host cluster)
  kNoMovableVm,       // the host runs no VM that could move
  kInsufficientGain,  // balance: no move cuts the spread by min_move_gain
};

// "excluded_vm", "cooldown", ...: stable identifiers for machine-readable output.
std::string_view BlockerName(Blocker b);

// Why a move was planned. Levels are utilisations (fractions of capacity) of `resource`;
// for balance and density they are weighted host loads instead.
struct MoveReason {
  StrategyKind strategy = StrategyKind::kHotspot;
  Resource resource = Resource::kCpu;  // hotspot: the hot resource that triggered it
  double source_before = 0;            // just before this move (after moves planned before it)
  double source_after = 0;
  double detected = 0;  // hotspot: the hot resource's level when the plan began
  double target_before = 0;
  double target_after = 0;
  double mark = 0;           // hotspot: the hot mark crossed; balance: min_move_gain
  double target_limit = 0;   // the level the target had to stay at or under
  double score = 0;          // hotspot: volume-to-size ratio (per GiB); balance: cut in the spread
  double stddev_before = 0;  // balance only
  double stddev_after = 0;   // balance only
};

struct Move {
  std::string vm_uuid;
  std::string vm_name;
  std::string from;
  std::string to;
  MoveReason reason;
  std::string explanation;  // one human sentence
};

// Affinity and anti-affinity groups that contradict each other, each as "'name'
// (rules.affinity[i])": the affinity groups bind the VMs to one host, the anti-affinity
// group keeps them apart.
struct RuleConflict {
  std::vector<std::string> affinity;
  std::string anti_affinity;
};

// A hotspot left hot, a drain left unfinished, (balance) an imbalance left as is, or rules
// that contradict each other (main_blocker kRuleConflict, `conflict` set, `vms_left` the
// VMs caught in both, `host` the one they share if they share one). A conflict is the
// policy's, not a strategy's: it is reported once per plan, under the policy's first
// strategy, whether or not a strategy wanted to move the VMs.
struct Unrelieved {
  StrategyKind strategy = StrategyKind::kHotspot;
  std::string host;                       // empty for cluster-wide (balance)
  std::optional<Resource> resource;       // hotspot: the hot resource
  double level = 0;                       // utilisation (or std-dev for balance) left
  double mark = 0;                        // hotspot: the relieved mark; balance: the tolerance
  std::vector<std::string> vms_left;      // drain: VMs still on the host; conflict: its VMs
  Blocker main_blocker = Blocker::kNone;  // the most common reason
  std::map<Blocker, int> blockers;        // how many candidates each reason refused
  std::string explanation;                // one human sentence
  std::optional<RuleConflict> conflict;   // main_blocker kRuleConflict only
};

struct Plan {
  Mode mode = Mode::kRecommend;  // the daemon executes only in kAutomatic
  std::string policy_name;
  std::vector<Move> moves;  // in execution order
  std::vector<Unrelieved> unrelieved;
  // LoadStdDev of the state the plan started from (the cluster's imbalance before its moves),
  // measured on the plan's own view so that a round need not build a second one.
  double load_stddev = 0;
};

}  // namespace ballast::core
