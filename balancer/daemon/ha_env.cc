#include "balancer/daemon/ha_env.h"

#include "balancer/daemon/balancer_metrics.h"
#include "common/log.h"

namespace ballast::balancer_internal {
namespace {

nlohmann::json StateToJson(const controller::PersistedState& s) {
  return {{"maintenance", s.maintenance}, {"paused", s.paused}};
}

}  // namespace

Result<std::unique_ptr<HaCoordinator>> HaCoordinator::Start(const BalancerConfig::Ha& config) {
  const ha::EtcdClientOptions etcd{
      config.etcd_endpoints,
      std::chrono::duration_cast<std::chrono::milliseconds>(config.etcd_timeout)};
  std::unique_ptr<HaCoordinator> h(new HaCoordinator(config));
  auto client = ha::EtcdClient::Open(etcd);
  if (!client.ok()) return client.status();
  h->worker_client_ = std::move(*client);
  auto election = ha::LeaderElection::Start(
      etcd, {h->Key("leader"), config.name,
             std::chrono::duration_cast<std::chrono::seconds>(config.lease_ttl),
             std::chrono::duration_cast<std::chrono::milliseconds>(config.renew_interval)});
  if (!election.ok()) return election.status();
  h->election_ = std::move(*election);
  h->worker_ = std::thread([p = h.get()] { p->Work(); });
  if (config.test_unfenced) {
    BLOG(kError) << "ha.test_unfenced is set: moves start WITHOUT the conditional write in etcd "
                    "(a test-only switch; never in production)";
  }
  return h;
}

HaCoordinator::HaCoordinator(const BalancerConfig::Ha& config)
    : config_(config), prefix_("/ballast/" + config.cluster + "/") {}

HaCoordinator::~HaCoordinator() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  election_.reset();  // revokes the lease: a standby takes over at once
}

void HaCoordinator::Enqueue(std::function<void(ha::EtcdClient&)> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void HaCoordinator::Work() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    wake_.wait(l, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    l.unlock();
    job(*worker_client_);
    l.lock();
  }
}

void HaCoordinator::AcquireMove(const controller::MoveIntent& intent) {
  const std::int64_t term = term_;
  const std::string key = Key("migrations/" + config_.name + "/" + intent.id);
  intent_keys_[intent.id] = key;
  const std::string value = intent.record.dump();
  const std::string leader_key = Key("leader");
  const bool unfenced = config_.test_unfenced;
  const auto delay = config_.test_fence_delay;
  const std::string id = intent.id;
  Enqueue([this, term, key, value, leader_key, unfenced, delay, id](ha::EtcdClient& etcd) {
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    // No look at the election's flag here: the transaction is the check, in etcd, at the
    // moment of action (a frozen process's flag is as stale as its decision).
    auto written = etcd.PutIfHeld(leader_key, term, key, value, unfenced);
    Status st = Status::Ok();
    if (!written.ok()) {
      st = written.status();
    } else if (!*written) {
      st =
          Status::FailedPrecondition("the leader key " + leader_key +
                                     " no longer has this balancer's term " + std::to_string(term));
    }
    std::lock_guard<std::mutex> l(mu_);
    answers_.push_back({id, st});
  });
}

void HaCoordinator::FinishMove(const std::string& id, const nlohmann::json& outcome) {
  auto known = intent_keys_.find(id);
  if (known == intent_keys_.end()) return;  // not a move this coordinator stored or adopted
  const std::string key = known->second;
  intent_keys_.erase(known);
  const std::string value = outcome.dump();
  Enqueue([key, value](ha::EtcdClient& etcd) {
    Status st = etcd.Put(key, value);
    if (!st.ok()) BLOG(kWarning) << "ha: cannot store the outcome " << key << ": " << st.message();
  });
}

void HaCoordinator::SaveSharedState(const controller::PersistedState& state) {
  const std::string key = Key("state");
  const std::string value = StateToJson(state).dump();
  Enqueue([key, value](ha::EtcdClient& etcd) {
    Status st = etcd.Put(key, value);
    if (!st.ok()) BLOG(kWarning) << "ha: cannot store the drain/pause state: " << st.message();
  });
}

