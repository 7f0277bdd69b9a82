#pragma once

// High availability as the daemon provides it (balancer/README.md, "High availability"): the
// controller's Coordinator (env.h) on etcd. Internal to ballast-balancer.
//
// Threads: the election runs on its own thread (ha::LeaderElection); every other etcd call
// (fences, outcome records, the shared drain/pause state, the takeover read) runs in order on
// one worker thread with its own client. The loop thread only queues requests and, in Poll,
// takes answers and hands them to the controller: no etcd call ever blocks ingest.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "balancer/controller/controller.h"
#include "balancer/controller/env.h"
#include "balancer/daemon/balancer_config.h"
#include "balancer/daemon/balancer_metrics.h"
#include "balancer/ha/etcd_client.h"
#include "balancer/ha/leader_election.h"

namespace ballast::balancer_internal {

class HaCoordinator final : public controller::Coordinator {
 public:
  static Result<std::unique_ptr<HaCoordinator>> Start(const BalancerConfig::Ha& config);
  ~HaCoordinator() override;

  // --- controller::Coordinator (loop thread) ---
  bool Leading() const override { return leading_; }
  void AcquireMove(const controller::MoveIntent& intent) override;
  void FinishMove(const std::string& id, const nlohmann::json& outcome) override;

  // The drain/pause state, stored for the next leader (fire and forget).
  void SaveSharedState(const controller::PersistedState& state);

  // Loop thread, every pass: follows the election (a new term: the takeover read first, then
  // Leading() turns true), hands fence answers to the controller, updates metrics.
  void Poll(controller::Controller& c, BalancerMetrics* metrics);

  nlohmann::json StatusJson() const;
  std::string leader() const { return election_state_.leader; }
  bool etcd_reachable() const { return election_state_.etcd_reachable; }
  const std::string& name() const { return config_.name; }

 private:
  explicit HaCoordinator(const BalancerConfig::Ha& config);
  void Work();
  void Enqueue(std::function<void(ha::EtcdClient&)> job);
  std::string Key(const std::string& rest) const { return prefix_ + rest; }

  const BalancerConfig::Ha config_;
  const std::string prefix_;  // /ballast/<cluster>/
  std::unique_ptr<ha::LeaderElection> election_;
  std::unique_ptr<ha::EtcdClient> worker_client_;  // the worker thread's only

  // Loop thread only.
  bool leading_ = false;
  std::int64_t term_ = 0;                // the term the controller acts under while leading_
  std::uint64_t plans_at_takeover_ = 0;  // the controller's plan count when it took over
  std::int64_t takeover_asked_ = 0;      // term whose takeover read is queued
  // Intent record keys by move id: this balancer's own (the key carries its name, so two
  // balancers' ids never collide) and those adopted at a takeover.
  std::map<std::string, std::string> intent_keys_;
  ha::ElectionState election_state_;
  std::uint64_t reported_transitions_ = 0;
  std::uint64_t reported_failures_ = 0;

  // Between the threads.
  struct Answer {
    std::string id;  // a fence's move id
    Status status;
  };
  struct TakeOverData {
    std::int64_t term = 0;
    Status status;
    std::optional<controller::PersistedState> state;
    std::vector<nlohmann::json> intents;
    std::vector<std::string> keys;  // intents[i]'s key
  };
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                                      // guarded by mu_
  std::deque<std::function<void(ha::EtcdClient&)>> jobs_;  // guarded by mu_
  std::vector<Answer> answers_;                            // guarded by mu_
  std::optional<TakeOverData> takeover_;                   // guarded by mu_
  std::thread worker_;
};

// The drain/pause state file, plus a copy in etcd for the next leader.
class SharedStateStore final : public controller::StateStore {
 public:
  SharedStateStore(controller::StateStore* local, HaCoordinator* ha) : local_(local), ha_(ha) {}
  Result<std::optional<controller::PersistedState>> Load() override { return local_->Load(); }
  Status Save(const controller::PersistedState& state) override {
    ha_->SaveSharedState(state);
    return local_->Save(state);
  }

 private:
  controller::StateStore* local_;
  HaCoordinator* ha_;
};

}  // namespace ballast::balancer_internal
