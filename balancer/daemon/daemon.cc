#include "balancer/daemon/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <map>

#include "balancer/core/forecast.h"
#include "balancer/daemon/balancer_loop.h"

namespace ballast {
namespace balancer_internal {

int Balancer::Run() {
  if (int rc = Init(); rc != 0) return rc;
  // Sockets bound, keys and policy loaded, /metrics serving: ready.
  notifier_.Ready(ServiceStatusLine());
  const auto started = SteadyClock::now();
  auto next_table = started + config_.table_interval;
  auto next_watch = started;

  while (!signals_.stop) {
    ReceiveBatch();
    const auto now = SteadyClock::now();
    // From the loop itself: a loop stuck anywhere stops the pings and systemd restarts us.
    notifier_.Watchdog(now);
    if (now >= next_watch) {
      notifier_.Status(ServiceStatusLine());
      WatchPolicyFile();
      FlushRecording();
      if (metrics_) {
        metrics_->SetRejectedPublishers(sub_->stats().auth_rejected.load(),
                                        sub_->stats().topic_mismatch.load(),
                                        sub_->stats().revoked.load(),
                                        sub_->stats().connection_limit_dropped.load() +
                                            sub_->stats().connection_limit_refused.load());
        if (control_) {
          metrics_->SetRefusedControl(control_->rejected(), control_->forbidden(),
                                      control_->revoked());
        }
        metrics_->UpdateCluster(controller_->model(), *controller_->policy(), now,
                                controller_->imbalance());
        metrics_->SetInFlight(controller_->in_flight().size() + controller_->external().size());
      }
      next_watch = now + std::chrono::seconds(1);
    }
    if (signals_.reload.exchange(false)) ReloadPolicy("SIGHUP");
    ServeControl();
    // Answers first, then time: the controller sees every outcome that has arrived before it
    // plans (a VM whose migration ended is not planned while its outcome is unread).
    queries_->Deliver(*controller_);
    actuator_env_->Deliver(*controller_);
    if (ha_) ha_->Poll(*controller_, metrics_.get());
    controller_->Tick();
    const bool table_due = config_.table_interval.count() > 0 && now >= next_table;
    if (signals_.print_table.exchange(false) || table_due) {
      std::cout << FormatClusterTable(controller_->model(), now) << std::flush;
      next_table = now + config_.table_interval;
    }
    if (!config_.status_file.empty() && status_pacer_.Due(now)) {
      // Paced on the CPU the write used: at 10,000 hosts it takes a good part of a second.
      const auto cpu0 = ThreadCpuTime();
      WriteStatus(now);
      const auto cpu = ThreadCpuTime() - cpu0;
      status_pacer_.Wrote(now, cpu);
      if (status_pacer_.Stretched(cpu) && !status_slow_logged_) {
        status_slow_logged_ = true;
        const auto ms = [](auto d) {
          return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
        };
        BLOG(kInfo) << "status file: writing it took " << ms(cpu)
                    << " ms of CPU; it is rewritten every " << ms(status_pacer_.Gap(cpu))
                    << " ms (at most 1/" << StatusPacer::kCpuShare
                    << " of the CPU, at least once a minute), not every "
                    << ms(config_.status_interval) << " ms (logged once)";
      }
    }
  }
  return Shutdown();
}

int Balancer::Init() {
  Status st = policy_store_.Reload(config_.policy_file);
  if (!st.ok()) {
    BLOG(kError) << "cannot start: the policy does not load:\n" << st.message();
    return 2;
  }
  policy_stat_ = StatOf(config_.policy_file);
  auto journal =
      Journal::Open({config_.journal_file, config_.journal_max_bytes, config_.journal_keep, true});
  if (!journal.ok()) {
    BLOG(kError) << journal.status().message();
    return 2;
  }
  journal_ = std::move(*journal);
  if (!config_.record_file.empty()) {
    auto recorder = SampleRecorder::Open(config_.record_file);
    if (!recorder.ok()) {
      BLOG(kError) << "record_file: " << recorder.status().message();
      return 2;
    }
    recorder_ = std::move(*recorder);
    BLOG(kInfo) << "recording every accepted sample to " << config_.record_file
                << " (what-if: ballast-sim whatif --recording " << config_.record_file
                << " --policy CANDIDATE.yaml)";
  }

  std::optional<CurveServerOptions> curve;
  if (!config_.plaintext) {
    auto keys = LoadCurveKeyPair(config_.server_key_file);
    if (!keys.ok()) {
      BLOG(kError) << keys.status().message();
      return 2;
    }
    curve = CurveServerOptions{*keys, config_.allowlist_dir, config_.bind_key_to_host};
  } else {
    BLOG(kWarning) << "accepting PLAINTEXT samples (plaintext: true): anyone who can reach "
                   << config_.listen << " can forge a hotspot";
  }
  auto sub = SampleSubscriber::Bind(ctx_, config_.listen, curve);
  if (!sub.ok()) {
    BLOG(kError) << sub.status().message();
    return 2;
  }
  sub_ = std::move(*sub);
  if (!config_.metrics_listen.empty()) {
    auto metrics = BalancerMetrics::Start(config_.metrics_listen);
    if (!metrics.ok()) {
      BLOG(kError) << metrics.status().message();
      return 2;
    }
    metrics_ = std::move(*metrics);
    BLOG(kInfo) << "metrics on http://"
                << config_.metrics_listen.substr(0, config_.metrics_listen.rfind(':')) << ":"
                << metrics_->port() << "/metrics";
  }
  actuator_ = config_.actuator == "dry-run" ? MakeDryRunActuator()
                                            : MakeLibvirtActuator(config_.migration_workers);

  const controller::ControllerOptions co = ControllerOptionsFor(config_);
  if (config_.inventory.trusts_claims()) {
    BLOG(kWarning) << "INSECURE: inventory.trust_collector_claims: true: the balancer connects "
                      "to the libvirt URI and sends migration traffic to the address each "
                      "collector's sample claims; a stolen collector key can point the "
                      "balancer's libvirt credentials anywhere and pull VM memory to an "
                      "address of its choice. List the hosts in inventory instead";
  } else {
    BLOG(kInfo) << "host inventory: " << config_.inventory.hosts().size() << " host(s) listed"
                << (config_.inventory.pattern()
                        ? ", pattern " + config_.inventory.pattern()->libvirt_uri + " / " +
                              config_.inventory.pattern()->migration_address
                        : ", no pattern")
                << "; a host whose samples claim other endpoints is neither source nor target";
  }
  actuator_env_ = std::make_unique<ActuatorEnv>(actuator_);
  queries_ = std::make_unique<DetachedQueries>(actuator_);
  journal_env_ = std::make_unique<JournalEnv>(journal_.get());
  state_file_ = std::make_unique<StateFile>(config_.state_file);
  if (metrics_) {
    metrics_observer_ = std::make_unique<MetricsObserver>(metrics_.get());
    metrics_->SetJournalWritable(true);
  }
  controller::Env env{&clock_,           actuator_env_.get(),    queries_.get(), journal_env_.get(),
                      state_file_.get(), metrics_observer_.get()};
  if (config_.ha.enabled()) {
    auto ha = HaCoordinator::Start(config_.ha);
    if (!ha.ok()) {
      BLOG(kError) << "ha: " << ha.status().message();
      return 2;
    }
    ha_ = std::move(*ha);
    shared_state_ = std::make_unique<SharedStateStore>(state_file_.get(), ha_.get());
    env.coordinator = ha_.get();
    env.state = shared_state_.get();
    std::string eps;
    for (const auto& e : config_.ha.etcd_endpoints) eps += (eps.empty() ? "" : ",") + e;
    BLOG(kInfo) << "high availability: '" << config_.ha.name << "' campaigns under /ballast/"
                << config_.ha.cluster << "/leader on etcd " << eps << " (lease "
                << std::chrono::duration_cast<std::chrono::seconds>(config_.ha.lease_ttl).count()
                << " s); a standby until it leads";
    if (metrics_) metrics_->SetHa(false, false, 0, 0);
  }
  controller_ = std::make_unique<controller::Controller>(co, env, policy_store_.current());

  const auto policy = policy_store_.current();
  BLOG(kInfo) << "listening for collectors on " << sub_->endpoint()
              << (curve ? " (CURVE, allowlist " + config_.allowlist_dir + ")" : " (plaintext)")
              << "; policy '" << policy->name << "' (" << core::ModeName(policy->mode) << ") from "
              << config_.policy_file << "; actuator " << config_.actuator << "; host load from "
              << HostLoadName(config_.host_load);
  Record(
      {{"event", "daemon_started"},
       {"policy", policy->name},
       {"policy_generation", policy_store_.generation()},
       {"mode", core::ModeName(policy->mode)},
       {"actuator", config_.actuator},
       {"host_load", HostLoadName(config_.host_load)},
       {"inventory", config_.inventory.trusts_claims() ? "trust_collector_claims" : "configured"}});
  // Only migration records matter to reconciliation: the text is looked at first and only
  // those are parsed, one at a time (a full journal is hundreds of MiB).
  Journal::ForEachLine(config_.journal_file, [this](std::string_view line) {
    if (line.find("migration_") == std::string_view::npos) return true;
    if (auto r = Journal::ParseLine(line)) controller_->ReplayJournalRecord(*r);
    return true;
  });
  controller_->Start();
  UpdatePolicyMetrics(true);
  const bool any_control_keys =
      !config_.admin_allowlist_dir.empty() || !config_.viewer_allowlist_dir.empty();
  if (!config_.control_listen.empty() && any_control_keys) {
    auto keys = LoadCurveKeyPair(config_.server_key_file);
    if (!keys.ok()) {
      BLOG(kError) << keys.status().message();
      return 2;
    }
    auto control = ControlServer::Bind(
        config_.control_listen, *keys,
        ControlAllowlists{config_.admin_allowlist_dir, config_.viewer_allowlist_dir});
    if (!control.ok()) {
      BLOG(kError) << control.status().message();
      return 2;
    }
    control_ = std::move(*control);
    BLOG(kInfo) << "control endpoint on " << control_->endpoint() << " (CURVE, admin allowlist "
                << (config_.admin_allowlist_dir.empty() ? "none" : config_.admin_allowlist_dir)
                << ", viewer allowlist "
                << (config_.viewer_allowlist_dir.empty() ? "none" : config_.viewer_allowlist_dir)
                << ")";
  } else if (!config_.control_listen.empty()) {
    BLOG(kInfo) << "no admin_allowlist_dir or viewer_allowlist_dir: control endpoint "
                   "(ballastctl) not served";
  }
  return 0;
}

void Balancer::UpdatePolicyMetrics(bool last_reload_ok) {
  if (!metrics_) return;
  metrics_->SetPolicy(policy_store_.generation(), policy_store_.current()->mode, last_reload_ok);
  metrics_->SetMarks(*policy_store_.current());
}

void Balancer::ReceiveBatch() {
  if (!ReceiveOne(std::chrono::milliseconds(50))) return;
  for (int i = 1; i < kMaxReceiveBatch && ReceiveOne(std::chrono::milliseconds(0)); ++i) {
  }
}

bool Balancer::ReceiveOne(std::chrono::milliseconds wait) {
  Result<bool> got = sub_->ReceiveInto(wait, received_);
  if (!got.ok()) {
    BLOG(kError) << got.status().message();
    return false;
  }
  if (!*got) return false;
  const ReceivedMessage& m = received_;
  const std::optional<DecodeFailure> failure = DecodeHostSampleInto(m.payload, m.topic, sample_);
  decode_stats_.Count(failure ? &*failure : nullptr);
  if (metrics_) {
    if (!failure) {
      metrics_->OnSample(sample_.vms.size());
    } else {
      metrics_->OnDecodeError(failure->reason);
    }
  }
  if (failure) {
    // One line per sender and 10 s: a sender of bad samples must not flood the log.
    std::uint64_t suppressed = 0;
    const std::string who = m.key_name.empty() ? m.topic.substr(0, 64) : m.key_name;
    if (reject_log_.ShouldLog(who, SteadyClock::now(), &suppressed)) {
      BLOG(kWarning) << "rejected a sample on topic '" << m.topic.substr(0, 64) << "'"
                     << (m.key_name.empty() ? "" : " from key '" + m.key_name + "'") << ": "
                     << DecodeErrorName(failure->reason) << ": " << failure->detail.substr(0, 256)
                     << (suppressed > 0
                             ? " (" + std::to_string(suppressed) + " more since the last line)"
                             : "");
    }
    return true;
  }
  if (recorder_) RecordSample(m.payload);
  controller_->OnSample(sample_);
  return true;
}

void Balancer::RecordSample(std::string_view payload) {
  const auto unix_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(WallClock::now().time_since_epoch())
          .count();
  Status st = recorder_->Append(payload, unix_ns);
  if (!st.ok()) return StopRecording(st);
  if (recorder_->bytes() < config_.record_max_bytes) return;
  BLOG(kWarning) << "recording " << config_.record_file << " reached record_max_bytes ("
                 << recorder_->bytes() << " bytes, " << recorder_->records()
                 << " samples): restart the balancer for a new one";
  StopRecording(Status::Ok());
}

void Balancer::FlushRecording() {
  if (!recorder_) return;
  Status st = recorder_->Flush();
  if (!st.ok()) StopRecording(st);
}

void Balancer::StopRecording(const Status& error) {
  if (!error.ok()) BLOG(kError) << "recording " << config_.record_file << ": " << error.message();
  BLOG(kWarning) << "recording " << config_.record_file << " stopped";
  (void)recorder_->Flush();
  Record({{"event", "recording_stopped"},
          {"file", config_.record_file},
          {"samples", recorder_->records()},
          {"bytes", recorder_->bytes()},
          {"error", error.ok() ? "" : error.message()}});
  recorder_.reset();
}

std::pair<std::int64_t, std::int64_t> Balancer::StatOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_size)};
}

