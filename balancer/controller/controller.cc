#include "balancer/controller/controller.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "balancer/controller/snapshot.h"
#include "balancer/core/planner.h"
#include "common/log.h"

namespace ballast::controller {
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

Controller::Controller(ControllerOptions options, Env env,
                       std::shared_ptr<const core::Policy> policy)
    : options_(std::move(options)), env_(env), policy_(std::move(policy)), model_(options_.model) {}

void Controller::Start(const std::vector<nlohmann::json>& journal_records) {
  for (const auto& r : journal_records) ReplayJournalRecord(r);
  Start();
}

void Controller::Start() {
  auto state = env_.state->Load();
  if (!state.ok()) {
    // An admin may have paused automation for a reason this balancer cannot read any more:
    // moving VMs now could undo it. Paused until an admin resumes.
    paused_ = true;
    BLOG(kError) << "cannot read the saved drain/pause state (" << state.status().message()
                 << "): automation PAUSED until an admin resumes it (ballastctl resume); "
                    "hosts drained before are not known";
    (void)Record(
        {{"event", "state_unreadable"}, {"error", state.status().message()}, {"paused", true}});
  } else if (state->has_value()) {
    maintenance_ = (*state)->maintenance;
    paused_ = (*state)->paused;
    if (!maintenance_.empty() || paused_) {
      BLOG(kInfo) << "saved state: " << (paused_ ? "automation PAUSED; " : "")
                  << maintenance_.size() << " host(s) in maintenance";
    }
  }
  if (env_.observer) env_.observer->OnPausedChanged(paused_);
  AdoptJournalLeftovers();
  next_plan_ = env_.clock->Steady() + options_.startup_grace;
  started_ = true;
}

void Controller::SetPolicy(std::shared_ptr<const core::Policy> policy) {
  policy_ = std::move(policy);
}

Status Controller::Record(nlohmann::json record) { return Record(std::move(record), true); }

Status Controller::Record(nlohmann::json record, bool keep_if_unwritten) {
  if (options_.dry_run && record.contains("event")) {
    const std::string ev = record["event"];
    if (ev.rfind("migration_", 0) == 0) record["dry_run"] = true;
  }
  const WallTime wall = env_.clock->Wall();
  const SteadyTime now = env_.clock->Steady();
  auto keep = [&](Status st) {
    if (keep_if_unwritten) Keep(std::move(record), wall);
    return st;
  };
  if (!journal_ok_ && now < journal_retry_at_) {
    return keep(Status::Unavailable(
        "the journal is not writable (retried every " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(options_.journal_retry).count()) +
        " s)"));
  }
  // What could not be written before goes first: the journal keeps the order of events.
  if (!unwritten_.empty() && !FlushUnwritten()) {
    return keep(Status::Unavailable("the journal is not writable"));
  }
  Status st = env_.journal->Append(record, wall);
  if (!st.ok()) {
    JournalDown(st);
    return keep(st);
  }
  JournalUp(true);
  return st;
}

void Controller::Keep(nlohmann::json record, WallTime at) {
  // Outcomes, cooldowns' evidence and admin actions must reach the journal eventually (a
  // restart reads them); bounded, so a journal down for days cannot exhaust memory.
  if (unwritten_.size() >= kMaxUnwritten) {
    unwritten_.pop_front();
    ++unwritten_dropped_;
  }
  unwritten_.emplace_back(std::move(record), at);
}

bool Controller::FlushUnwritten() {
  while (!unwritten_.empty()) {
    Status st = env_.journal->Append(unwritten_.front().first, unwritten_.front().second);
    if (!st.ok()) {
      JournalDown(st);
      return false;
    }
    unwritten_.pop_front();
  }
  if (unwritten_dropped_ > 0) {
    BLOG(kError) << "journal: " << unwritten_dropped_
                 << " records were lost while it could not be written (at most " << kMaxUnwritten
                 << " are kept)";
    (void)env_.journal->Append({{"event", "journal_records_lost"}, {"count", unwritten_dropped_}},
                               env_.clock->Wall());
    unwritten_dropped_ = 0;
  }
  JournalUp(true);
  return true;
}

void Controller::JournalDown(const Status& st) {
  const SteadyTime now = env_.clock->Steady();
  journal_retry_at_ = now + options_.journal_retry;
  if (!journal_ok_) {
    BLOG(kDebug) << "journal: " << st.message();
    return;
  }
  journal_ok_ = false;
  journal_down_since_ = now;
  BLOG(kError) << "journal: " << st.message()
               << ": NO MIGRATION STARTS until the journal can be written again "
                  "(planning goes on, recommend only; records are kept and written then)";
  if (env_.observer) env_.observer->OnJournalHealth(false);
}

void Controller::JournalUp(bool write_resumed) {
  if (journal_ok_) return;
  journal_ok_ = true;
  const SteadyTime now = env_.clock->Steady();
  BLOG(kWarning)
      << "journal writable again after "
      << std::chrono::duration_cast<std::chrono::seconds>(now - journal_down_since_).count()
      << " s: migrations may start again";
  if (env_.observer) env_.observer->OnJournalHealth(true);
  if (!write_resumed) return;
  (void)env_.journal->Append(ResumedRecord(now), env_.clock->Wall());
}

