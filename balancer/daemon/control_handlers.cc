// The control endpoint (ballastctl): requests over CURVE from admin and viewer keys,
// answered on the loop thread between samples, except what reads the journal (explain,
// history: up to journal_keep x journal_max_bytes), which runs on a thread of its own and is
// answered when done, so ingest and planning never wait for it. See docs/ballastctl.md for
// the verbs and their JSON.

#include <algorithm>
#include <deque>

#include "balancer/daemon/balancer_loop.h"

namespace ballast::balancer_internal {

void Balancer::SendReply(const std::string& peer, control::ControlReply reply) {
  reply.set_api_version(kControlApiVersion);
  Status st = control_->Reply(peer, reply.SerializeAsString());
  if (!st.ok()) BLOG(kWarning) << st.message();
}

void Balancer::ServeControl() {
  if (!control_) return;
  // Journal readers that finished: their replies go out from this thread (the socket's).
  for (auto it = journal_readers_.begin(); it != journal_readers_.end();) {
    if (it->reply.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    SendReply(it->peer, it->reply.get());
    it = journal_readers_.erase(it);
  }
  for (int i = 0; i < 16; ++i) {  // bounded per iteration: ingest never starves
    auto m = control_->Poll(std::chrono::milliseconds(0));
    if (!m) return;
    std::optional<control::ControlReply> reply = HandleControl(*m);
    if (reply) SendReply(m->peer, std::move(*reply));
  }
}

std::optional<control::ControlReply> Balancer::ReadJournalForReply(
    const std::string& peer, std::function<control::ControlReply()> job) {
  if (journal_readers_.size() >= kMaxJournalReaders) {
    return Error("unavailable", "busy: " + std::to_string(kMaxJournalReaders) +
                                    " journal reads are under way; try again");
  }
  journal_readers_.push_back({peer, RunDetached(std::move(job))});
  return std::nullopt;
}

control::ControlReply Balancer::Ok(const nlohmann::json& payload) {
  control::ControlReply r;
  r.set_ok(true);
  r.set_payload_json(payload.dump());
  return r;
}

control::ControlReply Balancer::Error(const std::string& code, const std::string& message,
                                      const nlohmann::json& payload) {
  control::ControlReply r;
  r.set_ok(false);
  r.set_error_code(code);
  r.set_error(message);
  if (!payload.is_null()) r.set_payload_json(payload.dump());
  return r;
}

std::optional<control::ControlReply> Balancer::HandleControl(const ControlMessage& m) {
  control::ControlRequest req;
  if (!req.ParseFromString(m.payload)) {
    BLOG(kWarning) << "malformed control request from admin '" << m.admin << "' ("
                   << m.payload.size() << " bytes)";
    return Error("bad_request", "malformed request: not a ballast.control.ControlRequest");
  }
  if (req.api_version() != kControlApiVersion) {
    return Error("unsupported_version", "this balancer speaks control API version " +
                                            std::to_string(kControlApiVersion) + ", not " +
                                            std::to_string(req.api_version()));
  }
  BLOG(kDebug) << "control request " << req.verb_case() << " from admin '" << m.admin << "'";
  const bool mutating = req.verb_case() == control::ControlRequest::kMigrate ||
                        req.verb_case() == control::ControlRequest::kDrain ||
                        req.verb_case() == control::ControlRequest::kUndrain ||
                        req.verb_case() == control::ControlRequest::kPause ||
                        req.verb_case() == control::ControlRequest::kResume;
  if (mutating && ha_ && !ha_->Leading()) {
    // Refused, not forwarded: the admin sees who leads and asks it (a forward would need
    // this standby to hold the leader's control key and address).
    const std::string leader = ha_->leader();
    return Error("not_leader",
                 leader.empty() ? "this balancer (" + ha_->name() +
                                      ") is not the leader and no leader is known (etcd " +
                                      (ha_->etcd_reachable() ? "reachable" : "UNREACHABLE") +
                                      "): nothing may change now"
                                : "this balancer (" + ha_->name() +
                                      ") is a standby; ask the leader '" + leader + "'",
                 {{"leader", leader}});
  }
  switch (req.verb_case()) {
    case control::ControlRequest::kStatus:
      return Ok(StatusJson(SteadyClock::now()));
    case control::ControlRequest::kPlan:
      return Ok(PlanNow(*policy_store_.current()));
    case control::ControlRequest::kExplain:
      return Explain(m.peer, req.explain().vm());
    case control::ControlRequest::kMigrate:
      return Migrate(req.migrate(), m.admin);
    case control::ControlRequest::kDrain:
      return Drain(req.drain().host(), true, m.admin);
    case control::ControlRequest::kUndrain:
      return Drain(req.undrain().host(), false, m.admin);
    case control::ControlRequest::kPause:
      return Pause(true, req.pause().reason(), m.admin);
    case control::ControlRequest::kResume:
      return Pause(false, "", m.admin);
    case control::ControlRequest::kHistory:
      return History(m.peer, req.history());
    case control::ControlRequest::kPolicyDiff:
      return PolicyDiff(req.policy_diff());
    case control::ControlRequest::VERB_NOT_SET:
      break;
  }
  return Error("bad_request", "request names no verb");
}

nlohmann::json Balancer::PlanJson(const core::Plan& plan) {
  nlohmann::json moves = nlohmann::json::array();
  nlohmann::json unrelieved = nlohmann::json::array();
  for (const auto& mv : plan.moves) moves.push_back(MoveJson(mv));
  for (const auto& u : plan.unrelieved) unrelieved.push_back(UnrelievedJson(u));
  return {{"policy", plan.policy_name},
          {"mode", core::ModeName(plan.mode)},
          {"moves", moves},
          {"unrelieved", unrelieved}};
}

nlohmann::json Balancer::PlanNow(const core::Policy& policy) const {
  nlohmann::json j = PlanJson(controller_->PlanNow(policy));
  j["paused"] = controller_->paused();
  j["reconciled"] = controller_->Reconciled();
  return j;
}

const VmView* Balancer::FindVm(const std::string& key) const {
  if (const VmView* v = controller_->model().vm(key)) return v;
  return controller_->model().vm_by_name(key);
}

// How `s` appears inside the journal's JSON text (escaped, without the quotes).
std::string Balancer::JsonText(const std::string& s) {
  const std::string quoted =
      nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

bool Balancer::RecordMentions(const nlohmann::json& r, const std::string& uuid,
                              const std::string& name) {
  return r.value("vm_uuid", "") == uuid || r.value("vm", "") == name;
}

std::optional<control::ControlReply> Balancer::Explain(const std::string& peer,
                                                       const std::string& key) {
  const VmView* v = FindVm(key);
  if (v == nullptr) return Error("not_found", "no VM named or with UUID '" + key + "'");
  // What the loop knows now, copied; the journal is read on a thread of its own.
  nlohmann::json now = nullptr;
  for (const auto& mv : controller_->last_plan().moves) {
    if (mv.vm_uuid == v->uuid) now = MoveJson(mv);
  }
  const HostView* h = controller_->model().host(v->host);
  nlohmann::json base = {
      {"vm", v->name},
      {"uuid", v->uuid},
      {"host", v->host},
      {"state", VmStateName(v->state)},
      {"vcpus", v->vcpus},
      {"cpu_cores", v->cpu_cores ? nlohmann::json(*v->cpu_cores) : nlohmann::json(nullptr)},
      {"memory_bytes", v->memory_bytes},
      {"host_cpu_utilization", h ? h->cpu_utilization : 0.0},
      {"host_memory_utilization", h ? h->memory_utilization : 0.0},
      {"planned_now", now},
      {"in_flight", controller_->InFlight(v->uuid)}};
  return ReadJournalForReply(peer, [file = config_.journal_file, base = std::move(base),
                                    uuid = v->uuid, name = v->name, host = v->host]() mutable {
    std::deque<nlohmann::json> decisions;  // the newest 20
    std::string why_here = "Ballast has not moved " + name +
                           " (as far as its journal reaches): it runs where it was started";
    std::map<std::string, nlohmann::json> started;  // by id, until its outcome
    const std::string uuid_text = JsonText(uuid);
    const std::string name_text = JsonText(name);
    Journal::ForEachLine(file, [&](std::string_view line) {
      // Only lines that name the VM are parsed.
      if (line.find(uuid_text) == std::string_view::npos &&
          line.find(name_text) == std::string_view::npos) {
        return true;
      }
      auto r = Journal::ParseLine(line);
      if (!r || !RecordMentions(*r, uuid, name)) return true;
      const std::string ev = r->value("event", "");
      const std::string id = r->value("id", "");
      if (ev == "migration_started") started[id] = *r;
      if (ev == "migration_finished" && r->value("to", "") == host) {
        const auto s0 = started.find(id);
        why_here =
            "moved from " + r->value("from", std::string("?")) + " to " +
            r->value("to", std::string("?")) + " at " + r->value("ts", std::string("?")) + ": " +
            (s0 == started.end()
                 ? std::string("(no explanation recorded)")
                 : s0->second.value("explanation", std::string("(no explanation recorded)")));
      }
      if (ev == "migration_finished" || ev == "migration_failed" || ev == "migration_aborted") {
        started.erase(id);
      }
      decisions.push_back(std::move(*r));
      if (decisions.size() > 20) decisions.pop_front();
      return true;
    });
    base["why_here"] = why_here;
    nlohmann::json list = nlohmann::json::array();
    for (auto& d : decisions) list.push_back(std::move(d));
    base["decisions"] = std::move(list);
    return Ok(base);
  });
}

control::ControlReply Balancer::Migrate(const control::MigrateRequest& r,
                                        const std::string& admin) {
  const VmView* v = FindVm(r.vm());
  if (v == nullptr) return Error("not_found", "no VM named or with UUID '" + r.vm() + "'");
  const std::string from = v->host;
  const std::string name = v->name;
  controller::ManualMoveResult res =
      controller_->StartManualMove(v->uuid, r.host(), r.force(), admin);
  if (!res.started) {
    if (res.error_code == "refused") {
      return Error("refused", res.error,
                   {{"rule", res.check.rule},
                    {"forceable", res.check.forceable},
                    {"explanation", res.check.explanation}});
    }
    return Error(res.error_code, res.error);
  }
  return Ok({{"id", res.request.id},
             {"vm", name},
             {"from", from},
             {"to", r.host()},
             {"forced", !res.check.allowed},
             {"explanation", res.explanation}});
}

control::ControlReply Balancer::Drain(const std::string& host, bool drain,
                                      const std::string& admin) {
  auto changed = controller_->SetMaintenance(host, drain, admin);
  if (!changed.ok()) return Error("not_found", changed.status().message());
  const HostView* h = controller_->model().host(host);
  nlohmann::json warnings = nlohmann::json::array();
  const auto policy = policy_store_.current();
  if (drain) {
    if (std::find(policy->strategies.begin(), policy->strategies.end(),
                  core::StrategyKind::kDrain) == policy->strategies.end()) {
      warnings.push_back("the policy's strategies do not include drain: nothing will move");
    }
    if (policy->mode != core::Mode::kAutomatic) {
      warnings.push_back("the policy's mode is " + std::string(core::ModeName(policy->mode)) +
                         ": nothing will move");
    }
    if (controller_->paused()) {
      warnings.push_back("automation is paused: nothing will move until resume");
    }
  }
  return Ok({{"host", host},
             {"maintenance", drain},
             {"changed", *changed},
             {"vms_left", h ? h->vm_uuids.size() : 0},
             {"warnings", warnings}});
}

control::ControlReply Balancer::Pause(bool pause, const std::string& reason,
                                      const std::string& admin) {
  const bool changed = controller_->SetPaused(pause, reason, admin);
  return Ok({{"paused", controller_->paused()}, {"changed", changed}});
}

std::optional<control::ControlReply> Balancer::History(const std::string& peer,
                                                       const control::HistoryRequest& r) {
  std::string uuid;
  if (!r.vm().empty()) {
    const VmView* v = FindVm(r.vm());
    if (v != nullptr) uuid = v->uuid;
  }
  return ReadJournalForReply(peer, [file = config_.journal_file, r, uuid] {
    const std::size_t limit = r.limit() == 0 ? 100 : r.limit();
    // Records carry "ts" (RFC 3339, UTC, ms): compared as text against the same form.
    const std::string since =
        r.since_unix_ms() > 0
            ? Rfc3339(WallClock::time_point(std::chrono::milliseconds(r.since_unix_ms())))
            : "";
    // Raw-text prefilters: a line that does not contain the VM's or the host's name cannot
    // match, and is not parsed.
    std::vector<std::string> vm_texts;
    if (!r.vm().empty()) vm_texts = {JsonText(r.vm()), JsonText(uuid)};
    const std::string host_text = r.host().empty() ? "" : JsonText(r.host());
    std::vector<nlohmann::json> newest;  // newest first
    Journal::ForEachLineNewestFirst(file, [&](std::string_view line) {
      if (!vm_texts.empty() &&
          std::none_of(vm_texts.begin(), vm_texts.end(), [&](const std::string& t) {
            return !t.empty() && line.find(t) != std::string_view::npos;
          })) {
        return true;
      }
      if (!host_text.empty() && line.find(host_text) == std::string_view::npos) return true;
      auto rec = Journal::ParseLine(line);
      if (!rec) return true;
      if (!since.empty() && rec->value("ts", "") < since) {
        return false;  // older still from here on
      }
      if (!r.vm().empty() && !(rec->value("vm", "") == r.vm() ||
                               (!uuid.empty() && rec->value("vm_uuid", "") == uuid) ||
                               rec->value("vm_uuid", "") == r.vm())) {
        return true;
      }
      if (!r.host().empty() && rec->value("from", "") != r.host() &&
          rec->value("to", "") != r.host() && rec->value("host", "") != r.host()) {
        return true;
      }
      newest.push_back(std::move(*rec));
      return newest.size() < limit;
    });
    nlohmann::json records = nlohmann::json::array();
    for (auto it = newest.rbegin(); it != newest.rend(); ++it) records.push_back(std::move(*it));
    return Ok({{"records", std::move(records)}});
  });
}

control::ControlReply Balancer::PolicyDiff(const control::PolicyDiffRequest& r) const {
  auto candidate = policy::LoadPolicyFromString(r.yaml(), r.name().empty() ? "policy" : r.name());
  if (!candidate.ok()) return Error("bad_request", candidate.status().message());
  const auto now = WallClock::now();
  const core::ClusterState state = controller_->Snapshot();
  const auto current = policy_store_.current();
  core::Plan a = core::MakePlan(state, *current, now);
  core::Plan b = core::MakePlan(state, *candidate, now);
  auto key = [](const core::Move& m) { return m.vm_uuid + ">" + m.to; };
  std::set<std::string> ka, kb;
  for (const auto& m : a.moves) ka.insert(key(m));
  for (const auto& m : b.moves) kb.insert(key(m));
  nlohmann::json added = nlohmann::json::array();
  nlohmann::json dropped = nlohmann::json::array();
  for (const auto& m : b.moves)
    if (ka.count(key(m)) == 0) added.push_back(MoveJson(m));
  for (const auto& m : a.moves)
    if (kb.count(key(m)) == 0) dropped.push_back(MoveJson(m));
  return Ok({{"current", PlanJson(a)},
             {"candidate", PlanJson(b)},
             {"added", added},
             {"dropped", dropped}});
}

}  // namespace ballast::balancer_internal
