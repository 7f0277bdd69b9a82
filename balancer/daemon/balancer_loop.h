#pragma once

// Internal to ballast-balancer: the daemon's loop object (daemon.h is the public entry).
// Its methods live in daemon.cc (loop, ingest, recording, policy, reconciliation, planning,
// status, shutdown) and control_handlers.cc (the ballastctl endpoint). Not thread-safe: only
// the loop thread touches it; libvirt queries run on detached threads (RunDetached).

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "balancer/actuator/migration_actuator.h"
#include "balancer/core/forecast.h"
#include "balancer/core/manual_move.h"
#include "balancer/core/planner.h"
#include "balancer/daemon/balancer_config.h"
#include "balancer/daemon/balancer_metrics.h"
#include "balancer/daemon/daemon.h"
#include "balancer/daemon/snapshot.h"
#include "balancer/journal/journal.h"
#include "balancer/model/cluster_model.h"
#include "balancer/model/cluster_table.h"
#include "balancer/policy/loader.h"
#include "balancer/policy/policy_store.h"
#include "common/control_channel.h"
#include "common/curve_keys.h"
#include "common/log.h"
#include "common/proto/control.pb.h"
#include "common/recording.h"
#include "common/transport.h"
#include "common/wire.h"

namespace ballast::balancer_internal {

using SteadyClock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

// Samples taken per loop pass before housekeeping (staleness, control, plans) runs again.
inline constexpr int kMaxReceiveBatch = 256;

// Writes `text` to path.tmp (mode 0640), then renames it over path.
Status WriteFileAtomically(const std::string& path, const std::string& text);
nlohmann::json MoveJson(const core::Move& m);
nlohmann::json UnrelievedJson(const core::Unrelieved& u);

// A migration someone else started (found on a hypervisor, or left unfinished in the journal
// by a previous run of the balancer): never duplicated, watched until it ends.
struct ExternalMigration {
  std::string id;  // journal id, if it was ours
  std::string vm_uuid;
  std::string vm_name;
  std::string from;
  std::string to;  // may be empty when only the source is known
  std::string from_uri;
  std::string to_uri;
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

template <typename T>
bool Ready(const std::future<T>& f) {
  return f.valid() && f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

class Balancer {
 public:
  Balancer(const BalancerConfig& config, DaemonSignals& signals)
      : config_(config), signals_(signals) {
    ModelOptions mo;
    mo.stale_after_intervals = config.stale_after_intervals;
    mo.min_stale_after = config.min_stale_after;
    model_ = ClusterModel(mo);
  }

  int Run();

 private:
  int Init();

  // --- drain and pause state (survives restarts) ----------------------------------------

  void LoadState();
  void SaveState();
  void UpdatePolicyMetrics(bool last_reload_ok);
  void Record(nlohmann::json record);

  // --- ingest ---------------------------------------------------------------------------

  // Waits up to 50 ms for a sample, then takes what is already queued (up to
  // kMaxReceiveBatch) before the loop's housekeeping runs again: one sample per pass let the
  // queue grow at 10,000 hosts a second.
  void ReceiveBatch();

  // True if a message arrived (accepted or not).
  bool ReceiveOne(std::chrono::milliseconds wait);

  // --- recording (what-if input for ballast-sim) -----------------------------------------

  // Samples exactly as received (after CURVE and decoding accepted them), with their
  // arrival time; stops for good at record_max_bytes or on a write error.
  void RecordSample(std::string_view payload);
  void FlushRecording();
  // Ends recording for good: a write error (logged), or Ok at record_max_bytes.
  void StopRecording(const Status& error);

  // --- policy ---------------------------------------------------------------------------

  static std::pair<std::int64_t, std::int64_t> StatOf(const std::string& path);
  void WatchPolicyFile();
  void ReloadPolicy(const std::string& why);

  // --- reconciliation -------------------------------------------------------------------

  // Migrations this balancer started before it last stopped, with no outcome recorded.
  void ReconcileFromJournal();
  void RememberFinished(const nlohmann::json& r, WallClock::time_point now,
                        std::chrono::seconds keep);

  // Each host, when first heard from: any migration job running there that is not ours?
  void ReconcileNewHosts();
  bool OurInFlight(const std::string& uuid) const;
  std::string UriOf(const std::string& host) const;

  // Resolves external migrations once their job has ended.
  // What libvirt says about an external migration: is its job still running, and where does
  // the VM run.
  struct ExternalProbe {
    bool answered = false;
    bool job_running = false;
    std::string where;
  };
  void WatchExternal();
  static long long NowMs();

  // Ready to plan: every host heard from has been checked for running jobs, and every
  // migration left by a previous run is resolved.
  bool Reconciled() const;

  // --- planning and actuation -----------------------------------------------------------

  void PlanRound();
  core::ClusterState Snapshot() const;

  // Journals what changed since the last round: new recommendations or unrelieved
  // hotspots (an unchanged situation is not written again every interval).
  void JournalPlanChanges(const core::Plan& plan);
  void StartMove(const core::Move& m, const core::Policy& policy);
  MigrationRequest RequestFor(const std::string& uuid, const std::string& name,
                              const HostView& from, const HostView& to, const core::Policy& policy);

  // Journals the start (durable before the move begins: a crash right after leaves a record
  // to reconcile), then hands the request to the actuator.
  Status Launch(const MigrationRequest& req, nlohmann::json j);
  static MigrationOptions MigrationOptionsOf(const core::Policy& policy);
  void CollectFinished();

  // A VM moved: the model follows at once, and both hosts' history restarts.
  void AfterMove(const std::string& uuid, const std::string& from, const std::string& to);
  void PruneRecent(WallClock::time_point now, std::chrono::seconds keep);

  // --- control endpoint (ballastctl) ----------------------------------------------------

  static constexpr std::uint32_t kControlApiVersion = 1;
  static constexpr std::chrono::seconds kReconcileWait{15};
  void ServeControl();
  static control::ControlReply Ok(const nlohmann::json& payload);
  static control::ControlReply Error(const std::string& code, const std::string& message,
                                     const nlohmann::json& payload = nullptr);
  control::ControlReply HandleControl(const ControlMessage& m);
  nlohmann::json PlanJson(const core::Plan& plan) const;

  // What `policy` would do now; moves nothing.
  nlohmann::json PlanNow(const core::Policy& policy) const;
  const VmView* FindVm(const std::string& key) const;
  static bool RecordMentions(const nlohmann::json& r, const std::string& uuid,
                             const std::string& name);
  control::ControlReply Explain(const std::string& key);
  control::ControlReply Migrate(const control::MigrateRequest& r, const std::string& admin);
  control::ControlReply Drain(const std::string& host, bool drain, const std::string& admin);
  control::ControlReply Pause(bool pause, const std::string& reason, const std::string& admin);
  control::ControlReply History(const control::HistoryRequest& r) const;
  control::ControlReply PolicyDiff(const control::PolicyDiffRequest& r) const;

  // --- status ---------------------------------------------------------------------------

  void WriteStatus(SteadyClock::time_point now);
  nlohmann::json StatusJson(SteadyClock::time_point now) const;

  // --- shutdown -------------------------------------------------------------------------

  int Shutdown();

  struct Backoff {
    SteadyClock::time_point until{};
    std::chrono::seconds delay{0};
    std::string last_error;
  };
  const BalancerConfig& config_;
  DaemonSignals& signals_;
  zmq::context_t ctx_;
  std::unique_ptr<SampleSubscriber> sub_;
  ClusterModel model_;
  DecodeStats decode_stats_;
  policy::PolicyStore policy_store_;
  std::pair<std::int64_t, std::int64_t> policy_stat_;
  std::uint64_t policy_reload_failures_ = 0;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<SampleRecorder> recorder_;  // record_file set and not stopped
  // Shared with the detached threads of reconciliation queries, which may outlive a call.
  std::shared_ptr<MigrationActuator> actuator_;
  struct HostQuery {
    std::future<Result<std::vector<ActiveJob>>> result;
    SteadyClock::time_point started{};
    bool warned = false;
  };
  std::map<std::string, HostQuery> host_queries_;
  std::map<std::string, std::future<ExternalProbe>> external_probes_;
  std::unique_ptr<BalancerMetrics> metrics_;
  std::unique_ptr<ControlServer> control_;
  std::set<std::string> maintenance_;  // hosts drained by an admin (persisted)
  bool paused_ = false;                // automation paused by an admin (persisted)
  double imbalance_ = 0;
  std::vector<core::FinishedMigration> recent_;
  std::map<std::string, ExternalMigration> external_;  // by VM UUID
  std::set<std::string> reconciled_hosts_;
  std::map<std::pair<std::string, std::string>, Backoff> pair_backoff_;
  std::map<std::string, SteadyClock::time_point> failed_vms_;
  std::set<std::string> last_keys_;
  std::set<std::string> skip_keys_;       // this round's skipped moves
  std::set<std::string> prev_skip_keys_;  // the last round's
  core::Plan last_plan_;
  std::uint64_t plans_ = 0;
  bool said_reconciling_ = false;
  std::uint64_t next_id_ = 1;
};

}  // namespace ballast::balancer_internal
