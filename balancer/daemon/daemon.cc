#include "balancer/daemon/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "balancer/daemon/balancer_loop.h"

namespace ballast {
namespace balancer_internal {

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return Status::Unavailable("cannot write " + tmp);
  }
  // The status and state files list hosts and VMs: owner and group only, like the journal.
  if (::chmod(tmp.c_str(), 0640) != 0) return Status::Unavailable("cannot chmod " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot rename " + tmp + " to " + path);
  }
  return Status::Ok();
}

namespace {

nlohmann::json ReasonJson(const core::MoveReason& r) {
  return {{"strategy", core::StrategyName(r.strategy)},
          {"resource", core::ResourceName(r.resource)},
          {"source_before", r.source_before},
          {"source_after", r.source_after},
          {"target_before", r.target_before},
          {"target_after", r.target_after},
          {"mark", r.mark},
          {"target_limit", r.target_limit},
          {"score", r.score}};
}

}  // namespace

nlohmann::json MoveJson(const core::Move& m) {
  return {{"vm", m.vm_name}, {"vm_uuid", m.vm_uuid},           {"from", m.from},
          {"to", m.to},      {"reason", ReasonJson(m.reason)}, {"explanation", m.explanation}};
}

nlohmann::json UnrelievedJson(const core::Unrelieved& u) {
  nlohmann::json blockers = nlohmann::json::object();
  for (const auto& [b, n] : u.blockers) blockers[std::string(core::BlockerName(b))] = n;
  return {{"strategy", core::StrategyName(u.strategy)},
          {"host", u.host},
          {"resource", u.resource ? std::string(core::ResourceName(*u.resource)) : ""},
          {"level", u.level},
          {"mark", u.mark},
          {"main_blocker", core::BlockerName(u.main_blocker)},
          {"blockers", blockers},
          {"vms_left", u.vms_left},
          {"explanation", u.explanation}};
}

