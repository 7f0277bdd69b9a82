#pragma once

// Internal to ballast-balancer: the daemon's loop object (daemon.h is the public entry), a
// thin I/O shell around the controller (balancer/controller), which decides. The shell owns
// the sockets (samples, ballastctl), signals, metrics, the policy file, the recording and
// the real Env (real_env.h). Its methods live in daemon.cc (loop, ingest, recording, policy,
// status, shutdown) and control_handlers.cc (the ballastctl endpoint). Not thread-safe: only
// the loop thread touches it; libvirt queries run on detached threads (real_env.h).

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "balancer/actuator/migration_actuator.h"
#include "balancer/controller/controller.h"
#include "balancer/core/planner.h"
#include "balancer/daemon/balancer_config.h"
#include "balancer/daemon/balancer_metrics.h"
#include "balancer/daemon/daemon.h"
#include "balancer/daemon/ha_env.h"
#include "balancer/daemon/real_env.h"
#include "balancer/daemon/status_pacer.h"
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
#include "common/service_notify.h"
#include "common/transport.h"
#include "common/wire.h"

namespace ballast::balancer_internal {

using SteadyClock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;
using controller::MoveJson;
using controller::UnrelievedJson;

// Samples taken per loop pass before housekeeping (staleness, control, plans) runs again.
inline constexpr int kMaxReceiveBatch = 256;

class Balancer {
 public:
  Balancer(const BalancerConfig& config, DaemonSignals& signals)
      : config_(config), signals_(signals) {}

  int Run();

 private:
  int Init();
  void UpdatePolicyMetrics(bool last_reload_ok);
  void Record(nlohmann::json record) { (void)controller_->Record(std::move(record)); }

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

  // --- control endpoint (ballastctl) ----------------------------------------------------

  static constexpr std::uint32_t kControlApiVersion = 1;
  void ServeControl();
  static control::ControlReply Ok(const nlohmann::json& payload);
  static control::ControlReply Error(const std::string& code, const std::string& message,
                                     const nlohmann::json& payload = nullptr);
  // nullopt: answered later (a journal read under way).
  std::optional<control::ControlReply> HandleControl(const ControlMessage& m);
  void SendReply(const std::string& peer, control::ControlReply reply);
  // Runs `job` (which reads the journal) on a thread of its own; ServeControl sends its reply.
  std::optional<control::ControlReply> ReadJournalForReply(
      const std::string& peer, std::function<control::ControlReply()> job);
  static nlohmann::json PlanJson(const core::Plan& plan);

  // What `policy` would do now; moves nothing.
  nlohmann::json PlanNow(const core::Policy& policy) const;
  const VmView* FindVm(const std::string& key) const;
  static std::string JsonText(const std::string& s);
  static bool RecordMentions(const nlohmann::json& r, const std::string& uuid,
                             const std::string& name);
  std::optional<control::ControlReply> Explain(const std::string& peer, const std::string& key);
  control::ControlReply Migrate(const control::MigrateRequest& r, const std::string& admin);
  control::ControlReply Drain(const std::string& host, bool drain, const std::string& admin);
  control::ControlReply Pause(bool pause, const std::string& reason, const std::string& admin);
  std::optional<control::ControlReply> History(const std::string& peer,
                                               const control::HistoryRequest& r);
  control::ControlReply PolicyDiff(const control::PolicyDiffRequest& r) const;

  // --- status ---------------------------------------------------------------------------

  void WriteStatus(SteadyClock::time_point now);
  // One line for `systemctl status`: hosts, VMs, the last plan.
  std::string ServiceStatusLine() const;
  nlohmann::json StatusJson(SteadyClock::time_point now) const;

  // --- shutdown -------------------------------------------------------------------------

  int Shutdown();

  const BalancerConfig& config_;
  DaemonSignals& signals_;
  zmq::context_t ctx_;
  std::unique_ptr<SampleSubscriber> sub_;
  DecodeStats decode_stats_;
  // Every message is received into one and decoded into the other: their storage is reused.
  ReceivedMessage received_;
  HostSample sample_;
  LogLimiter reject_log_{std::chrono::seconds(10)};
  policy::PolicyStore policy_store_;
  std::pair<std::int64_t, std::int64_t> policy_stat_;
  StatusPacer status_pacer_{config_.status_interval};
  bool status_slow_logged_ = false;  // "the status file is slow to write", said once
  std::uint64_t policy_reload_failures_ = 0;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<SampleRecorder> recorder_;  // record_file set and not stopped
  // Shared with the detached threads of reconciliation queries, which may outlive a call.
  std::shared_ptr<MigrationActuator> actuator_;
  std::unique_ptr<BalancerMetrics> metrics_;
  std::unique_ptr<ControlServer> control_;
  struct JournalReader {
    std::string peer;
    std::future<control::ControlReply> reply;
  };
  static constexpr std::size_t kMaxJournalReaders = 4;
  std::vector<JournalReader> journal_readers_;
  // The controller's Env.
  SystemClock clock_;
  std::unique_ptr<ActuatorEnv> actuator_env_;
  std::unique_ptr<DetachedQueries> queries_;
  std::unique_ptr<JournalEnv> journal_env_;
  std::unique_ptr<StateFile> state_file_;
  std::unique_ptr<MetricsObserver> metrics_observer_;
  // High availability (ha.etcd_endpoints set): the coordinator, and the state store that
  // also copies drain/pause into etcd.
  std::unique_ptr<HaCoordinator> ha_;
  std::unique_ptr<SharedStateStore> shared_state_;
  std::unique_ptr<controller::Controller> controller_;
  // systemd (Type=notify): READY=1 once serving, WATCHDOG=1 from this loop, STATUS= lines.
  ServiceNotifier notifier_ = ServiceNotifier::FromEnvironment();
};

}  // namespace ballast::balancer_internal
