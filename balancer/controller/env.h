#pragma once

// The controller's world, as small interfaces (LevelDB's Env): it reads no clock, opens no
// file or socket and starts no thread of its own. The daemon passes real implementations
// (balancer/daemon/real_env.*), the simulator simulated ones (sim/), the unit tests fakes
// (tests/balancer/controller/fake_env.h).
//
// Asynchronous answers (a migration's outcome, a hypervisor's reply) are never delivered
// from inside a call the controller makes: the driver hands them over later through
// Controller::OnMigrationResult, OnActiveJobs and OnVmProbe. So the controller is never
// re-entered and every step is one deterministic function of its inputs.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/actuator/migration_actuator.h"
#include "balancer/core/plan.h"
#include "common/status.h"

namespace ballast::controller {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time: staleness, back-off, plan intervals.
  virtual SteadyTime Steady() const = 0;
  // Wall time: journal timestamps and cooldowns (they survive a restart).
  virtual WallTime Wall() const = 0;
};

// Starts live migrations. Start returns at once; the outcome comes back through
// Controller::OnMigrationResult with the same request id, exactly once per started request.
class Actuator {
 public:
  virtual ~Actuator() = default;
  virtual Status Start(const MigrationRequest& request) = 0;
};

// Where does a VM whose migration someone else started (or a previous run of the balancer
// left unfinished) run now?
struct VmProbeRequest {
  std::string vm_uuid;
  std::string from;  // host names
  std::string to;    // may be empty when only the source is known
  std::string from_uri;
  std::string to_uri;
};

struct VmProbe {
  bool answered = false;     // false: libvirt did not answer; asked again later
  bool job_running = false;  // the migration job still runs on the source
  std::string where;         // host name where it runs ("" = on neither)
};

// Hypervisor queries for reconciliation. Each Ask returns at once; the answer comes back
// through Controller::OnActiveJobs(host, ...) or Controller::OnVmProbe(vm_uuid, ...). At most
// one question per host and one per VM is outstanding at a time (the controller waits).
class HypervisorQueries {
 public:
  virtual ~HypervisorQueries() = default;
  virtual void AskActiveJobs(const std::string& host, const std::string& uri) = 0;
  virtual void AskWhereIs(const VmProbeRequest& probe) = 0;
};

// The decision journal. Append is durable when it returns Ok (the real one fsyncs).
class DecisionJournal {
 public:
  virtual ~DecisionJournal() = default;
  virtual Status Append(nlohmann::json record, WallTime now) = 0;
};

// What an admin set and the balancer must keep across restarts.
struct PersistedState {
  std::set<std::string> maintenance;  // hosts drained
  bool paused = false;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // nullopt: nothing saved yet (first start). An error: a state exists but cannot be read.
  virtual Result<std::optional<PersistedState>> Load() = 0;
  virtual Status Save(const PersistedState& state) = 0;
};

// What the controller decided, for metrics and for the simulator's accounting. Every
// method has a no-op default.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void OnPlan(const core::Plan& /*plan*/, std::chrono::nanoseconds /*plan_time*/,
                      std::optional<std::chrono::nanoseconds> /*decision_latency*/) {}
  virtual void OnRecommended(const core::Move& /*move*/) {}
  virtual void OnSkipped(std::string_view /*code*/) {}
  // `move` is null for a manual move.
  virtual void OnMigrationStarted(const core::Move* /*move*/, const MigrationRequest& /*req*/) {}
  virtual void OnMigrationFinished(const MigrationResult& /*result*/) {}
  virtual void OnPausedChanged(bool /*paused*/) {}
  // The journal became unwritable (no move starts) or writable again.
  virtual void OnJournalHealth(bool /*writable*/) {}
  // Hosts left out of planning (their libvirt keeps failing), after each change.
  virtual void OnHostsLeftOut(std::size_t /*count*/) {}
  // Hosts whose samples claim other endpoints than the inventory's, after each change.
  virtual void OnHostClaimsMismatch(std::size_t /*count*/) {}
  // VMs flagged as reported by two hosts at once, after each change.
  virtual void OnVmConflicts(std::size_t /*count*/) {}
};

// A move start as the coordination store keeps it: the journal's migration_started record.
struct MoveIntent {
  std::string id;
  std::string vm_uuid;
  nlohmann::json record;
};

// High availability (balancer/README.md, "High availability"): several balancers ingest the
// same stream and one of them leads. Only the leader starts moves, and each start is fenced:
// a conditional write in the coordination store (etcd) that succeeds only while this
// balancer's leadership term holds, and that stores the move's intent record for the next
// leader. Absent (Env::coordinator null), the balancer is alone and every move is its own.
class Coordinator {
 public:
  virtual ~Coordinator() = default;
  // Whether this balancer leads, as last known (no I/O; may be stale, hence the fence). A
  // standby plans with its warm model but starts nothing.
  virtual bool Leading() const = 0;
  // Asks for the right to start `intent`; returns at once. The answer comes back through
  // Controller::OnMoveFenced(intent.id, status), exactly once: Ok means the intent record is
  // stored under this term and the move may start; an error means it must not.
  virtual void AcquireMove(const MoveIntent& intent) = 0;
  // The move's outcome is journaled (`outcome` is the journal's record): the intent record
  // becomes an outcome record (cooldowns for the next leader). Fire and forget.
  virtual void FinishMove(const std::string& id, const nlohmann::json& outcome) = 0;
};

// Not owned; every pointer but `observer` and `coordinator` must be set and outlive the
// controller.
struct Env {
  const Clock* clock = nullptr;
  Actuator* actuator = nullptr;
  HypervisorQueries* hypervisor = nullptr;
  DecisionJournal* journal = nullptr;
  StateStore* state = nullptr;
  Observer* observer = nullptr;        // may be null
  Coordinator* coordinator = nullptr;  // null: no high availability (a single balancer)
};

}  // namespace ballast::controller