int Balancer::Run() {
  if (int rc = Init(); rc != 0) return rc;
  const auto started = SteadyClock::now();
  auto next_plan = started + config_.startup_grace;
  auto next_table = started + config_.table_interval;
  auto next_status = started;
  auto next_watch = started;

  while (!signals_.stop) {
    ReceiveBatch();
    const auto now = SteadyClock::now();
    for (const auto& name : model_.UpdateStaleness(now)) {
      const HostView* h = model_.host(name);
      BLOG(kWarning) << "host '" << name << "' is " << (h->stale ? "STALE" : "fresh again")
                     << (h->stale ? ": no sample recently; it is neither a source nor a "
                                    "target of any move"
                                  : "");
      Record({{"event", h->stale ? "host_stale" : "host_fresh"}, {"host", name}});
    }
    if (now >= next_watch) {
      WatchPolicyFile();
      ReconcileNewHosts();
      WatchExternal();
      FlushRecording();
      if (metrics_) {
        metrics_->SetRejectedPublishers(sub_->stats().auth_rejected.load(),
                                        sub_->stats().topic_mismatch.load());
        metrics_->UpdateCluster(model_, *policy_store_.current(), now, imbalance_);
        metrics_->SetInFlight(actuator_->InFlight().size() + external_.size());
      }
      next_watch = now + std::chrono::seconds(1);
    }
    if (signals_.reload.exchange(false)) ReloadPolicy("SIGHUP");
    ServeControl();
    CollectFinished();
    if (now >= next_plan) {
      PlanRound();
      next_plan = now + policy_store_.current()->interval;
    }
    const bool table_due = config_.table_interval.count() > 0 && now >= next_table;
    if (signals_.print_table.exchange(false) || table_due) {
      std::cout << FormatClusterTable(model_, now) << std::flush;
      next_table = now + config_.table_interval;
    }
    if (!config_.status_file.empty() && now >= next_status) {
      WriteStatus(now);
      next_status = now + config_.status_interval;
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
  const auto policy = policy_store_.current();
  BLOG(kInfo) << "listening for collectors on " << sub_->endpoint()
              << (curve ? " (CURVE, allowlist " + config_.allowlist_dir + ")" : " (plaintext)")
              << "; policy '" << policy->name << "' (" << core::ModeName(policy->mode) << ") from "
              << config_.policy_file << "; actuator " << config_.actuator;
  Record({{"event", "daemon_started"},
          {"policy", policy->name},
          {"policy_generation", policy_store_.generation()},
          {"mode", core::ModeName(policy->mode)},
          {"actuator", config_.actuator}});
  ReconcileFromJournal();
  UpdatePolicyMetrics(true);
  LoadState();
  if (metrics_) metrics_->SetPaused(paused_);
  if (!config_.control_listen.empty() && !config_.admin_allowlist_dir.empty()) {
    auto keys = LoadCurveKeyPair(config_.server_key_file);
    if (!keys.ok()) {
      BLOG(kError) << keys.status().message();
      return 2;
    }
    auto control = ControlServer::Bind(config_.control_listen, *keys, config_.admin_allowlist_dir);
    if (!control.ok()) {
      BLOG(kError) << control.status().message();
      return 2;
    }
    control_ = std::move(*control);
    BLOG(kInfo) << "control endpoint on " << control_->endpoint() << " (CURVE, admin allowlist "
                << config_.admin_allowlist_dir << ")";
  } else if (!config_.control_listen.empty()) {
    BLOG(kInfo) << "no admin_allowlist_dir: control endpoint (ballastctl) not served";
  }
  return 0;
}

void Balancer::LoadState() {
  std::ifstream in(config_.state_file);
  if (!in) return;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    BLOG(kError) << "ignoring unreadable state file " << config_.state_file;
    return;
  }
  for (const auto& h : j.value("maintenance", nlohmann::json::array())) {
    if (h.is_string()) maintenance_.insert(h.get<std::string>());
  }
  paused_ = j.value("paused", false);
  if (!maintenance_.empty() || paused_) {
    BLOG(kInfo) << "state from " << config_.state_file << ": "
                << (paused_ ? "automation PAUSED; " : "") << maintenance_.size()
                << " host(s) in maintenance";
  }
}

void Balancer::SaveState() {
  nlohmann::json j = {{"maintenance", maintenance_}, {"paused", paused_}};
  Status st = WriteFileAtomically(config_.state_file, j.dump(2));
  if (!st.ok()) BLOG(kError) << "cannot save state: " << st.message();
}

void Balancer::UpdatePolicyMetrics(bool last_reload_ok) {
  if (!metrics_) return;
  metrics_->SetPolicy(policy_store_.generation(), policy_store_.current()->mode, last_reload_ok);
  metrics_->SetMarks(*policy_store_.current());
}

void Balancer::Record(nlohmann::json record) {
  Status st = journal_->Append(std::move(record), WallClock::now());
  if (!st.ok()) BLOG(kError) << "journal: " << st.message();
}

void Balancer::ReceiveBatch() {
  if (!ReceiveOne(std::chrono::milliseconds(50))) return;
  for (int i = 1; i < kMaxReceiveBatch && ReceiveOne(std::chrono::milliseconds(0)); ++i) {
  }
}

bool Balancer::ReceiveOne(std::chrono::milliseconds wait) {
  auto msg = sub_->Receive(wait);
  if (!msg.ok()) {
    BLOG(kError) << msg.status().message();
    return false;
  }
  if (!msg->has_value()) return false;
  const ReceivedMessage& m = **msg;
  DecodeResult d = DecodeHostSample(m.payload, m.topic);
  decode_stats_.Count(d);
  if (metrics_) {
    if (d.ok()) {
      metrics_->OnSample(d.sample().vms.size());
    } else {
      metrics_->OnDecodeError(d.failure().reason);
    }
  }
  if (!d.ok()) {
    BLOG(kWarning) << "rejected a sample on topic '" << m.topic.substr(0, 64)
                   << "': " << DecodeErrorName(d.failure().reason) << ": " << d.failure().detail;
    return true;
  }
  if (recorder_) RecordSample(m.payload);
  const std::string& name = d.sample().host.name;
  const HostView* before = model_.host(name);
  const bool known = before != nullptr;
  const bool was_stale = known && before->stale;
  model_.Ingest(d.sample(), SteadyClock::now());
  if (!known) {
    BLOG(kInfo) << "host '" << name << "' joined (" << d.sample().host.libvirt_uri << ", "
                << d.sample().vms.size() << " VMs)";
  } else if (was_stale && !model_.host(name)->stale) {
    // Ingest clears the flag, so UpdateStaleness never sees this transition.
    BLOG(kWarning) << "host '" << name << "' is fresh again";
    Record({{"event", "host_fresh"}, {"host", name}});
  }
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
  BLOG(kInfo) << "policy reloaded (" << why << "): '" << after->name << "' generation "
              << policy_store_.generation() << ", mode " << core::ModeName(after->mode);
  Record({{"event", "policy_reloaded"},
          {"file", config_.policy_file},
          {"policy", after->name},
          {"generation", policy_store_.generation()},
          {"mode", core::ModeName(after->mode)}});
}

void Balancer::ReconcileFromJournal() {
  std::map<std::string, nlohmann::json> open;
  const auto now = WallClock::now();
  const auto return_cooldown = policy_store_.current()->limits.return_cooldown;
  for (auto& r : Journal::ReadAll(config_.journal_file)) {
    const std::string ev = r.value("event", "");
    const std::string id = r.value("id", "");
    if (ev == "migration_started") {
      open[id] = r;
    } else if (ev == "migration_finished" || ev == "migration_failed" ||
               ev == "migration_aborted") {
      open.erase(id);
      if (ev == "migration_finished") RememberFinished(r, now, return_cooldown);
    }
  }
  for (auto& [id, r] : open) {
    ExternalMigration m{id,
                        r.value("vm_uuid", ""),
                        r.value("vm", ""),
                        r.value("from", ""),
                        r.value("to", ""),
                        r.value("from_uri", ""),
                        r.value("to_uri", "")};
    BLOG(kWarning) << "the journal has migration " << id << " of " << m.vm_name << " from "
                   << m.from << " to " << m.to
                   << " started but not finished (the balancer stopped meanwhile): "
                      "checking libvirt before planning";
    external_[m.vm_uuid] = std::move(m);
  }
  // Our own ids continue after the journal's.
  next_id_ = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

void Balancer::RememberFinished(const nlohmann::json& r, WallClock::time_point now,
                                std::chrono::seconds keep) {
  // The journal's "ts" is RFC 3339; the finish time in ms since the epoch is stored too.
  const auto at = WallClock::time_point(std::chrono::milliseconds(r.value("at_ms", 0LL)));
  if (now - at > keep) return;
  recent_.push_back({r.value("vm_uuid", ""), r.value("from", ""), r.value("to", ""), at});
}

void Balancer::ReconcileNewHosts() {
  for (const auto& [name, h] : model_.hosts()) {
    if (h.stale || reconciled_hosts_.count(name) != 0) continue;
    auto& q = host_queries_[name];
    if (!q.result.valid()) {
      q.result = RunDetached(
          [act = actuator_, uri = h.identity.libvirt_uri] { return act->ActiveJobs(uri); });
      q.started = SteadyClock::now();
      continue;
    }
    if (!Ready(q.result)) {
      if (!q.warned && SteadyClock::now() - q.started > kReconcileWait) {
        // Planning without this host's answer is still safe from duplicates: libvirt
        // refuses to start a second migration job on a domain that has one.
        BLOG(kWarning) << "libvirt on host '" << name << "' has not said within "
                       << kReconcileWait.count() << " s whether a migration runs there; "
                       << "planning anyway";
        Record({{"event", "reconcile_timeout"}, {"host", name}});
        q.warned = true;
        reconciled_hosts_.insert(name);
      }
      continue;
    }
    auto jobs = q.result.get();
    host_queries_.erase(name);
    if (!jobs.ok()) {
      BLOG(kWarning) << "cannot check host '" << name
                     << "' for running migrations: " << jobs.status().message();
      continue;  // asked again next second; no plan until it answers
    }
    reconciled_hosts_.insert(name);
    for (const ActiveJob& j : *jobs) {
      if (external_.count(j.vm_uuid) != 0 || OurInFlight(j.vm_uuid)) continue;
      BLOG(kWarning) << "host '" << name << "' has a job running on " << j.vm_name
                     << " that this balancer did not start: it will not be moved until the "
                        "job ends";
      external_[j.vm_uuid] = {"", j.vm_uuid, j.vm_name, name, "", h.identity.libvirt_uri, ""};
      Record({{"event", "external_job_seen"}, {"vm", j.vm_name}, {"host", name}});
    }
  }
}

bool Balancer::OurInFlight(const std::string& uuid) const {
  for (const auto& p : actuator_->InFlight()) {
    if (p.request.vm_uuid == uuid) return true;
  }
  return false;
}

std::string Balancer::UriOf(const std::string& host) const {
  const HostView* h = model_.host(host);
  return h ? h->identity.libvirt_uri : "";
}

void Balancer::WatchExternal() {
  for (auto it = external_.begin(); it != external_.end();) {
    ExternalMigration& m = it->second;
    if (m.from_uri.empty()) m.from_uri = UriOf(m.from);
    if (m.to_uri.empty() && !m.to.empty()) m.to_uri = UriOf(m.to);
    if (m.from_uri.empty()) {
      ++it;
      continue;
    }
    auto& probe = external_probes_[m.vm_uuid];
    if (!probe.valid()) {
      probe = RunDetached([act = actuator_, m] {
        ExternalProbe p;
        auto jobs = act->ActiveJobs(m.from_uri);
        if (!jobs.ok()) return p;
        p.answered = true;
        for (const auto& j : *jobs) p.job_running |= j.vm_uuid == m.vm_uuid;
        if (p.job_running) return p;
        if (!m.to_uri.empty()) {
          auto on_to = act->IsRunningOn(m.to_uri, m.vm_uuid);
          if (on_to.ok() && *on_to) p.where = m.to;
        }
        if (p.where.empty()) {
          auto on_from = act->IsRunningOn(m.from_uri, m.vm_uuid);
          if (on_from.ok() && *on_from) p.where = m.from;
        }
        return p;
      });
      ++it;
      continue;
    }
    if (!Ready(probe)) {
      ++it;
      continue;
    }
    const ExternalProbe p = probe.get();
    external_probes_.erase(m.vm_uuid);
    if (!p.answered || p.job_running) {
      ++it;
      continue;
    }
    const std::string where = p.where;
    const bool ours = !m.id.empty();
    if (ours) {
      const bool moved = !where.empty() && where == m.to;
      Record({{"event", moved ? "migration_finished" : "migration_failed"},
              {"id", m.id},
              {"vm", m.vm_name},
              {"vm_uuid", m.vm_uuid},
              {"from", m.from},
              {"to", m.to},
              {"vm_on", where},
              {"at_ms", NowMs()},
              {"reconciled", true},
              {"detail", "outcome found in libvirt after a balancer restart"}});
      BLOG(kInfo) << "reconciled migration " << m.id << " of " << m.vm_name << ": "
                  << (moved ? "it completed" : "it did not complete") << "; " << m.vm_name
                  << " runs on " << (where.empty() ? "no known host" : where);
      if (moved) {
        recent_.push_back({m.vm_uuid, m.from, m.to, WallClock::now()});
        AfterMove(m.vm_uuid, m.from, m.to);
      }
    }
    it = external_.erase(it);
  }
}

long long Balancer::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now().time_since_epoch())
      .count();
}

