#pragma once

// The controller's Env as the daemon provides it: the system clocks, libvirt (through a
// MigrationActuator), the journal file and the state file. Internal to ballast-balancer.

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "balancer/actuator/migration_actuator.h"
#include "balancer/controller/controller.h"
#include "balancer/controller/env.h"
#include "balancer/daemon/balancer_metrics.h"
#include "balancer/journal/journal.h"

namespace ballast::balancer_internal {

class SystemClock final : public controller::Clock {
 public:
  controller::SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
  controller::WallTime Wall() const override { return std::chrono::system_clock::now(); }
};

// Runs `f` on a thread of its own and returns its future. libvirt calls cannot be cancelled
// and can block for long (a daemon stuck on a domain's job lock): the loop only polls the
// future, so ingest and planning never wait on them; a call that never returns only leaks
// its thread.
template <typename F>
auto RunDetached(F f) -> std::future<decltype(f())> {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto future = task.get_future();
  std::thread(std::move(task)).detach();
  return future;
}

// Starts migrations on the real (or dry-run) actuator; Deliver hands its outcomes to the
// controller. Outcomes are taken once per loop pass, so the controller sees one consistent
// view of what is in flight: a migration is in flight until its outcome is delivered.
class ActuatorEnv final : public controller::Actuator {
 public:
  explicit ActuatorEnv(std::shared_ptr<MigrationActuator> actuator)
      : actuator_(std::move(actuator)) {}
  Status Start(const MigrationRequest& request) override { return actuator_->Start(request); }
  void Deliver(controller::Controller& c);

 private:
  std::shared_ptr<MigrationActuator> actuator_;
};

// Hypervisor questions on detached threads; Deliver hands the answers that are ready to the
// controller.
class DetachedQueries final : public controller::HypervisorQueries {
 public:
  explicit DetachedQueries(std::shared_ptr<MigrationActuator> actuator)
      : actuator_(std::move(actuator)) {}
  void AskActiveJobs(const std::string& host, const std::string& uri) override;
  void AskWhereIs(const controller::VmProbeRequest& probe) override;
  void Deliver(controller::Controller& c);

 private:
  std::shared_ptr<MigrationActuator> actuator_;
  std::map<std::string, std::future<Result<std::vector<ActiveJob>>>> jobs_;  // by host
  std::map<std::string, std::future<controller::VmProbe>> probes_;           // by VM UUID
};

class JournalEnv final : public controller::DecisionJournal {
 public:
  explicit JournalEnv(Journal* journal) : journal_(journal) {}
  Status Append(nlohmann::json record, controller::WallTime now) override {
    return journal_->Append(std::move(record), now);
  }

 private:
  Journal* journal_;
};

// The drain/pause state as JSON, written atomically (mode 0640, file and directory fsync'd).
class StateFile final : public controller::StateStore {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}
  Result<std::optional<controller::PersistedState>> Load() override;
  Status Save(const controller::PersistedState& state) override;

 private:
  std::string path_;
};

// The controller's decisions as Prometheus metrics.
class MetricsObserver final : public controller::Observer {
 public:
  explicit MetricsObserver(BalancerMetrics* metrics) : metrics_(metrics) {}
  void OnPlan(const core::Plan& plan, std::chrono::nanoseconds plan_time,
              std::optional<std::chrono::nanoseconds> latency) override {
    metrics_->OnPlan(plan, plan_time, latency);
  }
  void OnRecommended(const core::Move& m) override { metrics_->OnRecommended(m); }
  void OnSkipped(std::string_view code) override { metrics_->OnSkipped(std::string(code)); }
  void OnMigrationStarted(const core::Move* m, const MigrationRequest&) override {
    if (m != nullptr) metrics_->OnMigrationStarted(*m);
  }
  void OnMigrationFinished(const MigrationResult& r) override {
    metrics_->OnMigrationFinished(MigrationOutcomeName(r.outcome), r.request.strategy, r.duration,
                                  r.downtime, r.bytes);
  }
  void OnPausedChanged(bool paused) override { metrics_->SetPaused(paused); }
  void OnJournalHealth(bool writable) override { metrics_->SetJournalWritable(writable); }
  void OnHostsLeftOut(std::size_t n) override { metrics_->SetHostsLeftOut(n); }
  void OnHostClaimsMismatch(std::size_t n) override { metrics_->SetHostsClaimsMismatch(n); }
  void OnVmConflicts(std::size_t n) override { metrics_->SetVmConflicts(n); }

 private:
  BalancerMetrics* metrics_;
};

// Writes `text` to path.tmp (mode 0640), fsyncs it, renames it over path and fsyncs the
// directory: after a crash the file is either the old or the new one, never empty.
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace ballast::balancer_internal
