#include "balancer/ha/leader_election.h"

#include "common/log.h"

namespace ballast::ha {

Result<std::unique_ptr<LeaderElection>> LeaderElection::Start(EtcdClientOptions etcd,
                                                              ElectionOptions options) {
  if (options.key.empty() || options.name.empty()) {
    return Status::InvalidArgument("leader election: key and name are required");
  }
  if (options.renew_every >= options.ttl) {
    return Status::InvalidArgument("leader election: renew_every must be shorter than the ttl");
  }
  auto client = EtcdClient::Open(std::move(etcd));
  if (!client.ok()) return client.status();
  std::unique_ptr<LeaderElection> e(new LeaderElection(std::move(*client), std::move(options)));
  e->thread_ = std::thread([p = e.get()] { p->Run(); });
  return e;
}

LeaderElection::LeaderElection(std::unique_ptr<EtcdClient> client, ElectionOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

LeaderElection::~LeaderElection() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lease_ != 0) {
    // The key goes with the lease: a standby campaigns successfully on its next round.
    Status st = client_->Revoke(lease_);
    if (!st.ok()) BLOG(kWarning) << "leader election: could not revoke the lease: " << st.message();
  }
}

ElectionState LeaderElection::state() const {
  std::lock_guard<std::mutex> l(mu_);
  return state_;
}

void LeaderElection::Run() {
  auto next = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    Round();
    l.lock();
    next += options_.renew_every;
    const auto now = std::chrono::steady_clock::now();
    // Overslept (the process was frozen, or etcd timed out): the next round at once, then on
    // a fresh schedule.
    if (next < now) next = now;
    wake_.wait_until(l, next, [&] { return stop_; });
  }
}

void LeaderElection::Failed(const Status& st) {
  std::lock_guard<std::mutex> l(mu_);
  ++state_.renew_failures;
  ++state_.rounds;
  if (state_.etcd_reachable || state_.last_error != st.message()) {
    BLOG(kError) << "leader election: " << st.message()
                 << (state_.leading ? ": stepping down (no move starts without etcd)" : "");
  }
  state_.etcd_reachable = false;
  state_.last_error = st.message();
  // Without etcd nobody can prove leadership: no move could pass the fence anyway, and
  // status says so. The lease may still be alive: the next good round restores the term.
  if (state_.leading) ++state_.transitions;
  state_.leading = false;
  state_.leader.clear();
  state_.term = 0;
}

void LeaderElection::Round() {
  if (lease_ != 0) {
    auto ttl = client_->KeepAlive(lease_);
    if (!ttl.ok()) return Failed(ttl.status());
    if (*ttl <= 0) {
      BLOG(kWarning) << "leader election: lease " << lease_ << " expired; taking a new one";
      lease_ = 0;
    }
  }
  if (lease_ == 0) {
    auto lease = client_->Grant(options_.ttl);
    if (!lease.ok()) return Failed(lease.status());
    lease_ = *lease;
  }
  auto c = client_->Campaign(options_.key, options_.name, lease_);
  if (!c.ok()) return Failed(c.status());
  const bool leading = c->holder.lease == lease_ && c->holder.create_revision > 0;
  std::lock_guard<std::mutex> l(mu_);
  ++state_.rounds;
  if (!state_.etcd_reachable && state_.rounds > 1) {
    BLOG(kWarning) << "leader election: etcd reachable again (" << client_->endpoint() << ")";
  }
  state_.etcd_reachable = true;
  state_.last_error.clear();
  if (leading != state_.leading) {
    ++state_.transitions;
    if (leading) state_.leading_since = std::chrono::steady_clock::now();
    BLOG(kWarning) << "leader election: " << options_.name
                   << (leading ? " is now the LEADER (term " +
                                     std::to_string(c->holder.create_revision) + ")"
                               : " is a standby; the leader is '" + c->holder.value + "'");
  }
  state_.leading = leading;
  state_.leader = c->holder.value;
  state_.term = leading ? c->holder.create_revision : 0;
}

}  // namespace ballast::ha