void Balancer::WatchPolicyFile() {
  auto now = StatOf(config_.policy_file);
  if (now != policy_stat_) {
    policy_stat_ = now;
    ReloadPolicy("file changed");
  }
}

void Balancer::ReloadPolicy(const std::string& why) {
  const auto before = policy_store_.current();
  Status st = policy_store_.Reload(config_.policy_file);
  if (metrics_) metrics_->OnPolicyReload(st.ok());
  UpdatePolicyMetrics(st.ok());
  if (!st.ok()) {
    ++policy_reload_failures_;
    BLOG(kError) << "policy reload (" << why << ") failed; keeping policy '" << before->name
                 << "' generation " << policy_store_.generation() << ":\n"
                 << st.message();
    Record({{"event", "policy_rejected"},
            {"file", config_.policy_file},
            {"error", st.message()},
            {"kept_generation", policy_store_.generation()}});
    return;
  }
  const auto after = policy_store_.current();
  controller_->SetPolicy(after);
  BLOG(kInfo) << "policy reloaded (" << why << "): '" << after->name << "' generation "
              << policy_store_.generation() << ", mode " << core::ModeName(after->mode);
  Record({{"event", "policy_reloaded"},
          {"file", config_.policy_file},
          {"policy", after->name},
          {"generation", policy_store_.generation()},
          {"mode", core::ModeName(after->mode)}});
}

