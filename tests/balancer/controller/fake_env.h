#pragma once

// One fake per interface of balancer/controller/env.h, for the controller's unit tests.
// Nothing here reads a clock, sleeps or starts a thread: time moves when a test advances the
// FakeClock, and every asynchronous answer (an outcome, a hypervisor reply) is recorded here
// and delivered by the test itself through the Controller's On* calls, never from inside a
// call the controller makes (env.h's contract).

#include <chrono>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "balancer/actuator/migration_actuator.h"
#include "balancer/controller/env.h"
#include "balancer/core/plan.h"
#include "common/status.h"

namespace ballast::controller::fake {

// Both clocks move together, and only when Advance is called.
class FakeClock : public Clock {
 public:
  // Arbitrary but fixed origins: steady 1000 s (never the epoch, which the controller uses
  // as "never asked"), wall 2023-11-14T22:13:20Z.
  FakeClock() : steady_(std::chrono::seconds(1000)), wall_(std::chrono::seconds(1'700'000'000)) {}

  SteadyTime Steady() const override { return steady_; }
  WallTime Wall() const override { return wall_; }

  void Advance(std::chrono::nanoseconds d) {
    steady_ += d;
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  }

 private:
  SteadyTime steady_;
  WallTime wall_;
};

// The decision journal in memory. Append keeps the record (with the time it was given) or,
// when told to fail, keeps nothing and returns Unavailable.
class MemoryJournal : public DecisionJournal {
 public:
  Status Append(nlohmann::json record, WallTime now) override {
    if (fail_) {
      ++failed_appends_;
      return Status::Unavailable("journal: disk full (injected)");
    }
    record["at_wall_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    records_.push_back(std::move(record));
    return Status::Ok();
  }

  void set_fail(bool fail) { fail_ = fail; }
  int failed_appends() const { return failed_appends_; }
  const std::vector<nlohmann::json>& records() const { return records_; }
  std::size_t size() const { return records_.size(); }

  // The records whose "event" is `event`, oldest first.
  std::vector<nlohmann::json> Events(std::string_view event) const {
    std::vector<nlohmann::json> out;
    for (const auto& r : records_) {
      if (r.value("event", "") == event) out.push_back(r);
    }
    return out;
  }
  int Count(std::string_view event) const { return static_cast<int>(Events(event).size()); }
  // The sequence of events, for order checks.
  std::vector<std::string> EventNames() const {
    std::vector<std::string> out;
    for (const auto& r : records_) out.push_back(r.value("event", ""));
    return out;
  }

 private:
  bool fail_ = false;
  int failed_appends_ = 0;
  std::vector<nlohmann::json> records_;
};

// Records every Start, with how many journal records existed at that moment (so a test can
// prove that the migration_started record came first). Outcomes are delivered by the test
// through Controller::OnMigrationResult; Outcome() builds one from a recorded request.
class ScriptedActuator : public Actuator {
 public:
  struct Started {
    MigrationRequest request;
    std::size_t journal_records = 0;     // journal size when Start was called
    nlohmann::json last_journal_record;  // the newest record at that moment (null if none)
  };

  explicit ScriptedActuator(const MemoryJournal* journal) : journal_(journal) {}

  Status Start(const MigrationRequest& request) override {
    ++calls_;
    if (refuse_) return Status::FailedPrecondition("actuator refuses (injected)");
    Started s;
    s.request = request;
    s.journal_records = journal_->size();
    if (!journal_->records().empty()) s.last_journal_record = journal_->records().back();
    started_.push_back(std::move(s));
    return Status::Ok();
  }

  void set_refuse(bool refuse) { refuse_ = refuse; }
  int calls() const { return calls_; }  // refused ones included
  const std::vector<Started>& started() const { return started_; }
  int StartsOf(const std::string& vm_uuid) const {
    int n = 0;
    for (const auto& s : started_) n += s.request.vm_uuid == vm_uuid ? 1 : 0;
    return n;
  }

  // The outcome of started request `i`, as an actuator would report it.
  MigrationResult Outcome(std::size_t i, MigrationOutcome outcome, std::string error = "") const {
    MigrationResult r;
    r.request = started_.at(i).request;
    r.outcome = outcome;
    r.error = std::move(error);
    r.vm_on = outcome == MigrationOutcome::kSucceeded ? r.request.to_host : r.request.from_host;
    r.duration = std::chrono::milliseconds(1500);
    r.bytes = 256ull << 20;
    return r;
  }

 private:
  const MemoryJournal* journal_;
  bool refuse_ = false;
  int calls_ = 0;
  std::vector<Started> started_;
};

// Records the questions; the test answers later through Controller::OnActiveJobs and
// Controller::OnVmProbe. TakeJobQuestions hands over (and forgets) the questions not yet
// taken, so a test answers each exactly once.
class ScriptedHypervisor : public HypervisorQueries {
 public:
  struct JobQuestion {
    std::string host;
    std::string uri;
  };

  void AskActiveJobs(const std::string& host, const std::string& uri) override {
    job_questions_.push_back({host, uri});
    pending_jobs_.push_back({host, uri});
  }
  void AskWhereIs(const VmProbeRequest& probe) override {
    probes_.push_back(probe);
    pending_probes_.push_back(probe);
  }

  std::vector<JobQuestion> TakeJobQuestions() { return std::exchange(pending_jobs_, {}); }
  std::vector<VmProbeRequest> TakeProbes() { return std::exchange(pending_probes_, {}); }

  // Every question ever asked, oldest first.
  const std::vector<JobQuestion>& job_questions() const { return job_questions_; }
  const std::vector<VmProbeRequest>& probes() const { return probes_; }
  int JobQuestionsFor(const std::string& host) const {
    int n = 0;
    for (const auto& q : job_questions_) n += q.host == host ? 1 : 0;
    return n;
  }
  int ProbesFor(const std::string& vm_uuid) const {
    int n = 0;
    for (const auto& p : probes_) n += p.vm_uuid == vm_uuid ? 1 : 0;
    return n;
  }

 private:
  std::vector<JobQuestion> job_questions_;
  std::vector<JobQuestion> pending_jobs_;
  std::vector<VmProbeRequest> probes_;
  std::vector<VmProbeRequest> pending_probes_;
};

// The drain/pause state in memory: holds a state (or none: a first start), or fails Load as
// an unreadable file would.
class MemoryStateStore : public StateStore {
 public:
  Result<std::optional<PersistedState>> Load() override {
    if (fail_load_) return Status::InvalidArgument("state.json:1:1: not JSON (injected)");
    return state_;
  }
  Status Save(const PersistedState& state) override {
    ++saves_;
    state_ = state;
    return Status::Ok();
  }

  void set_state(PersistedState state) { state_ = std::move(state); }
  void set_fail_load(bool fail) { fail_load_ = fail; }
  const std::optional<PersistedState>& state() const { return state_; }
  int saves() const { return saves_; }

 private:
  std::optional<PersistedState> state_;
  bool fail_load_ = false;
  int saves_ = 0;
};

// Counts what the controller reports.
class CountingObserver : public Observer {
 public:
  void OnPlan(const core::Plan& /*plan*/, std::chrono::nanoseconds /*plan_time*/,
              std::optional<std::chrono::nanoseconds> /*decision_latency*/) override {
    ++plans;
  }
  void OnRecommended(const core::Move& /*move*/) override { ++recommended; }
  void OnSkipped(std::string_view code) override { ++skipped[std::string(code)]; }
  void OnMigrationStarted(const core::Move* move, const MigrationRequest& /*req*/) override {
    ++started;
    if (move == nullptr) ++manual_started;
  }
  void OnMigrationFinished(const MigrationResult& /*result*/) override { ++finished; }
  void OnPausedChanged(bool paused) override { paused_changes.push_back(paused); }
  void OnJournalHealth(bool writable) override { journal_health.push_back(writable); }
  void OnHostsLeftOut(std::size_t n) override { left_out = static_cast<int>(n); }
  void OnHostClaimsMismatch(std::size_t n) override { claims_mismatch = static_cast<int>(n); }
  void OnVmConflicts(std::size_t n) override { vm_conflicts = static_cast<int>(n); }

  int Skipped(const std::string& code) const {
    auto it = skipped.find(code);
    return it == skipped.end() ? 0 : it->second;
  }

  int plans = 0;
  int recommended = 0;
  int started = 0;
  int manual_started = 0;
  int finished = 0;
  std::map<std::string, int> skipped;
  std::vector<bool> paused_changes;
  std::vector<bool> journal_health;
  int left_out = 0;
  int claims_mismatch = 0;
  int vm_conflicts = 0;
};

// High availability: leads when told to; records every fence request and finished move. The
// test answers each request through Controller::OnMoveFenced (TakeRequests).
class FakeCoordinator : public Coordinator {
 public:
  bool Leading() const override { return leading_; }
  void AcquireMove(const MoveIntent& intent) override {
    requests_.push_back(intent);
    pending_.push_back(intent);
  }
  void FinishMove(const std::string& id, const nlohmann::json& outcome) override {
    finished_.emplace_back(id, outcome);
  }

  void set_leading(bool leading) { leading_ = leading; }
  std::vector<MoveIntent> TakeRequests() { return std::exchange(pending_, {}); }
  const std::vector<MoveIntent>& requests() const { return requests_; }
  const std::vector<std::pair<std::string, nlohmann::json>>& finished() const { return finished_; }

 private:
  bool leading_ = false;
  std::vector<MoveIntent> requests_;
  std::vector<MoveIntent> pending_;
  std::vector<std::pair<std::string, nlohmann::json>> finished_;
};

}  // namespace ballast::controller::fake