nlohmann::json Controller::ResumedRecord(SteadyTime now) const {
  return {
      {"event", "journal_resumed"},
      {"down_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(now - journal_down_since_).count()}};
}

void Controller::RetryJournal(SteadyTime now) {
  if (journal_ok_ || now < journal_retry_at_) return;
  if (!unwritten_.empty()) {
    (void)FlushUnwritten();
    return;
  }
  // Nothing waits to be written: the journal_resumed record is the probe.
  Status st = env_.journal->Append(ResumedRecord(now), env_.clock->Wall());
  if (st.ok()) {
    JournalUp(/*write_resumed=*/false);
  } else {
    JournalDown(st);
  }
}

void Controller::RetireSilentHosts(SteadyTime now) {
  if (options_.retire_after.count() <= 0) return;
  // A walk over every host: once a second is soon enough for a limit of minutes to hours (at
  // 10,000 hosts, walking them on every pass of the loop cost more than the samples did).
  if (now < next_retire_check_) return;
  next_retire_check_ = now + std::chrono::seconds(1);
  std::vector<std::string> retire;
  for (const auto& [name, h] : model_.hosts()) {
    if (h.stale && now - h.last_seen > options_.retire_after) retire.push_back(name);
  }
  for (const std::string& name : retire) {
    // Its VMs' migrations (ours or not) are still watched through own_/external_.
    const std::size_t vms = model_.RemoveHost(name);
    reconciled_hosts_.erase(name);
    host_queries_.erase(name);
    if (left_out_.erase(name) > 0 && env_.observer) {
      env_.observer->OnHostsLeftOut(left_out_.size());
    }
    if (claims_mismatch_.erase(name) > 0 && env_.observer) {
      env_.observer->OnHostClaimsMismatch(claims_mismatch_.size());
    }
    DropFromDuplicates(name);
    std::erase_if(pair_backoff_, [&](const auto& kv) {
      return kv.first.first == name || kv.first.second == name;
    });
    BLOG(kWarning)
        << "host '" << name << "' retired: silent for more than "
        << std::chrono::duration_cast<std::chrono::seconds>(options_.retire_after).count()
        << " s; forgotten with its " << vms << " VM(s) (it joins again when it reports)";
    (void)Record({{"event", "host_retired"}, {"host", name}, {"vms_forgotten", vms}});
  }
}

long long Controller::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             env_.clock->Wall().time_since_epoch())
      .count();
}

// --- the host inventory and duplicate VMs ----------------------------------------------

std::optional<HostEndpoints> Controller::EndpointsOf(const std::string& host) const {
  if (!options_.inventory.trusts_claims()) return options_.inventory.Resolve(host);
  const HostView* h = model_.host(host);
  if (h == nullptr) return std::nullopt;
  return HostEndpoints{h->identity.libvirt_uri, h->identity.migration_address};
}

std::string Controller::UriOf(const std::string& host) const {
  auto ep = EndpointsOf(host);
  return ep ? ep->libvirt_uri : "";
}

void Controller::CheckClaims(const HostSample& sample, SteadyTime now) {
  if (options_.inventory.trusts_claims()) return;
  const std::string& name = sample.host.name;
  const auto want = options_.inventory.Resolve(name);
  std::string reason;
  if (!want) {
    reason = "not_in_inventory";
  } else if (sample.host.libvirt_uri != want->libvirt_uri) {
    reason = "libvirt_uri";
  } else if (sample.host.migration_address != want->migration_address) {
    reason = "migration_address";
  }
  auto it = claims_mismatch_.find(name);
  if (reason.empty()) {
    if (it == claims_mismatch_.end()) return;
    const bool announced = it->second.announced;
    claims_mismatch_.erase(it);
    if (env_.observer) env_.observer->OnHostClaimsMismatch(claims_mismatch_.size());
    if (!announced) return;  // its mismatch was not said either (rate limit)
    BLOG(kInfo) << "host '" << BoundedForLog(name)
                << "' claims its inventory endpoints again: planned again";
    (void)Record({{"event", "host_claims_match"}, {"host", BoundedForLog(name)}});
    return;
  }
  const std::string uri = BoundedForLog(sample.host.libvirt_uri, 256);
  const std::string address = BoundedForLog(sample.host.migration_address, 128);
  if (it != claims_mismatch_.end()) {
    // Still mismatched: said once (a different wrong claim says nothing new that matters).
    it->second.reason = reason;
    it->second.claimed_uri = uri;
    it->second.claimed_migration_address = address;
    return;
  }
  ClaimsMismatch& m = claims_mismatch_[name];
  m = {reason, uri, address, now, false};
  if (env_.observer) env_.observer->OnHostClaimsMismatch(claims_mismatch_.size());
  std::uint64_t suppressed = 0;
  if (!claims_log_.ShouldLog(name, now, &suppressed)) return;
  m.announced = true;
  const std::string why = reason == "not_in_inventory" ? "it is not in the inventory"
                          : reason == "libvirt_uri"
                              ? "it claims libvirt_uri '" + uri + "', the inventory says '" +
                                    BoundedForLog(want->libvirt_uri, 256) + "'"
                              : "it claims migration_address '" + address +
                                    "', the inventory says '" +
                                    BoundedForLog(want->migration_address, 128) + "'";
  BLOG(kError) << "host '" << BoundedForLog(name) << "' left out of planning: " << why
               << "; it is neither a source nor a target until its claims match (a "
                  "misconfigured collector, or a stolen collector key)"
               << (suppressed > 0 ? " (" + std::to_string(suppressed) + " more since the last line)"
                                  : "");
  nlohmann::json j = {{"event", "host_claims_mismatch"},
                      {"host", BoundedForLog(name)},
                      {"reason", reason},
                      {"claimed_libvirt_uri", uri},
                      {"claimed_migration_address", address}};
  if (want) {
    j["inventory_libvirt_uri"] = want->libvirt_uri;
    j["inventory_migration_address"] = want->migration_address;
  }
  (void)Record(std::move(j));
}

void Controller::TrackDuplicates(const HostSample& sample, SteadyTime now) {
  const std::string& name = sample.host.name;
  bool changed = false;
  for (const auto& c : cross_) {
    // A migration under way lists the VM on both hosts for a while: not a conflict.
    if (InFlight(c.vm_uuid)) continue;
    auto [it, added] = duplicates_.try_emplace(c.vm_uuid);
    DuplicateVm& d = it->second;
    if (added) d.since = now;
    d.hosts.insert(c.other_host);
    d.hosts.insert(name);
    if (const VmView* v = model_.vm(c.vm_uuid)) d.vm_name = BoundedForLog(v->name);
    changed |= added;
  }
  if (duplicates_.empty()) return;
  // Duplicates this host was part of but no longer lists: it is out of them.
  std::unordered_set<std::string_view> listed;
  for (auto it = duplicates_.begin(); it != duplicates_.end();) {
    DuplicateVm& d = it->second;
    if (d.hosts.count(name) != 0) {
      if (listed.empty()) {
        for (const VmSample& v : sample.vms) listed.insert(v.uuid);
      }
      if (listed.count(it->first) == 0) d.hosts.erase(name);
    }
    if (d.hosts.size() >= 2) {
      ++it;
      continue;
    }
    if (d.flagged) {
      BLOG(kInfo) << "VM " << d.vm_name << " (" << BoundedForLog(it->first)
                  << ") is reported by one host again: the conflict is over";
      (void)Record({{"event", "vm_conflict_cleared"},
                    {"vm", d.vm_name},
                    {"vm_uuid", BoundedForLog(it->first)},
                    {"host", d.hosts.empty() ? "" : *d.hosts.begin()}});
      changed = true;
    }
    it = duplicates_.erase(it);
  }
  if (changed && env_.observer) env_.observer->OnVmConflicts(vm_conflicts());
}