void Balancer::WriteStatus(SteadyClock::time_point now) {
  Status st = WriteFileAtomically(config_.status_file, StatusJson(now).dump(2));
  if (!st.ok()) BLOG(kWarning) << st.message();
}

nlohmann::json Balancer::StatusJson(SteadyClock::time_point now) const {
  const ClusterModel& model = controller_->model();
  auto j = ClusterToJson(model, now);
  const auto policy0 = policy_store_.current();
  for (auto& h : j["hosts"]) {
    const std::string name = h["name"];
    h["maintenance"] = controller_->maintenance().count(name) != 0;
    h["left_out"] = controller_->left_out().count(name) != 0;
    if (auto m = controller_->claims_mismatch().find(name);
        m != controller_->claims_mismatch().end()) {
      h["claims_mismatch"] = {{"reason", m->second.reason},
                              {"claimed_libvirt_uri", m->second.claimed_uri},
                              {"claimed_migration_address", m->second.claimed_migration_address}};
    } else {
      h["claims_mismatch"] = nullptr;
    }
    // What the balancer uses (the inventory's), next to what the sample claims.
    if (auto ep = controller_->EndpointsOf(name)) {
      h["inventory_libvirt_uri"] = ep->libvirt_uri;
      h["inventory_migration_address"] = ep->migration_address;
    }
    const HostView* hv = model.host(name);
    nlohmann::json hot = nlohmann::json::object();
    for (std::size_t r = 0; r < core::kNumResources; ++r) {
      const std::vector<double> hist(hv->history[r].begin(), hv->history[r].end());
      const auto& t = policy0->thresholds[r];
      hot[std::string(core::ResourceName(static_cast<core::Resource>(r)))] =
          t.enabled && !hist.empty() && core::IsHot(hist, policy0->detection, t.hot);
    }
    h["hot"] = hot;
  }
  j["thresholds"] = nlohmann::json::object();
  for (std::size_t r = 0; r < core::kNumResources; ++r) {
    j["thresholds"][std::string(core::ResourceName(static_cast<core::Resource>(r)))] = {
        {"hot", policy0->thresholds[r].hot}, {"relieved", policy0->thresholds[r].relieved}};
  }
  j["paused"] = controller_->paused();
  j["maintenance"] = controller_->maintenance();
  const auto policy = policy_store_.current();
  j["endpoint"] = sub_->endpoint();
  j["metrics_port"] = metrics_ ? metrics_->port() : 0;
  j["decode_errors"] = decode_stats_.TotalRejected();
  j["samples_accepted"] = decode_stats_.accepted;
  j["auth_rejected"] = sub_->stats().auth_rejected.load();
  j["topic_mismatch"] = sub_->stats().topic_mismatch.load();
  j["revoked_dropped"] = sub_->stats().revoked.load();
  j["connection_limit"] = {{"dropped", sub_->stats().connection_limit_dropped.load()},
                           {"closed", sub_->stats().connection_limit_cut.load()},
                           {"refused", sub_->stats().connection_limit_refused.load()}};
  if (control_) {
    j["control_refused"] = {{"auth", control_->rejected()},
                            {"forbidden", control_->forbidden()},
                            {"revoked", control_->revoked()}};
  }
  j["policy"] = {{"name", policy->name},
                 {"file", config_.policy_file},
                 {"generation", policy_store_.generation()},
                 {"mode", core::ModeName(policy->mode)},
                 {"reload_failures", policy_reload_failures_},
                 {"cpu_hot", policy->threshold(core::Resource::kCpu).hot}};
  j["plans"] = controller_->plans();
  j["reconciled"] = controller_->Reconciled();
  j["left_out_hosts"] = controller_->left_out();
  nlohmann::json mismatched = nlohmann::json::array();
  for (const auto& [name, m] : controller_->claims_mismatch()) mismatched.push_back(name);
  j["claims_mismatch_hosts"] = mismatched;
  nlohmann::json conflicts = nlohmann::json::array();
  for (const auto& [uuid, d] : controller_->duplicate_vms()) {
    conflicts.push_back({{"vm_uuid", controller::BoundedForLog(uuid)},
                         {"vm", d.vm_name},
                         {"hosts", d.hosts},
                         {"flagged", d.flagged}});
  }
  j["vm_conflicts"] = conflicts;
  j["inventory"] = config_.inventory.trusts_claims() ? "trust_collector_claims" : "configured";
  j["journal_ok"] = controller_->journal_ok();
  j["ha"] = ha_ ? ha_->StatusJson() : nlohmann::json{{"enabled", false}};
  j["host_load"] = HostLoadName(config_.host_load);
  nlohmann::json in_flight = nlohmann::json::array();
  // What the controller counts as in flight; the actuator adds progress where it has some.
  std::map<std::string, MigrationProgress> progress;
  for (auto& p : actuator_->InFlight()) progress[p.request.id] = p;
  for (const auto& [uuid, own] : controller_->in_flight()) {
    const MigrationRequest& q = own.request;
    nlohmann::json e = {
        {"id", q.id},
        {"vm", q.vm_name},
        {"from", q.from_host},
        {"to", q.to_host},
        {"elapsed_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(now - own.started).count()},
        {"data_processed", 0},
        {"data_remaining", 0}};
    if (auto p = progress.find(q.id); p != progress.end()) {
      e["data_processed"] = p->second.data_processed;
      e["data_remaining"] = p->second.data_remaining;
    }
    in_flight.push_back(std::move(e));
  }
  for (const auto& [uuid, m] : controller_->external()) {
    in_flight.push_back(
        {{"id", m.id}, {"vm", m.vm_name}, {"from", m.from}, {"to", m.to}, {"external", true}});
  }
  j["in_flight"] = in_flight;
  nlohmann::json moves = nlohmann::json::array();
  nlohmann::json unrelieved = nlohmann::json::array();
  const core::Plan& last_plan = controller_->last_plan();
  for (const auto& m : last_plan.moves) moves.push_back(MoveJson(m));
  for (const auto& u : last_plan.unrelieved) unrelieved.push_back(UnrelievedJson(u));
  j["last_plan"] = {
      {"mode", core::ModeName(last_plan.mode)}, {"moves", moves}, {"unrelieved", unrelieved}};
  return j;
}

std::string Balancer::ServiceStatusLine() const {
  const ClusterModel& model = controller_->model();
  std::size_t stale = 0;
  for (const auto& [name, h] : model.hosts()) stale += h.stale ? 1 : 0;
  const core::Plan& plan = controller_->last_plan();
  std::string line = std::to_string(model.hosts().size()) + " hosts (" + std::to_string(stale) +
                     " stale), " + std::to_string(model.vms().size()) + " VMs; policy '" +
                     controller_->policy()->name + "' " +
                     std::string(core::ModeName(controller_->policy()->mode)) +
                     (controller_->paused() ? ", PAUSED" : "") + "; ";
  if (controller_->plans() == 0) {
    line += controller_->Reconciled() ? "no plan yet" : "reconciling with libvirt";
  } else {
    line += "last plan: " + std::to_string(plan.moves.size()) + " moves, " +
            std::to_string(plan.unrelieved.size()) + " unrelieved";
  }
  line += "; " + std::to_string(controller_->in_flight().size()) + " migrations in flight";
  if (ha_) {
    line += ha_->Leading()           ? "; LEADER"
            : !ha_->etcd_reachable() ? "; etcd UNREACHABLE, no leader known"
                                     : "; standby (leader '" + ha_->leader() + "')";
  }
  return line;
}

int Balancer::Shutdown() {
  notifier_.Stopping();
  BLOG(kInfo) << "stopping: no more plans; waiting up to "
              << std::chrono::duration_cast<std::chrono::seconds>(config_.shutdown_grace).count()
              << " s for migrations in flight";
  const bool idle = actuator_->WaitIdle(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.shutdown_grace));
  actuator_env_->Deliver(*controller_);
  nlohmann::json left = nlohmann::json::array();
  if (!idle) {
    for (const auto& p : actuator_->InFlight()) {
      BLOG(kWarning) << "leaving migration " << p.request.id << " of " << p.request.vm_name
                     << " from " << p.request.from_host << " to " << p.request.to_host
                     << " to libvirt (peer-to-peer: the source daemon completes or fails "
                        "it; the next balancer start reconciles it)";
      left.push_back({{"id", p.request.id}, {"vm", p.request.vm_name}});
    }
  }
  if (recorder_) {
    Status st = recorder_->Flush();
    BLOG(kInfo) << "recording " << config_.record_file << ": " << recorder_->records() << " samples"
                << (st.ok() ? "" : " (last flush failed: " + st.message() + ")");
  }
  Record({{"event", "daemon_stopped"},
          {"left_to_libvirt", left},
          {"samples_accepted", decode_stats_.accepted},
          {"samples_rejected", decode_stats_.TotalRejected()}});
  // Revokes the lease: a standby takes over at once (it adopts what is left in flight).
  ha_.reset();
  if (!idle) {
    // Workers are blocked inside libvirt calls that outlive us by design: exit without
    // joining them (the journal is already synced).
    std::cout << std::flush;
    ::_exit(0);
  }
  return 0;
}

}  // namespace balancer_internal

int RunBalancer(const BalancerConfig& config, DaemonSignals& signals) {
  balancer_internal::Balancer b(config, signals);
  return b.Run();
}

}  // namespace ballast