void HaCoordinator::Poll(controller::Controller& c, BalancerMetrics* metrics) {
  election_state_ = election_->state();
  const ha::ElectionState& e = election_state_;
  if (leading_ && (!e.leading || e.term != term_)) {
    leading_ = false;
    BLOG(kWarning) << "ha: " << config_.name << " steps down (term " << term_
                   << " ended): no move starts from now on";
    (void)c.Record({{"event", "leadership_lost"},
                    {"term", term_},
                    {"leader", e.leader},
                    {"etcd_reachable", e.etcd_reachable}});
    term_ = 0;
    takeover_asked_ = 0;  // the same term may come back (etcd was briefly unreachable)
  }
  if (e.leading && !leading_ && takeover_asked_ != e.term) {
    // A new term: read what the previous leader left (its moves' intents, drain and pause)
    // before acting on anything.
    takeover_asked_ = e.term;
    const std::int64_t term = e.term;
    const std::string state_key = Key("state");
    const std::string migrations = Key("migrations/");
    Enqueue([this, term, state_key, migrations](ha::EtcdClient& etcd) {
      TakeOverData d;
      d.term = term;
      auto st = etcd.Get(state_key);
      auto ms = etcd.GetPrefix(migrations);
      if (!st.ok()) {
        d.status = st.status();
      } else if (!ms.ok()) {
        d.status = ms.status();
      } else {
        if (st->has_value()) {
          auto j = nlohmann::json::parse((*st)->value, nullptr, false);
          if (j.is_object()) {
            controller::PersistedState s;
            s.paused = j.value("paused", false);
            if (j.contains("maintenance") && j["maintenance"].is_array()) {
              for (const auto& h : j["maintenance"]) {
                if (h.is_string()) s.maintenance.insert(h.get<std::string>());
              }
            }
            d.state = s;
          }
        }
        for (const auto& kv : *ms) {
          auto j = nlohmann::json::parse(kv.value, nullptr, false);
          if (!j.is_object()) continue;
          d.intents.push_back(std::move(j));
          d.keys.push_back(kv.key);
        }
      }
      std::lock_guard<std::mutex> l(mu_);
      takeover_ = std::move(d);
    });
  }
  std::vector<Answer> answers;
  std::optional<TakeOverData> takeover;
  {
    std::lock_guard<std::mutex> l(mu_);
    answers.swap(answers_);
    takeover.swap(takeover_);
  }
  if (takeover) {
    if (!takeover->status.ok()) {
      BLOG(kError) << "ha: cannot read the previous leader's records: "
                   << takeover->status.message() << "; trying again";
      takeover_asked_ = 0;
    } else if (e.leading && e.term == takeover->term) {
      for (std::size_t i = 0; i < takeover->intents.size(); ++i) {
        const std::string id = takeover->intents[i].value("id", "");
        if (takeover->intents[i].value("event", "") == "migration_started" && !id.empty()) {
          intent_keys_[id] = takeover->keys[i];
        }
      }
      c.TakeOver(takeover->state, takeover->intents);
      plans_at_takeover_ = c.plans();
      leading_ = true;
      term_ = takeover->term;
      BLOG(kWarning) << "ha: " << config_.name << " LEADS (term " << term_ << "; "
                     << takeover->intents.size() << " migration record(s) read)";
    }
  }
  for (const Answer& a : answers) {
    if (!a.status.ok()) intent_keys_.erase(a.id);  // nothing was stored
    c.OnMoveFenced(a.id, a.status);
  }

  if (metrics) {
    metrics->SetHa(leading_, e.etcd_reachable, e.transitions - reported_transitions_,
                   e.renew_failures - reported_failures_);
  }
  reported_transitions_ = e.transitions;
  reported_failures_ = e.renew_failures;
}

nlohmann::json HaCoordinator::StatusJson() const {
  const ha::ElectionState& e = election_state_;
  return {
      {"enabled", true},
      {"name", config_.name},
      {"cluster", config_.cluster},
      {"leading", leading_},
      {"leader", e.leader},
      {"term", term_},
      {"plans_at_takeover", plans_at_takeover_},
      {"etcd_reachable", e.etcd_reachable},
      {"etcd_error", e.last_error},
      {"leader_transitions", e.transitions},
      {"lease_renewals_failed", e.renew_failures},
      {"lease_ttl_s", std::chrono::duration_cast<std::chrono::seconds>(config_.lease_ttl).count()}};
}

}  // namespace ballast::balancer_internal