void Controller::DropFromDuplicates(const std::string& host) {
  for (auto& [uuid, d] : duplicates_) d.hosts.erase(host);
}

void Controller::ReviewDuplicates(SteadyTime now) {
  bool changed = false;
  for (auto it = duplicates_.begin(); it != duplicates_.end();) {
    DuplicateVm& d = it->second;
    const std::string uuid = BoundedForLog(it->first);
    if (d.hosts.size() < 2 || InFlight(it->first)) {
      // A host went stale, or a migration of it began: no longer a conflict.
      if (d.flagged) {
        BLOG(kInfo) << "VM " << d.vm_name << " (" << uuid << ") is no longer reported by two "
                    << "fresh hosts: the conflict is over";
        (void)Record({{"event", "vm_conflict_cleared"}, {"vm", d.vm_name}, {"vm_uuid", uuid}});
        changed = true;
      }
      it = duplicates_.erase(it);
      continue;
    }
    if (!d.flagged && now - d.since >= options_.duplicate_vm_grace) {
      d.flagged = true;
      changed = true;
      std::string hosts;
      for (const auto& h : d.hosts) hosts += (hosts.empty() ? "" : ", ") + BoundedForLog(h);
      BLOG(kError) << "VM " << d.vm_name << " (" << uuid << ") is reported by " << d.hosts.size()
                   << " hosts at once (" << hosts
                   << ") outside any migration the balancer knows of: it is not moved until "
                      "one host alone reports it (a split brain, or a collector claiming "
                      "another host's VM)";
      nlohmann::json list = nlohmann::json::array();
      for (const auto& h : d.hosts) list.push_back(BoundedForLog(h));
      (void)Record(
          {{"event", "vm_conflict"}, {"vm", d.vm_name}, {"vm_uuid", uuid}, {"hosts", list}});
    }
    ++it;
  }
  if (changed && env_.observer) env_.observer->OnVmConflicts(vm_conflicts());
}

std::size_t Controller::vm_conflicts() const {
  std::size_t n = 0;
  for (const auto& [uuid, d] : duplicates_) n += d.flagged ? 1 : 0;
  return n;
}

// --- ingest ----------------------------------------------------------------------------

void Controller::OnSample(const HostSample& sample) {
  const std::string& name = sample.host.name;
  const HostView* before = model_.host(name);
  const bool known = before != nullptr;
  const bool was_stale = known && before->stale;
  const SteadyTime now = env_.clock->Steady();
  cross_.clear();
  if (model_.Ingest(sample, now, &cross_) == IngestResult::kIgnoredOld) return;
  CheckClaims(sample, now);
  TrackDuplicates(sample, now);
  if (!known) {
    const auto ep = EndpointsOf(name);
    BLOG(kInfo) << "host '" << BoundedForLog(name) << "' joined ("
                << (ep ? BoundedForLog(ep->libvirt_uri, 256) : "not in the inventory") << ", "
                << sample.vms.size() << " VMs)";
  } else if (was_stale && !model_.host(name)->stale) {
    // Ingest clears the flag, so the staleness scan never sees this transition.
    BLOG(kWarning) << "host '" << name << "' is fresh again";
    (void)Record({{"event", "host_fresh"}, {"host", name}});
  }
}

// --- time ------------------------------------------------------------------------------

void Controller::Tick() {
  const SteadyTime now = env_.clock->Steady();
  for (const auto& name : model_.UpdateStaleness(now)) {
    const HostView* h = model_.host(name);
    BLOG(kWarning) << "host '" << name << "' is " << (h->stale ? "STALE" : "fresh again")
                   << (h->stale ? ": no sample recently; it is neither a source nor a "
                                  "target of any move"
                                : "");
    (void)Record({{"event", h->stale ? "host_stale" : "host_fresh"}, {"host", name}});
    if (h->stale) DropFromDuplicates(name);
  }
  RetryJournal(now);
  RetireSilentHosts(now);
  ReviewDuplicates(now);
  AskNewHosts(now);
  WatchExternal();
  // Not reconciled yet: asked again every tick, so the first plan follows reconciliation at
  // once instead of an interval later.
  if (started_ && now >= next_plan_ && PlanRound(now)) next_plan_ = now + policy_->interval;
}

// --- reconciliation --------------------------------------------------------------------

void Controller::ReplayJournalRecord(const nlohmann::json& r) {
  if (!r.is_object()) return;
  const std::string ev = r.value("event", "");
  if (ev.rfind("migration_", 0) != 0) return;
  // A dry run moved nothing: its records are neither cooldowns nor migrations to resolve.
  if (r.value("dry_run", false)) return;
  const std::string id = r.value("id", "");
  if (ev == "migration_started") {
    journal_open_[id] = r;
  } else if (ev == "migration_finished" || ev == "migration_failed" || ev == "migration_aborted") {
    journal_open_.erase(id);
    if (ev != "migration_finished") return;
    // The journal's "ts" is RFC 3339; the finish time in ms since the epoch is stored too.
    const auto at = WallTime(std::chrono::milliseconds(r.value("at_ms", 0LL)));
    const auto keep = std::max(policy_->limits.return_cooldown, policy_->limits.vm_cooldown);
    if (env_.clock->Wall() - at > keep) return;
    recent_.push_back({r.value("vm_uuid", ""), r.value("from", ""), r.value("to", ""), at});
  }
}