bool Balancer::Reconciled() const {
  if (!external_.empty()) {
    for (const auto& [uuid, m] : external_) {
      if (!m.id.empty()) return false;  // ours from a previous run: wait for the outcome
    }
  }
  for (const auto& [name, h] : model_.hosts()) {
    if (!h.stale && reconciled_hosts_.count(name) == 0) return false;
  }
  return true;
}

void Balancer::PlanRound() {
  if (model_.hosts().empty()) return;
  if (!Reconciled()) {
    if (!said_reconciling_) BLOG(kInfo) << "not planning yet: reconciling with libvirt";
    said_reconciling_ = true;
    return;
  }
  said_reconciling_ = false;
  const auto policy = policy_store_.current();
  const auto wall_now = WallClock::now();
  PruneRecent(wall_now, policy->limits.return_cooldown);

  const core::ClusterState state = Snapshot();
  const auto t0 = SteadyClock::now();
  core::Plan plan = core::MakePlan(state, *policy, wall_now);
  const auto t1 = SteadyClock::now();
  imbalance_ = core::LoadStdDev(state, *policy);
  last_plan_ = plan;
  ++plans_;
  if (metrics_) {
    // Decision latency: from the newest sample the plan saw to the plan.
    std::optional<std::chrono::nanoseconds> latency;
    for (const auto& [name, h] : model_.hosts()) {
      if (h.stale) continue;
      auto l = t1 - h.last_seen;
      if (!latency || l < *latency) latency = l;
    }
    metrics_->OnPlan(plan, t1 - t0, latency);
  }

  JournalPlanChanges(plan);
  prev_skip_keys_ = std::exchange(skip_keys_, {});
  if (plan.mode != core::Mode::kAutomatic || paused_) return;
  for (const core::Move& m : plan.moves) StartMove(m, *policy);
}

