#pragma once

// The balancer's Prometheus metrics (docs/metrics.md is the reference). One registry, served
// by prometheus-cpp's exposer on a configurable address (loopback by default). Series of a
// host or VM that left the cluster are removed, so cardinality follows the cluster.
//
// Not thread-safe by itself: called from the daemon's loop only (prometheus-cpp's metric
// objects are safe to scrape concurrently).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "balancer/core/plan.h"
#include "balancer/core/policy.h"
#include "balancer/model/cluster_model.h"
#include "common/status.h"
#include "common/wire.h"

namespace ballast {

class BalancerMetrics {
 public:
  // Starts serving /metrics on `listen` ("127.0.0.1:9470"; port 0 picks a free one).
  static Result<std::unique_ptr<BalancerMetrics>> Start(const std::string& listen);
  ~BalancerMetrics();
  BalancerMetrics(const BalancerMetrics&) = delete;
  BalancerMetrics& operator=(const BalancerMetrics&) = delete;

  std::uint16_t port() const;

  void OnSample(std::size_t vms);
  void OnDecodeError(DecodeError reason);
  // Totals from the transport (monotonic counters); the metrics follow them.
  // `revoked`: samples sent on connections of collector keys removed since (dropped).
  // `connection_limit`: samples and handshakes of a key beyond kMaxConnectionsPerKey.
  void SetRejectedPublishers(std::uint64_t auth, std::uint64_t topic, std::uint64_t revoked,
                             std::uint64_t connection_limit);
  // Control requests refused: handshakes of unknown keys, a viewer's mutating verb, a removed
  // key's request on a connection it opened before.
  void SetRefusedControl(std::uint64_t auth, std::uint64_t forbidden, std::uint64_t revoked);

  // Hosts, VMs, utilisation, hot and stale state, from the model after each round.
  void UpdateCluster(const ClusterModel& model, const core::Policy& policy, SteadyTime now,
                     double imbalance);

  void OnPlan(const core::Plan& plan, std::chrono::nanoseconds plan_time,
              std::optional<std::chrono::nanoseconds> decision_latency);
  void OnRecommended(const core::Move& move);
  void OnMigrationStarted(const core::Move& move);
  void OnMigrationFinished(const std::string& outcome, const std::string& strategy,
                           std::chrono::milliseconds duration,
                           std::optional<std::chrono::milliseconds> downtime, std::uint64_t bytes);
  void OnSkipped(const std::string& reason);
  void SetInFlight(std::size_t n);

  void OnPolicyReload(bool ok);
  void SetPolicy(std::uint64_t generation, core::Mode mode, bool last_reload_ok);
  void SetMarks(const core::Policy& policy);
  void SetPaused(bool paused);
  void SetJournalWritable(bool writable);
  void SetHostsLeftOut(std::size_t n);
  void SetHostsClaimsMismatch(std::size_t n);
  void SetVmConflicts(std::size_t n);
  // High availability (off: no series). Transitions and failures are increments.
  void SetHa(bool leading, bool etcd_reachable, std::uint64_t new_transitions,
             std::uint64_t new_renewal_failures);

  class Impl;

 private:
  explicit BalancerMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast
