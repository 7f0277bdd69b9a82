#pragma once

// The part of the balancer that decides what really happens. It owns the cluster model (fed
// with decoded samples), builds the decision core's snapshot, plans at the policy's interval,
// admits or skips each planned move (mode, pause, back-off, the journal first), starts moves,
// handles their outcomes (cooldowns, pair back-off, failed-VM memory) and reconciles with the
// hypervisors (after a restart: migrations left in the journal; on every new host: jobs that
// are not ours).
//
// It has no threads, no sleeps and no clock of its own: it is driven by calls (a sample
// arrived, time advanced, an outcome or a hypervisor answer arrived) and reaches the world
// only through its Env (env.h). The daemon (balancer/daemon), the simulator (sim/) and the
// unit tests (tests/balancer/controller) drive this same object.
//
// Not thread-safe: one driver thread calls it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "balancer/controller/env.h"
#include "balancer/controller/host_inventory.h"
#include "balancer/core/cluster_state.h"
#include "balancer/core/manual_move.h"
#include "balancer/core/plan.h"
#include "balancer/core/planner.h"
#include "balancer/core/policy.h"
#include "balancer/model/cluster_model.h"
#include "common/log.h"
#include "common/sample.h"

namespace ballast::controller {

struct ControllerOptions {
  ModelOptions model;
  // No plan before this long after Start(): collectors report first.
  std::chrono::nanoseconds startup_grace = std::chrono::seconds(3);
  // A host whose libvirt has not said within this long whether a migration job runs there
  // is planned anyway (libvirt refuses a second job on a domain, so no duplicate can start).
  std::chrono::nanoseconds reconcile_wait = std::chrono::seconds(15);
  // After a hypervisor query failed, ask again after this long.
  std::chrono::nanoseconds query_retry = std::chrono::seconds(1);
  // The actuator moves nothing (actuator: dry-run): outcomes are journaled with
  // "dry_run": true, and a restart does not take them for real moves.
  bool dry_run = false;
  // A host silent this long is retired: forgotten with its VMs (journaled host_retired); it
  // joins again like a new host if it reports later. Zero: never.
  std::chrono::nanoseconds retire_after = std::chrono::hours(1);
  // While the journal cannot be written no move starts; a write is tried again this often.
  std::chrono::nanoseconds journal_retry = std::chrono::seconds(1);
  // Failed migrations back off per (from, to) pair: first by the policy's failure_backoff,
  // doubling, at most this long.
  std::chrono::seconds max_backoff{1800};
  // Where the balancer connects and sends migration traffic, per host (host_inventory.h).
  // Empty (the default): every host is flagged and nothing moves. A host whose samples claim
  // other endpoints than its entry (or that has none) is neither source nor target.
  HostInventory inventory;
  // A VM that two fresh hosts report at once, outside any migration the controller knows of,
  // is never moved; it is flagged as a conflict (log, journal, observer) once that lasted
  // this long (a migration someone else started, or the last samples of a source just after
  // a move, look the same for a moment).
  std::chrono::nanoseconds duplicate_vm_grace = std::chrono::seconds(30);
};

// A host whose samples claim endpoints other than its inventory entry, or that has none.
struct ClaimsMismatch {
  std::string reason;  // "not_in_inventory", "libvirt_uri", "migration_address"
  // What the sample claimed, bounded and escaped (BoundedForLog): safe to log and show.
  std::string claimed_uri;
  std::string claimed_migration_address;
  SteadyTime since{};
  bool announced = false;  // logged and journaled (a flapping host is rate-limited)
};

// A VM UUID that two or more fresh hosts list in their latest samples.
struct DuplicateVm {
  std::string vm_name;          // bounded (BoundedForLog)
  std::set<std::string> hosts;  // that list it now
  SteadyTime since{};
  bool flagged = false;  // lasted duplicate_vm_grace: logged, journaled, counted
};

// A migration this controller started and whose outcome has not come back yet.
struct OwnMigration {
  MigrationRequest request;
  SteadyTime started{};
};

// A migration someone else started (found running on a hypervisor), or one a previous run of
// the balancer left in the journal without an outcome: never duplicated, watched until it
// ends.
struct ExternalMigration {
  std::string id;  // journal id, if it was ours
  std::string vm_uuid;
  std::string vm_name;
  std::string from;
  std::string to;  // may be empty when only the source is known
  std::string from_uri;
  std::string to_uri;
  // Bookkeeping: when the controller began to watch it, when it last asked where the VM is,
  // and whether it gave up waiting for an answer before planning (reconcile_wait).
  SteadyTime since{};
  SteadyTime asked{};
  bool overdue = false;
  bool adopted = false;  // from the coordinator's intent records at a takeover
};

// The result of a manual move request (ballastctl migrate).
struct ManualMoveResult {
  bool started = false;
  core::ManualMoveCheck check;
  MigrationRequest request;  // when started
  std::string explanation;
  std::string error_code;  // not started: "not_found", "unavailable", "refused"
  std::string error;
};

class Controller {
 public:
  Controller(ControllerOptions options, Env env, std::shared_ptr<const core::Policy> policy);
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Before Start, each of the journal's migration records, oldest first (others may be
  // passed too and are ignored): cooldowns and unfinished migrations are rebuilt from them.
  // Streamed one at a time, so that start-up holds only what it keeps, not the journal.
  void ReplayJournalRecord(const nlohmann::json& record);
  // Once, before anything else but the replay: restores drain and pause from the state store
  // (an unreadable state means paused, with an error logged and journaled) and takes over
  // the replay's unfinished migrations.
  void Start();
  // Replays `journal_records` (oldest first), then starts.
  void Start(const std::vector<nlohmann::json>& journal_records);

  // The policy in force from now on (a reload); the last good one stays otherwise.
  void SetPolicy(std::shared_ptr<const core::Policy> policy);

  // A decoded, validated sample arrived now.
  void OnSample(const HostSample& sample);

  // Time advanced: staleness, reconciliation questions, and, when due, a plan and its moves.
  void Tick();

  // Answers to what the controller started or asked.
  void OnMigrationResult(const MigrationResult& result);
  void OnActiveJobs(const std::string& host, const Result<std::vector<ActiveJob>>& jobs);
  void OnVmProbe(const std::string& vm_uuid, const VmProbe& probe);
  // The coordinator's answer to AcquireMove (env.h): Ok starts the move (journal first),
  // an error starts nothing (journaled move_fenced).
  void OnMoveFenced(const std::string& id, const Status& fence);

  // High availability: this balancer has just become the leader. `state` is the drain and
  // pause state the coordination store holds (nullopt: none stored), `intents` its move
  // records (migration_started ones not finished: reconciled with libvirt before the next
  // plan, never repeated; finished ones: cooldowns). Call before Coordinator::Leading()
  // turns true.
  void TakeOver(const std::optional<PersistedState>& state,
                const std::vector<nlohmann::json>& intents);

  // Admin verbs. Return whether anything changed.
  Result<bool> SetMaintenance(const std::string& host, bool drain, const std::string& admin);
  bool SetPaused(bool paused, const std::string& reason, const std::string& admin);
  ManualMoveResult StartManualMove(const std::string& vm_uuid, const std::string& to_host,
                                   bool force, const std::string& admin);

  // Journals a record. When the journal cannot take it, it is kept and written (in order)
  // once the journal can; the error is returned all the same. For the driver's own events
  // (start, stop, policy reloads), so that the journal-health logic sees every write.
  Status Record(nlohmann::json record);

  // --- views ---------------------------------------------------------------------------
  const ClusterModel& model() const { return model_; }
  const std::shared_ptr<const core::Policy>& policy() const { return policy_; }
  core::ClusterState Snapshot() const;
  // Snapshot() written over `state` (see BuildClusterStateInto): PlanRound keeps one.
  void SnapshotInto(core::ClusterState& state) const;
  // What `policy` would plan now; moves nothing.
  core::Plan PlanNow(const core::Policy& policy) const;
  const core::Plan& last_plan() const { return last_plan_; }
  std::uint64_t plans() const { return plans_; }
  double imbalance() const { return imbalance_; }
  bool paused() const { return paused_; }
  const std::set<std::string>& maintenance() const { return maintenance_; }
  const std::map<std::string, OwnMigration>& in_flight() const { return own_; }  // by VM UUID
  const std::map<std::string, ExternalMigration>& external() const { return external_; }
  bool InFlight(const std::string& vm_uuid) const {
    return own_.count(vm_uuid) != 0 || external_.count(vm_uuid) != 0 ||
           fencing_.count(vm_uuid) != 0;
  }
  // Moves waiting for the coordinator's fence (high availability), by VM UUID.
  std::size_t fencing() const { return fencing_.size(); }
  const std::vector<core::FinishedMigration>& recent() const { return recent_; }
  // Hosts left out of planning because their libvirt cannot be reached (journaled).
  const std::set<std::string>& left_out() const { return left_out_; }
  // Hosts whose samples claim other endpoints than the inventory's: neither source nor
  // target until they match again (journaled).
  const std::map<std::string, ClaimsMismatch>& claims_mismatch() const { return claims_mismatch_; }
  // VMs reported by two hosts at once (by UUID): never moved; `flagged` once it lasted.
  const std::map<std::string, DuplicateVm>& duplicate_vms() const { return duplicates_; }
  std::size_t vm_conflicts() const;
  // The endpoints the controller uses for `host`: the inventory's (or, when it trusts the
  // collectors' claims, the host's latest sample's). nullopt: none.
  std::optional<HostEndpoints> EndpointsOf(const std::string& host) const;
  // Ready to plan: every fresh host has been checked for running jobs (or left out, when its
  // libvirt kept failing for reconcile_wait), and every migration a previous run left
  // unfinished is resolved.
  bool Reconciled() const;
  // False while the journal cannot be written: the controller plans but starts nothing
  // (recommend only) until a write succeeds again.
  bool journal_ok() const { return journal_ok_; }

 private:
  struct Backoff {
    SteadyTime until{};
    std::chrono::seconds delay{0};
    std::string last_error;
  };
  struct HostQuery {
    bool outstanding = false;
    SteadyTime first_asked{};
    SteadyTime retry_at{};
    bool warned = false;
  };

  void AdoptJournalLeftovers();
  void AskNewHosts(SteadyTime now);
  void WatchExternal();
  // False when it could not plan (no hosts yet, or not reconciled).
  bool PlanRound(SteadyTime now);
  void JournalPlanChanges(const core::Plan& plan);
  void StartMove(const core::Move& m);
  MigrationRequest RequestFor(const std::string& uuid, const std::string& name,
                              const HostView& from, const HostView& to);
  // Journals the start (durable before the move begins: a crash right after leaves a record
  // to reconcile), then hands the request to the actuator. Nothing starts when the journal
  // cannot take the record.
  // With a coordinator (high availability) the fence comes first: the move waits in
  // fencing_ for OnMoveFenced, which then calls LaunchNow.
  Status Launch(const MigrationRequest& req, nlohmann::json j, const core::Move* move);
  Status LaunchNow(const MigrationRequest& req, nlohmann::json j, const core::Move* move);
  void FinishIntent(const std::string& id, const nlohmann::json& outcome);
  void AfterMove(const std::string& uuid, const std::string& from, const std::string& to);
  void Prune(WallTime now);
  void RetireSilentHosts(SteadyTime now);
  // After each sample: does it claim the inventory's endpoints? Flags and unflags the host.
  void CheckClaims(const HostSample& sample, SteadyTime now);
  // After each sample: VMs another fresh host lists too (`cross_`), and duplicates this host
  // no longer lists.
  void TrackDuplicates(const HostSample& sample, SteadyTime now);
  // Time: duplicates that lasted are flagged; stale hosts drop out of them.
  void ReviewDuplicates(SteadyTime now);
  void DropFromDuplicates(const std::string& host);
  std::string UriOf(const std::string& host) const;
  // --- journal health: while it cannot be written, records wait in `unwritten_` (in order)
  // and no move starts; a write is retried every journal_retry.
  Status Record(nlohmann::json record, bool keep_if_unwritten);
  void Keep(nlohmann::json record, WallTime at);
  bool FlushUnwritten();
  void JournalDown(const Status& st);
  void JournalUp(bool write_resumed);
  nlohmann::json ResumedRecord(SteadyTime now) const;
  void RetryJournal(SteadyTime now);
  void SaveState();
  long long NowMs() const;

  ControllerOptions options_;
  Env env_;
  std::shared_ptr<const core::Policy> policy_;
  ClusterModel model_;
  SteadyTime next_plan_{};
  SteadyTime next_retire_check_{};  // RetireSilentHosts walks the hosts at most once a second
  bool started_ = false;
  std::set<std::string> maintenance_;
  bool paused_ = false;
  double imbalance_ = 0;
  // The planning round's snapshot, kept between rounds for its storage (not its contents).
  core::ClusterState round_state_;
  // The plan's working memory, likewise (about 200 bytes a VM).
  core::PlanWorkspace plan_workspace_;
  std::vector<core::FinishedMigration> recent_;
  // The replay's migrations started but not finished, by id, until Start adopts them.
  std::map<std::string, nlohmann::json> journal_open_;
  std::map<std::string, OwnMigration> own_;            // by VM UUID
  std::map<std::string, ExternalMigration> external_;  // by VM UUID
  struct Fencing {
    MigrationRequest request;
    nlohmann::json record;           // migration_started, journaled once the fence holds
    std::optional<core::Move> move;  // nullopt: a manual move
  };
  std::map<std::string, Fencing> fencing_;    // by VM UUID
  std::set<std::string> probes_outstanding_;  // VM UUIDs asked about
  std::set<std::string> reconciled_hosts_;
  // Hosts whose libvirt kept failing for reconcile_wait: neither source nor target.
  std::set<std::string> left_out_;
  std::map<std::string, HostQuery> host_queries_;
  std::map<std::string, ClaimsMismatch> claims_mismatch_;
  LogLimiter claims_log_{std::chrono::seconds(10)};  // per host: a flapping claim
  std::map<std::string, DuplicateVm> duplicates_;    // by VM UUID
  std::vector<ClusterModel::CrossReport> cross_;     // reused by OnSample
  std::map<std::pair<std::string, std::string>, Backoff> pair_backoff_;
  std::map<std::string, SteadyTime> failed_vms_;
  std::set<std::string> last_keys_;
  std::set<std::string> skip_keys_;       // this round's skipped moves
  std::set<std::string> prev_skip_keys_;  // the last round's
  core::Plan last_plan_;
  std::uint64_t plans_ = 0;
  bool said_reconciling_ = false;
  std::uint64_t next_id_ = 1;
  static constexpr std::size_t kMaxUnwritten = 10000;
  bool journal_ok_ = true;
  std::deque<std::pair<nlohmann::json, WallTime>> unwritten_;
  std::uint64_t unwritten_dropped_ = 0;
  SteadyTime journal_down_since_{};
  SteadyTime journal_retry_at_{};
};

// The journal's JSON for a planned move and an unrelieved situation (also ballastctl's).
nlohmann::json MoveJson(const core::Move& m);
nlohmann::json UnrelievedJson(const core::Unrelieved& u);

}  // namespace ballast::controller