core::ClusterState Balancer::Snapshot() const {
  SnapshotInputs in;
  in.model = &model_;
  for (const auto& p : actuator_->InFlight()) {
    in.in_flight.push_back({p.request.vm_uuid, p.request.from_host, p.request.to_host});
  }
  for (const auto& [uuid, m] : external_) in.in_flight.push_back({uuid, m.from, m.to});
  in.recent = recent_;
  in.maintenance_hosts = maintenance_;
  return BuildClusterState(in);
}

void Balancer::JournalPlanChanges(const core::Plan& plan) {
  std::set<std::string> keys;
  for (const auto& m : plan.moves) {
    const std::string key = "move:" + m.vm_uuid + ">" + m.to;
    keys.insert(key);
    if (last_keys_.count(key) != 0) continue;
    if (plan.mode == core::Mode::kRecommend) {
      BLOG(kInfo) << "recommend (not moving, mode recommend): " << m.explanation;
      if (metrics_) metrics_->OnRecommended(m);
      auto j = MoveJson(m);
      j["event"] = "recommended";
      Record(j);
    }
  }
  for (const auto& u : plan.unrelieved) {
    const std::string key = "unrelieved:" + std::string(core::StrategyName(u.strategy)) + ":" +
                            u.host + ":" + std::string(core::BlockerName(u.main_blocker));
    keys.insert(key);
    if (last_keys_.count(key) != 0) continue;
    BLOG(kWarning) << "unrelieved: " << u.explanation;
    auto j = UnrelievedJson(u);
    j["event"] = "unrelieved";
    Record(j);
  }
  last_keys_ = std::move(keys);
}

void Balancer::StartMove(const core::Move& m, const core::Policy& policy) {
  const HostView* from = model_.host(m.from);
  const HostView* to = model_.host(m.to);
  auto skip = [&](const std::string& code, const std::string& why) {
    if (metrics_) metrics_->OnSkipped(code);
    // Said once while the situation lasts, not every round.
    const std::string key = m.vm_uuid + ">" + m.to + ":" + why;
    skip_keys_.insert(key);
    if (prev_skip_keys_.count(key) != 0) return;
    BLOG(kWarning) << "skipping the move of " << m.vm_name << " to " << m.to << ": " << why;
    auto j = MoveJson(m);
    j["event"] = "skipped";
    j["skip_reason"] = why;
    Record(j);
  };
  if (from == nullptr || to == nullptr) return skip("host_unknown", "host unknown");
  const auto now = SteadyClock::now();
  auto pair = pair_backoff_.find({m.from, m.to});
  if (pair != pair_backoff_.end() && now < pair->second.until) {
    return skip("pair_backoff", "migrations from " + m.from + " to " + m.to + " failed recently (" +
                                    pair->second.last_error + "); backing off");
  }
  auto vm_fail = failed_vms_.find(m.vm_uuid);
  if (vm_fail != failed_vms_.end() && now < vm_fail->second) {
    return skip("vm_failed_recently", "its last migration failed; waiting before trying it again");
  }
  MigrationRequest req = RequestFor(m.vm_uuid, m.vm_name, *from, *to, policy);
  req.strategy = std::string(core::StrategyName(m.reason.strategy));
  auto j = MoveJson(m);
  if (!Launch(req, std::move(j)).ok()) return;
  if (metrics_) metrics_->OnMigrationStarted(m);
  BLOG(kInfo) << "migrating " << m.vm_name << " from " << m.from << " to " << m.to << " (" << req.id
              << "): " << m.explanation;
}

MigrationRequest Balancer::RequestFor(const std::string& uuid, const std::string& name,
                                      const HostView& from, const HostView& to,
                                      const core::Policy& policy) {
  MigrationRequest req;
  req.id = "m-" + std::to_string(next_id_++);
  req.vm_uuid = uuid;
  req.vm_name = name;
  req.from_host = from.identity.name;
  req.to_host = to.identity.name;
  req.from_uri = from.identity.libvirt_uri;
  req.to_uri = to.identity.libvirt_uri;
  req.to_migration_address = to.identity.migration_address;
  req.options = MigrationOptionsOf(policy);
  return req;
}

Status Balancer::Launch(const MigrationRequest& req, nlohmann::json j) {
  j["event"] = "migration_started";
  j["id"] = req.id;
  j["vm"] = req.vm_name;
  j["vm_uuid"] = req.vm_uuid;
  j["from"] = req.from_host;
  j["to"] = req.to_host;
  j["from_uri"] = req.from_uri;
  j["to_uri"] = req.to_uri;
  Record(j);
  Status st = actuator_->Start(req);
  if (!st.ok()) {
    Record({{"event", "migration_failed"},
            {"id", req.id},
            {"vm", req.vm_name},
            {"vm_uuid", req.vm_uuid},
            {"from", req.from_host},
            {"to", req.to_host},
            {"error", st.message()},
            {"at_ms", NowMs()}});
  }
  return st;
}

MigrationOptions Balancer::MigrationOptionsOf(const core::Policy& policy) {
  MigrationOptions o;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(policy.migration.timeout);
  o.bandwidth_mib_per_second =
      static_cast<std::uint64_t>(policy.migration.bandwidth_mib_per_second);
  o.max_downtime = policy.migration.max_downtime;
  return o;
}

void Balancer::CollectFinished() {
  for (MigrationResult& r : actuator_->TakeFinished()) {
    const auto& q = r.request;
    nlohmann::json j = {{"id", q.id},
                        {"vm", q.vm_name},
                        {"vm_uuid", q.vm_uuid},
                        {"from", q.from_host},
                        {"to", q.to_host},
                        {"vm_on", r.vm_on},
                        {"duration_ms", r.duration.count()},
                        {"bytes", r.bytes},
                        {"at_ms", NowMs()}};
    if (r.downtime) j["downtime_ms"] = r.downtime->count();
    if (!r.error.empty()) j["error"] = r.error;
    if (metrics_) {
      metrics_->OnMigrationFinished(MigrationOutcomeName(r.outcome), q.strategy, r.duration,
                                    r.downtime, r.bytes);
    }
    switch (r.outcome) {
      case MigrationOutcome::kSucceeded:
        j["event"] = "migration_finished";
        BLOG(kInfo) << "migrated " << q.vm_name << " from " << q.from_host << " to " << q.to_host
                    << " in " << r.duration.count() << " ms"
                    << (r.downtime ? " (downtime " + std::to_string(r.downtime->count()) + " ms)"
                                   : "");
        recent_.push_back({q.vm_uuid, q.from_host, q.to_host, WallClock::now()});
        pair_backoff_.erase({q.from_host, q.to_host});
        AfterMove(q.vm_uuid, q.from_host, q.to_host);
        break;
      case MigrationOutcome::kFailed:
      case MigrationOutcome::kAborted: {
        j["event"] =
            r.outcome == MigrationOutcome::kAborted ? "migration_aborted" : "migration_failed";
        BLOG(kError) << "migration of " << q.vm_name << " from " << q.from_host << " to "
                     << q.to_host << " " << MigrationOutcomeName(r.outcome) << ": " << r.error
                     << "; " << q.vm_name << " runs on "
                     << (r.vm_on.empty() ? "no host found" : r.vm_on);
        auto& b = pair_backoff_[{q.from_host, q.to_host}];
        const auto first = policy_store_.current()->migration.failure_backoff;
        b.delay = std::min(b.delay.count() == 0 ? first : b.delay * 2, std::chrono::seconds(1800));
        b.until = SteadyClock::now() + b.delay;
        b.last_error = r.error;
        failed_vms_[q.vm_uuid] = SteadyClock::now() + b.delay;
        // The hosts' samples from during the attempt are not worth acting on.
        model_.ClearHistory(q.from_host);
        model_.ClearHistory(q.to_host);
        break;
      }
    }
    Record(j);
  }
}