void Controller::AdoptJournalLeftovers() {
  for (auto& [id, r] : journal_open_) {
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
  journal_open_.clear();
  // Our own ids continue after the journal's: milliseconds since the epoch at start.
  next_id_ = static_cast<std::uint64_t>(NowMs());
}

void Controller::AskNewHosts(SteadyTime now) {
  // Every host answered (reconciled_hosts_ holds only hosts of the model): nothing to ask,
  // and no walk over all hosts on every pass of the loop.
  if (reconciled_hosts_.size() == model_.hosts().size()) return;
  for (const auto& [name, h] : model_.hosts()) {
    if (h.stale || reconciled_hosts_.count(name) != 0) continue;
    // Its claims do not match the inventory: excluded, asked once they match.
    if (claims_mismatch_.count(name) != 0) continue;
    const std::string uri = UriOf(name);
    if (uri.empty()) continue;
    HostQuery& q = host_queries_[name];  // left-out hosts are asked again too
    if (q.outstanding) {
      if (!q.warned && now - q.first_asked > options_.reconcile_wait) {
        // Planning without this host's answer is still safe from duplicates: libvirt
        // refuses to start a second migration job on a domain that has one.
        BLOG(kWarning)
            << "libvirt on host '" << name << "' has not said within "
            << std::chrono::duration_cast<std::chrono::seconds>(options_.reconcile_wait).count()
            << " s whether a migration runs there; planning anyway";
        (void)Record({{"event", "reconcile_timeout"}, {"host", name}});
        q.warned = true;
        reconciled_hosts_.insert(name);
      }
      continue;
    }
    if (now < q.retry_at) continue;
    if (q.first_asked == SteadyTime{}) q.first_asked = now;
    q.outstanding = true;
    env_.hypervisor->AskActiveJobs(name, uri);
  }
}

void Controller::OnActiveJobs(const std::string& host, const Result<std::vector<ActiveJob>>& jobs) {
  auto q = host_queries_.find(host);
  if (q != host_queries_.end()) q->second.outstanding = false;
  if (!jobs.ok()) {
    const SteadyTime now = env_.clock->Steady();
    if (q != host_queries_.end()) q->second.retry_at = now + options_.query_retry;
    const bool overdue =
        q != host_queries_.end() && now - q->second.first_asked > options_.reconcile_wait;
    if (overdue && left_out_.insert(host).second) {
      // Its libvirt cannot be reached: it could be neither source nor target of a
      // migration anyway. Left out, so that the rest of the cluster plans; asked again.
      BLOG(kError)
          << "host '" << host << "' left out of planning: its libvirt has not answered "
          << "for "
          << std::chrono::duration_cast<std::chrono::seconds>(options_.reconcile_wait).count()
          << " s (" << jobs.status().message()
          << "); it is neither a source nor a target until it answers";
      (void)Record({{"event", "host_left_out"},
                    {"host", host},
                    {"error", jobs.status().message().substr(0, 512)}});
    } else if (left_out_.count(host) == 0) {
      BLOG(kWarning) << "cannot check host '" << host
                     << "' for running migrations: " << jobs.status().message();
    }
    return;  // asked again shortly
  }
  if (left_out_.erase(host) > 0) {
    BLOG(kInfo) << "host '" << host << "' answers again: planned again";
    (void)Record({{"event", "host_rejoined"}, {"host", host}});
    if (env_.observer) env_.observer->OnHostsLeftOut(left_out_.size());
  }
  // Retired while it was asked: not reconciled (AskNewHosts relies on reconciled_hosts_
  // holding only hosts of the model); it is asked afresh if it joins again.
  if (model_.host(host) != nullptr) reconciled_hosts_.insert(host);
  if (q != host_queries_.end()) host_queries_.erase(q);
  const std::string uri = UriOf(host);
  for (const ActiveJob& j : *jobs) {
    if (InFlight(j.vm_uuid)) continue;
    BLOG(kWarning) << "host '" << host << "' has a job running on " << j.vm_name
                   << " that this balancer did not start: it will not be moved until the "
                      "job ends";
    external_[j.vm_uuid] = {"", j.vm_uuid, j.vm_name, host, "", uri, ""};
    (void)Record({{"event", "external_job_seen"}, {"vm", j.vm_name}, {"host", host}});
  }
}

void Controller::WatchExternal() {
  const SteadyTime now = env_.clock->Steady();
  for (auto& [uuid, m] : external_) {
    if (m.since == SteadyTime{}) m.since = now;
    if (!m.overdue && !m.id.empty() && now - m.since > options_.reconcile_wait) {
      // Its hosts do not say where the VM is: plan the rest of the cluster. The VM stays in
      // flight (never moved) until an answer comes.
      m.overdue = true;
      BLOG(kWarning)
          << "migration " << m.id << " of " << m.vm_name << " (from " << m.from << " to " << m.to
          << ") not resolved within "
          << std::chrono::duration_cast<std::chrono::seconds>(options_.reconcile_wait).count()
          << " s: planning the rest; " << m.vm_name << " is not moved until libvirt "
          << "says where it runs";
      (void)Record({{"event", "reconcile_timeout"}, {"vm", m.vm_name}, {"id", m.id}});
    }
    // A question unanswered for reconcile_wait is taken as lost (a hung libvirt call).
    if (probes_outstanding_.count(uuid) != 0 && now - m.asked > options_.reconcile_wait) {
      probes_outstanding_.erase(uuid);
    }
    if (!options_.inventory.trusts_claims()) {
      // Only the inventory's URIs, also for migrations a previous run journaled (its URIs may
      // have come from samples).
      m.from_uri = UriOf(m.from);
      m.to_uri = m.to.empty() ? "" : UriOf(m.to);
    } else {
      if (m.from_uri.empty()) m.from_uri = UriOf(m.from);
      if (m.to_uri.empty() && !m.to.empty()) m.to_uri = UriOf(m.to);
    }
    if (m.from_uri.empty() || probes_outstanding_.count(uuid) != 0) continue;
    if (m.asked != SteadyTime{} && now - m.asked < options_.query_retry) continue;
    probes_outstanding_.insert(uuid);
    m.asked = now;
    env_.hypervisor->AskWhereIs({m.vm_uuid, m.from, m.to, m.from_uri, m.to_uri});
  }
}

void Controller::OnVmProbe(const std::string& vm_uuid, const VmProbe& p) {
  probes_outstanding_.erase(vm_uuid);
  auto it = external_.find(vm_uuid);
  if (it == external_.end() || !p.answered || p.job_running) return;
  const ExternalMigration m = it->second;
  external_.erase(it);
  if (m.id.empty()) return;  // someone else's job ended: nothing of ours to record
  const bool moved = !p.where.empty() && p.where == m.to;
  const nlohmann::json outcome = {{"event", moved ? "migration_finished" : "migration_failed"},
                                  {"id", m.id},
                                  {"vm", m.vm_name},
                                  {"vm_uuid", m.vm_uuid},
                                  {"from", m.from},
                                  {"to", m.to},
                                  {"vm_on", p.where},
                                  {"at_ms", NowMs()},
                                  {"reconciled", true},
                                  {"detail", m.adopted ? "outcome found in libvirt after a failover"
                                                       : "outcome found in libvirt after a "
                                                         "balancer restart"}};
  (void)Record(outcome);
  FinishIntent(m.id, outcome);
  BLOG(kInfo) << "reconciled migration " << m.id << " of " << m.vm_name << ": "
              << (moved ? "it completed" : "it did not complete") << "; " << m.vm_name
              << " runs on " << (p.where.empty() ? "no known host" : p.where);
  if (moved) {
    recent_.push_back({m.vm_uuid, m.from, m.to, env_.clock->Wall()});
    AfterMove(m.vm_uuid, m.from, m.to);
  }
}

void Controller::TakeOver(const std::optional<PersistedState>& state,
                          const std::vector<nlohmann::json>& intents) {
  if (state) {
    const bool changed = state->maintenance != maintenance_ || state->paused != paused_;
    maintenance_ = state->maintenance;
    if (paused_ != state->paused && env_.observer) env_.observer->OnPausedChanged(state->paused);
    paused_ = state->paused;
    if (changed) {
      BLOG(kInfo) << "taking over the shared state: " << (paused_ ? "automation PAUSED; " : "")
                  << maintenance_.size() << " host(s) in maintenance";
      SaveState();
    }
  }
  const WallTime now = env_.clock->Wall();
  const auto keep = std::max(policy_->limits.return_cooldown, policy_->limits.vm_cooldown);
  std::size_t adopted = 0;
  for (const auto& r : intents) {
    const std::string ev = r.value("event", "");
    const std::string id = r.value("id", "");
    const std::string uuid = r.value("vm_uuid", "");
    if (uuid.empty() || r.value("dry_run", false)) continue;
    if (ev == "migration_finished") {
      const auto at = WallTime(std::chrono::milliseconds(r.value("at_ms", 0LL)));
      if (now - at > keep) continue;
      const bool known = std::any_of(recent_.begin(), recent_.end(), [&](const auto& f) {
        return f.vm_uuid == uuid && f.finished_at == at;
      });
      if (!known) recent_.push_back({uuid, r.value("from", ""), r.value("to", ""), at});
      continue;
    }
    if (ev != "migration_started" || InFlight(uuid)) continue;
    ExternalMigration m{id,
                        uuid,
                        r.value("vm", ""),
                        r.value("from", ""),
                        r.value("to", ""),
                        r.value("from_uri", ""),
                        r.value("to_uri", "")};
    m.adopted = true;
    BLOG(kWarning) << "taking over migration " << id << " of " << m.vm_name << " from " << m.from
                   << " to " << m.to
                   << " (started by the previous leader): checking libvirt before planning";
    (void)Record({{"event", "migration_adopted"},
                  {"id", id},
                  {"vm", m.vm_name},
                  {"vm_uuid", uuid},
                  {"from", m.from},
                  {"to", m.to}});
    external_[uuid] = std::move(m);
    ++adopted;
  }
  (void)Record({{"event", "leadership_taken"},
                {"migrations_adopted", adopted},
                {"maintenance", maintenance_},
                {"paused", paused_}});
}

bool Controller::Reconciled() const {
  for (const auto& [uuid, m] : external_) {
    // Ours from a previous run: wait for the outcome, at most reconcile_wait.
    if (!m.id.empty() && !m.overdue) return false;
  }
  for (const auto& [name, h] : model_.hosts()) {
    if (!h.stale && reconciled_hosts_.count(name) == 0 && left_out_.count(name) == 0 &&
        claims_mismatch_.count(name) == 0) {
      return false;
    }
  }
  return true;
}

// --- planning and admission ------------------------------------------------------------

core::ClusterState Controller::Snapshot() const {
  core::ClusterState state;
  SnapshotInto(state);
  return state;
}

void Controller::SnapshotInto(core::ClusterState& state) const {
  SnapshotInputs in;
  in.model = &model_;
  for (const auto& [uuid, m] : own_) {
    in.in_flight.push_back({uuid, m.request.from_host, m.request.to_host});
  }
  for (const auto& [uuid, m] : external_) in.in_flight.push_back({uuid, m.from, m.to});
  for (const auto& [uuid, m] : fencing_) {
    in.in_flight.push_back({uuid, m.request.from_host, m.request.to_host});
  }
  in.recent = recent_;
  in.maintenance_hosts = maintenance_;
  BuildClusterStateInto(in, state);
  if (!left_out_.empty() || !claims_mismatch_.empty()) {
    // Neither source nor target: to the core a left-out host, or one whose claims do not
    // match the inventory, is as good as silent.
    for (core::Host& h : state.hosts) {
      h.stale = h.stale || left_out_.count(h.name) != 0 || claims_mismatch_.count(h.name) != 0;
    }
  }
  if (!duplicates_.empty()) {
    for (core::Vm& v : state.vms) {
      auto d = duplicates_.find(v.uuid);
      v.reported_twice = d != duplicates_.end() && d->second.hosts.size() >= 2;
    }
  }
  if (!failed_vms_.empty()) {
    const SteadyTime now = env_.clock->Steady();
    for (core::Vm& v : state.vms) {
      auto f = failed_vms_.find(v.uuid);
      v.failed_recently = f != failed_vms_.end() && now < f->second;
    }
  }
}

core::Plan Controller::PlanNow(const core::Policy& policy) const {
  return core::MakePlan(Snapshot(), policy, env_.clock->Wall());
}

bool Controller::PlanRound(SteadyTime now) {
  if (model_.hosts().empty()) return false;
  if (!Reconciled()) {
    if (!said_reconciling_) BLOG(kInfo) << "not planning yet: reconciling with libvirt";
    said_reconciling_ = true;
    return false;
  }
  said_reconciling_ = false;
  const auto policy = policy_;  // one policy for the whole round
  const WallTime wall_now = env_.clock->Wall();
  Prune(wall_now);

  SnapshotInto(round_state_);
  const core::ClusterState& state = round_state_;
  const SteadyTime t0 = env_.clock->Steady();
  core::Plan plan = core::MakePlan(state, *policy, wall_now, plan_workspace_);
  const SteadyTime t1 = env_.clock->Steady();
  imbalance_ = plan.load_stddev;
  ++plans_;
  if (env_.observer) {
    // Decision latency: from the newest sample the plan saw to the plan.
    std::optional<std::chrono::nanoseconds> latency;
    for (const auto& [name, h] : model_.hosts()) {
      if (h.stale) continue;
      auto l = std::chrono::duration_cast<std::chrono::nanoseconds>(now - h.last_seen);
      if (!latency || l < *latency) latency = l;
    }
    env_.observer->OnPlan(plan, t1 - t0, latency);
  }
  JournalPlanChanges(plan);
  prev_skip_keys_ = std::exchange(skip_keys_, {});
  last_plan_ = std::move(plan);
  if (last_plan_.mode != core::Mode::kAutomatic || paused_) return true;
  if (env_.coordinator != nullptr && !env_.coordinator->Leading()) {
    // A standby (or nobody leads: etcd unreachable): the plan is kept warm, nothing starts.
    if (!last_plan_.moves.empty() && env_.observer) env_.observer->OnSkipped("standby");
    return true;
  }
  if (!journal_ok_) {
    // Journal first: without it a move could be repeated or forgotten after a crash.
    if (!last_plan_.moves.empty() && env_.observer) env_.observer->OnSkipped("journal_unavailable");
    return true;
  }
  for (const core::Move& m : last_plan_.moves) StartMove(m);
  return true;
}

void Controller::JournalPlanChanges(const core::Plan& plan) {
  std::set<std::string> keys;
  for (const auto& m : plan.moves) {
    const std::string key = "move:" + m.vm_uuid + ">" + m.to;
    keys.insert(key);
    if (last_keys_.count(key) != 0) continue;
    if (plan.mode == core::Mode::kRecommend) {
      BLOG(kInfo) << "recommend (not moving, mode recommend): " << m.explanation;
      if (env_.observer) env_.observer->OnRecommended(m);
      auto j = MoveJson(m);
      j["event"] = "recommended";
      (void)Record(j);
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
    (void)Record(j);
  }
  last_keys_ = std::move(keys);
}

void Controller::StartMove(const core::Move& m) {
  const HostView* from = model_.host(m.from);
  const HostView* to = model_.host(m.to);
  auto skip = [&](const std::string& code, const std::string& why) {
    if (env_.observer) env_.observer->OnSkipped(code);
    // Said once while the situation lasts, not every round.
    const std::string key = m.vm_uuid + ">" + m.to + ":" + why;
    skip_keys_.insert(key);
    if (prev_skip_keys_.count(key) != 0) return;
    BLOG(kWarning) << "skipping the move of " << m.vm_name << " to " << m.to << ": " << why;
    auto j = MoveJson(m);
    j["event"] = "skipped";
    j["skip_reason"] = why;
    (void)Record(j);
  };
  if (from == nullptr || to == nullptr) return skip("host_unknown", "host unknown");
  if (claims_mismatch_.count(m.from) != 0 || claims_mismatch_.count(m.to) != 0 ||
      !EndpointsOf(m.from) || !EndpointsOf(m.to)) {
    return skip("host_claims_mismatch",
                "a host's claims do not match the inventory (or it has no entry)");
  }
  if (auto d = duplicates_.find(m.vm_uuid); d != duplicates_.end() && d->second.hosts.size() >= 2) {
    return skip("duplicate_vm", "two hosts report it at once");
  }
  if (InFlight(m.vm_uuid)) return skip("in_flight", "a migration of it is under way");
  const SteadyTime now = env_.clock->Steady();
  auto pair = pair_backoff_.find({m.from, m.to});
  if (pair != pair_backoff_.end() && now < pair->second.until) {
    return skip("pair_backoff", "migrations from " + m.from + " to " + m.to + " failed recently (" +
                                    pair->second.last_error + "); backing off");
  }
  auto vm_fail = failed_vms_.find(m.vm_uuid);
  if (vm_fail != failed_vms_.end() && now < vm_fail->second) {
    return skip("vm_failed_recently", "its last migration failed; waiting before trying it again");
  }
  MigrationRequest req = RequestFor(m.vm_uuid, m.vm_name, *from, *to);
  req.strategy = std::string(core::StrategyName(m.reason.strategy));
  if (!Launch(req, MoveJson(m), &m).ok()) return;
  BLOG(kInfo) << "migrating " << m.vm_name << " from " << m.from << " to " << m.to << " (" << req.id
              << "): " << m.explanation;
}

MigrationRequest Controller::RequestFor(const std::string& uuid, const std::string& name,
                                        const HostView& from, const HostView& to) {
  MigrationRequest req;
  req.id = "m-" + std::to_string(next_id_++);
  req.vm_uuid = uuid;
  req.vm_name = name;
  req.from_host = from.identity.name;
  req.to_host = to.identity.name;
  // The inventory's endpoints, never a sample's (callers checked that both hosts have some).
  const auto from_ep = EndpointsOf(from.identity.name).value_or(HostEndpoints{});
  const auto to_ep = EndpointsOf(to.identity.name).value_or(HostEndpoints{});
  req.from_uri = from_ep.libvirt_uri;
  req.to_uri = to_ep.libvirt_uri;
  req.to_migration_address = to_ep.migration_address;
  const core::Policy& policy = *policy_;
  req.options.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(policy.migration.timeout);
  req.options.bandwidth_mib_per_second =
      static_cast<std::uint64_t>(policy.migration.bandwidth_mib_per_second);
  req.options.max_downtime = policy.migration.max_downtime;
  return req;
}

Status Controller::Launch(const MigrationRequest& req, nlohmann::json j, const core::Move* move) {
  j["event"] = "migration_started";
  j["id"] = req.id;
  j["vm"] = req.vm_name;
  j["vm_uuid"] = req.vm_uuid;
  j["from"] = req.from_host;
  j["to"] = req.to_host;
  j["from_uri"] = req.from_uri;
  j["to_uri"] = req.to_uri;
  if (env_.coordinator == nullptr) return LaunchNow(req, std::move(j), move);
  if (!env_.coordinator->Leading()) {
    if (env_.observer) env_.observer->OnSkipped("standby");
    return Status::FailedPrecondition("this balancer is not the leader");
  }
  // The fence, at the point of action: the coordinator's conditional write must hold under
  // this balancer's term before anything is journaled as started or handed to libvirt. A
  // deposed leader (frozen, partitioned) that still believes it leads fails here.
  BLOG(kInfo) << "fencing the migration " << req.id << " of " << req.vm_name << " from "
              << req.from_host << " to " << req.to_host << " (coordinator)";
  MoveIntent intent{req.id, req.vm_uuid, j};
  fencing_[req.vm_uuid] = {req, std::move(j),
                           move ? std::optional<core::Move>(*move) : std::nullopt};
  env_.coordinator->AcquireMove(intent);
  return Status::Ok();
}

void Controller::OnMoveFenced(const std::string& id, const Status& fence) {
  auto it = std::find_if(fencing_.begin(), fencing_.end(),
                         [&](const auto& kv) { return kv.second.request.id == id; });
  if (it == fencing_.end()) {
    BLOG(kWarning) << "a fence answer for " << id << ", which is not waiting: ignored";
    return;
  }
  Fencing f = std::move(it->second);
  fencing_.erase(it);
  const MigrationRequest& req = f.request;
  if (!fence.ok()) {
    BLOG(kError) << "NOT starting the migration " << req.id << " of " << req.vm_name << " from "
                 << req.from_host << " to " << req.to_host
                 << ": the fence refused it (this balancer may no longer lead): "
                 << fence.message();
    if (env_.observer) env_.observer->OnSkipped("fenced");
    (void)Record({{"event", "move_fenced"},
                  {"id", req.id},
                  {"vm", req.vm_name},
                  {"vm_uuid", req.vm_uuid},
                  {"from", req.from_host},
                  {"to", req.to_host},
                  {"error", fence.message()}});
    return;
  }
  if (f.move && paused_) {
    // Paused while the fence was asked: the intent is stored, so it is closed as aborted.
    (void)Record({{"event", "move_fenced"},
                  {"id", req.id},
                  {"vm", req.vm_name},
                  {"vm_uuid", req.vm_uuid},
                  {"error", "paused meanwhile"}});
    FinishIntent(req.id, {{"event", "migration_aborted"},
                          {"id", req.id},
                          {"vm_uuid", req.vm_uuid},
                          {"error", "paused before it started"},
                          {"at_ms", NowMs()}});
    return;
  }
  (void)LaunchNow(req, std::move(f.record), f.move ? &*f.move : nullptr);
}

void Controller::FinishIntent(const std::string& id, const nlohmann::json& outcome) {
  if (env_.coordinator != nullptr && !id.empty()) env_.coordinator->FinishMove(id, outcome);
}

Status Controller::LaunchNow(const MigrationRequest& req, nlohmann::json j,
                             const core::Move* move) {
  if (Status st = Record(j, /*keep_if_unwritten=*/false); !st.ok()) {
    // Journal first: a move the journal does not know of could be repeated or forgotten
    // after a crash.
    BLOG(kError) << "not starting the migration of " << req.vm_name << " from " << req.from_host
                 << " to " << req.to_host << ": the journal cannot record it";
    if (env_.observer) env_.observer->OnSkipped("journal_unavailable");
    FinishIntent(req.id, {{"event", "migration_aborted"},
                          {"id", req.id},
                          {"vm_uuid", req.vm_uuid},
                          {"error", "not started: the journal cannot record it"},
                          {"at_ms", NowMs()}});
    return st;
  }
  Status st = env_.actuator->Start(req);
  if (!st.ok()) {
    nlohmann::json failed = {{"event", "migration_failed"}, {"id", req.id},
                             {"vm", req.vm_name},           {"vm_uuid", req.vm_uuid},
                             {"from", req.from_host},       {"to", req.to_host},
                             {"error", st.message()},       {"at_ms", NowMs()}};
    (void)Record(failed);
    FinishIntent(req.id, failed);
    return st;
  }
  own_[req.vm_uuid] = {req, env_.clock->Steady()};
  if (env_.observer) env_.observer->OnMigrationStarted(move, req);
  return Status::Ok();
}

void Controller::OnMigrationResult(const MigrationResult& r) {
  const auto& q = r.request;
  auto own = own_.find(q.vm_uuid);
  if (own == own_.end() || own->second.request.id != q.id) {
    BLOG(kWarning) << "an outcome for migration " << q.id << " of " << q.vm_name
                   << " that is not in flight: ignored";
    return;
  }
  own_.erase(own);
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
  if (!r.flags.empty()) j["flags"] = r.flags;
  if (!r.params.empty()) j["params"] = r.params;
  if (r.retried_minimal) j["retried_minimal"] = true;
  if (r.resumed_on_source) j["resumed_on_source"] = true;
  if (env_.observer) env_.observer->OnMigrationFinished(r);
  switch (r.outcome) {
    case MigrationOutcome::kSucceeded:
      j["event"] = "migration_finished";
      BLOG(kInfo) << "migrated " << q.vm_name << " from " << q.from_host << " to " << q.to_host
                  << " in " << r.duration.count() << " ms"
                  << (r.downtime ? " (downtime " + std::to_string(r.downtime->count()) + " ms)"
                                 : "");
      recent_.push_back({q.vm_uuid, q.from_host, q.to_host, env_.clock->Wall()});
      pair_backoff_.erase({q.from_host, q.to_host});
      AfterMove(q.vm_uuid, q.from_host, q.to_host);
      break;
    case MigrationOutcome::kFailed:
    case MigrationOutcome::kAborted: {
      j["event"] =
          r.outcome == MigrationOutcome::kAborted ? "migration_aborted" : "migration_failed";
      BLOG(kError) << "migration of " << q.vm_name << " from " << q.from_host << " to " << q.to_host
                   << " " << MigrationOutcomeName(r.outcome) << ": " << r.error << "; " << q.vm_name
                   << " runs on " << (r.vm_on.empty() ? "no host found" : r.vm_on);
      const SteadyTime now = env_.clock->Steady();
      auto& b = pair_backoff_[{q.from_host, q.to_host}];
      const auto first = policy_->migration.failure_backoff;
      b.delay = std::min(b.delay.count() == 0 ? first : b.delay * 2, options_.max_backoff);
      b.until = now + b.delay;
      b.last_error = r.error;
      // The VM waits three times as long as the pair: when the pair opens again, another VM
      // is tried first (a target that refuses this one, e.g. a name clash on Xen, may take
      // another).
      failed_vms_[q.vm_uuid] = now + 3 * b.delay;
      if (!r.vm_on.empty() && r.vm_on == q.to_host) {
        // The job failed but the VM runs on the target (it left the source, or was found
        // there afterwards): it moved, so the model follows and its cooldowns start, as a
        // restart would conclude from libvirt (OnVmProbe).
        recent_.push_back({q.vm_uuid, q.from_host, q.to_host, env_.clock->Wall()});
        AfterMove(q.vm_uuid, q.from_host, q.to_host);
        break;
      }
      // The hosts' samples from during the attempt are not worth acting on.
      model_.ClearHistory(q.from_host);
      model_.ClearHistory(q.to_host);
      break;
    }
  }
  (void)Record(j);
  FinishIntent(q.id, j);
}

void Controller::AfterMove(const std::string& uuid, const std::string& from,
                           const std::string& to) {
  model_.MoveVm(uuid, to);
  model_.ClearHistory(from);
  model_.ClearHistory(to);
}

void Controller::Prune(WallTime now) {
  // Cooldowns need the recent moves as long as the longer of the two cooldowns.
  const auto keep = std::max(policy_->limits.return_cooldown, policy_->limits.vm_cooldown);
  std::erase_if(recent_,
                [&](const core::FinishedMigration& f) { return now - f.finished_at > keep; });
  const SteadyTime steady = env_.clock->Steady();
  std::erase_if(failed_vms_, [&](const auto& kv) { return steady >= kv.second; });
  // A pair's back-off is remembered (and doubles on the next failure) for as long again as
  // it lasted; then the pair starts afresh.
  std::erase_if(pair_backoff_,
                [&](const auto& kv) { return steady >= kv.second.until + kv.second.delay; });
}

// --- admin verbs -----------------------------------------------------------------------

void Controller::SaveState() {
  Status st = env_.state->Save({maintenance_, paused_});
  if (!st.ok()) BLOG(kError) << "cannot save state: " << st.message();
}

Result<bool> Controller::SetMaintenance(const std::string& host, bool drain,
                                        const std::string& admin) {
  // A host already in maintenance (from the saved state) may not have reported yet after a
  // restart: that is not an error.
  if (model_.host(host) == nullptr && drain && maintenance_.count(host) == 0) {
    return Status::NotFound("no host named '" + host + "'");
  }
  const bool changed = drain ? maintenance_.insert(host).second : maintenance_.erase(host) > 0;
  if (changed) {
    SaveState();
    (void)Record({{"event", drain ? "drain_requested" : "undrain_requested"},
                  {"host", host},
                  {"admin", admin}});
    BLOG(kInfo) << "host '" << host << "' " << (drain ? "put into" : "taken out of")
                << " maintenance by admin '" << admin << "'";
  }
  return changed;
}

bool Controller::SetPaused(bool pause, const std::string& reason, const std::string& admin) {
  const bool changed = paused_ != pause;
  paused_ = pause;
  if (changed) {
    SaveState();
    if (env_.observer) env_.observer->OnPausedChanged(paused_);
    (void)Record({{"event", pause ? "paused" : "resumed"}, {"admin", admin}, {"reason", reason}});
    BLOG(kWarning) << "automation " << (pause ? "PAUSED" : "resumed") << " by admin '" << admin
                   << "'" << (reason.empty() ? "" : ": " + reason);
  }
  return changed;
}

ManualMoveResult Controller::StartManualMove(const std::string& vm_uuid, const std::string& to_host,
                                             bool force, const std::string& admin) {
  ManualMoveResult out;
  const VmView* v = model_.vm(vm_uuid);
  if (v == nullptr) {
    out.error_code = "not_found";
    out.error = "no VM with UUID '" + vm_uuid + "'";
    return out;
  }
  const HostView* from = model_.host(v->host);
  const HostView* to = model_.host(to_host);
  if (to == nullptr || from == nullptr) {
    out.error_code = "not_found";
    out.error = "no host named '" + (to == nullptr ? to_host : v->host) + "'";
    return out;
  }
  if (!Reconciled()) {
    out.error_code = "unavailable";
    out.error = "still reconciling with libvirt; try again";
    return out;
  }
  for (const std::string& h : {v->host, to_host}) {
    // Not even with --force: the balancer would connect or send VM memory where a collector
    // said, not where the admin configured.
    if (claims_mismatch_.count(h) != 0 || !EndpointsOf(h)) {
      out.error_code = "refused";
      out.check.rule = "host_inventory";
      out.check.explanation = "host '" + BoundedForLog(h) +
                              "' claims endpoints other than its inventory entry (or has "
                              "none): it is neither source nor target until they match";
      out.error = out.check.explanation + " (cannot be forced)";
      return out;
    }
  }
  if (auto d = duplicates_.find(v->uuid); d != duplicates_.end() && d->second.hosts.size() >= 2) {
    out.error_code = "refused";
    out.check.rule = "duplicate_vm";
    out.check.explanation = "two hosts report " + v->name + " at once: where it runs is not known";
    out.error = out.check.explanation + " (cannot be forced)";
    return out;
  }
  out.check = core::CheckManualMove(Snapshot(), *policy_, env_.clock->Wall(), v->uuid, to_host);
  const core::ManualMoveCheck& check = out.check;
  if (!check.allowed && !(force && check.forceable)) {
    BLOG(kWarning) << "refused manual move of " << v->name << " to " << to_host
                   << " asked by admin '" << admin << "': " << check.explanation;
    (void)Record({{"event", "manual_refused"},
                  {"vm", v->name},
                  {"vm_uuid", v->uuid},
                  {"from", v->host},
                  {"to", to_host},
                  {"admin", admin},
                  {"rule", check.rule},
                  {"explanation", check.explanation},
                  {"force", force}});
    out.error_code = "refused";
    out.error =
        check.explanation + (check.forceable ? " (rule " + check.rule + "; --force overrides it)"
                                             : " (rule " + check.rule + "; cannot be forced)");
    return out;
  }
  MigrationRequest req = RequestFor(v->uuid, v->name, *from, *to);
  req.strategy = "manual";
  std::string why = "Manual move of " + v->name + " from " + v->host + " to " + to_host +
                    " asked by admin '" + admin + "'";
  if (!check.allowed) why += "; rule " + check.rule + " overridden with --force";
  out.explanation = why + ".";
  nlohmann::json j = {{"manual", true},
                      {"admin", admin},
                      {"forced", !check.allowed},
                      {"explanation", out.explanation},
                      {"reason", {{"strategy", "manual"}, {"overridden_rule", check.rule}}}};
  Status st = Launch(req, std::move(j), nullptr);
  if (!st.ok()) {
    out.error_code = "unavailable";
    out.error = st.message();
    return out;
  }
  BLOG(kInfo) << why << " (" << req.id << ")";
  out.started = true;
  out.request = std::move(req);
  return out;
}

}  // namespace ballast::controller