void Balancer::AfterMove(const std::string& uuid, const std::string& from, const std::string& to) {
  model_.MoveVm(uuid, to);
  model_.ClearHistory(from);
  model_.ClearHistory(to);
}

void Balancer::PruneRecent(WallClock::time_point now, std::chrono::seconds keep) {
  std::erase_if(recent_,
                [&](const core::FinishedMigration& f) { return now - f.finished_at > keep; });
}

void Balancer::WriteStatus(SteadyClock::time_point now) {
  Status st = WriteFileAtomically(config_.status_file, StatusJson(now).dump(2));
  if (!st.ok()) BLOG(kWarning) << st.message();
}

nlohmann::json Balancer::StatusJson(SteadyClock::time_point now) const {
  auto j = ClusterToJson(model_, now);
  const auto policy0 = policy_store_.current();
  for (auto& h : j["hosts"]) {
    const std::string name = h["name"];
    h["maintenance"] = maintenance_.count(name) != 0;
    const HostView* hv = model_.host(name);
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
  j["paused"] = paused_;
  j["maintenance"] = maintenance_;
  const auto policy = policy_store_.current();
  j["endpoint"] = sub_->endpoint();
  j["metrics_port"] = metrics_ ? metrics_->port() : 0;
  j["decode_errors"] = decode_stats_.TotalRejected();
  j["samples_accepted"] = decode_stats_.accepted;
  j["auth_rejected"] = sub_->stats().auth_rejected.load();
  j["topic_mismatch"] = sub_->stats().topic_mismatch.load();
  j["policy"] = {{"name", policy->name},
                 {"file", config_.policy_file},
                 {"generation", policy_store_.generation()},
                 {"mode", core::ModeName(policy->mode)},
                 {"reload_failures", policy_reload_failures_},
                 {"cpu_hot", policy->threshold(core::Resource::kCpu).hot}};
  j["plans"] = plans_;
  j["reconciled"] = Reconciled();
  nlohmann::json in_flight = nlohmann::json::array();
  for (const auto& p : actuator_->InFlight()) {
    in_flight.push_back({{"id", p.request.id},
                         {"vm", p.request.vm_name},
                         {"from", p.request.from_host},
                         {"to", p.request.to_host},
                         {"elapsed_ms", p.elapsed.count()},
                         {"data_processed", p.data_processed},
                         {"data_remaining", p.data_remaining}});
  }
  for (const auto& [uuid, m] : external_) {
    in_flight.push_back(
        {{"id", m.id}, {"vm", m.vm_name}, {"from", m.from}, {"to", m.to}, {"external", true}});
  }
  j["in_flight"] = in_flight;
  nlohmann::json moves = nlohmann::json::array();
  nlohmann::json unrelieved = nlohmann::json::array();
  for (const auto& m : last_plan_.moves) moves.push_back(MoveJson(m));
  for (const auto& u : last_plan_.unrelieved) unrelieved.push_back(UnrelievedJson(u));
  j["last_plan"] = {
      {"mode", core::ModeName(last_plan_.mode)}, {"moves", moves}, {"unrelieved", unrelieved}};
  return j;
}

int Balancer::Shutdown() {
  BLOG(kInfo) << "stopping: no more plans; waiting up to "
              << std::chrono::duration_cast<std::chrono::seconds>(config_.shutdown_grace).count()
              << " s for migrations in flight";
  const bool idle = actuator_->WaitIdle(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.shutdown_grace));
  CollectFinished();
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
