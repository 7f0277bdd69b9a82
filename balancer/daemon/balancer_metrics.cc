#include "balancer/daemon/balancer_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <set>

#include "balancer/core/forecast.h"

namespace ballast {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

const char* kResources[] = {"cpu", "memory", "network"};

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// A family whose series are set each round; series not set in a round are removed.
class GaugeSet {
 public:
  explicit GaugeSet(Family<Gauge>& f) : family_(f) {}
  void Set(const std::map<std::string, std::string>& labels, double v) {
    auto [it, inserted] = series_.try_emplace(labels, nullptr);
    if (inserted) it->second = &family_.Add(labels);
    it->second->Set(v);
    touched_.insert(labels);
  }
  void Sweep() {
    for (auto it = series_.begin(); it != series_.end();) {
      if (touched_.count(it->first) == 0) {
        family_.Remove(it->second);
        it = series_.erase(it);
      } else {
        ++it;
      }
    }
    touched_.clear();
  }

 private:
  Family<Gauge>& family_;
  std::map<std::map<std::string, std::string>, Gauge*> series_;
  std::set<std::map<std::string, std::string>> touched_;
};

}  // namespace

class BalancerMetrics::Impl {
 public:
  explicit Impl(const std::string& listen)
      : exposer(listen),
        registry(std::make_shared<prometheus::Registry>()),
        hosts(BuildGauge()
                  .Name("ballast_hosts")
                  .Help("Hosts in the model")
                  .Register(*registry)
                  .Add({})),
        vms(BuildGauge().Name("ballast_vms").Help("VMs in the model").Register(*registry).Add({})),
        host_util(BuildGauge()
                      .Name("ballast_host_utilization_ratio")
                      .Help("Host utilisation: used / capacity, per resource")
                      .Register(*registry)),
        host_capacity(BuildGauge()
                          .Name("ballast_host_capacity")
                          .Help("Host capacity: cpu in cores, memory in bytes, network in bits/s")
                          .Register(*registry)),
        host_hot(BuildGauge()
                     .Name("ballast_host_hot")
                     .Help("1 while k of the last n samples and the forecast are over the hot mark")
                     .Register(*registry)),
        host_stale(BuildGauge()
                       .Name("ballast_host_stale")
                       .Help("1 while the host's samples are overdue")
                       .Register(*registry)),
        host_age(BuildGauge()
                     .Name("ballast_host_last_sample_age_seconds")
                     .Help("Seconds since the host's last accepted sample")
                     .Register(*registry)),
        stale_hosts(BuildGauge()
                        .Name("ballast_stale_hosts")
                        .Help("Hosts stale now")
                        .Register(*registry)
                        .Add({})),
        vm_cpu(BuildGauge()
                   .Name("ballast_vm_cpu_cores")
                   .Help("CPU used by a VM, in cores")
                   .Register(*registry)),
        vm_mem(BuildGauge()
                   .Name("ballast_vm_memory_bytes")
                   .Help("A VM's current memory")
                   .Register(*registry)),
        vm_net(BuildGauge()
                   .Name("ballast_vm_network_bytes_per_second")
                   .Help("A VM's network traffic, rx + tx, in bytes per second")
                   .Register(*registry)),
        imbalance(BuildGauge()
                      .Name("ballast_cluster_imbalance")
                      .Help("Std-dev of weighted host load (what the balance strategy minimises)")
                      .Register(*registry)
                      .Add({})),
        unrelieved(BuildGauge()
                       .Name("ballast_hotspots_unrelieved")
                       .Help("Hotspots and drains the last plan could not resolve")
                       .Register(*registry)
                       .Add({})),
        planned(BuildCounter()
                    .Name("ballast_migrations_planned_total")
                    .Help("Moves in plans that were acted on or recommended")
                    .Register(*registry)),
        recommended(BuildCounter()
                        .Name("ballast_migrations_recommended_total")
                        .Help("New moves recommended in recommend mode")
                        .Register(*registry)),
        started(BuildCounter()
                    .Name("ballast_migrations_started_total")
                    .Help("Migrations started")
                    .Register(*registry)),
        finished(BuildCounter()
                     .Name("ballast_migrations_finished_total")
                     .Help("Migrations ended, by outcome")
                     .Register(*registry)),
        skipped(BuildCounter()
                    .Name("ballast_migrations_skipped_total")
                    .Help("Planned moves not started, by reason")
                    .Register(*registry)),
        in_flight(BuildGauge()
                      .Name("ballast_migrations_in_flight")
                      .Help("Migrations under way")
                      .Register(*registry)
                      .Add({})),
        duration(BuildHistogram()
                     .Name("ballast_migration_duration_seconds")
                     .Help("Migration time, start to verified end")
                     .Register(*registry)),
        downtime(BuildHistogram()
                     .Name("ballast_migration_downtime_seconds")
                     .Help("Switch-over pause reported by the hypervisor")
                     .Register(*registry)
                     .Add({}, Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                          1, 2.5, 5})),
        migrated_bytes(BuildCounter()
                           .Name("ballast_migration_bytes_total")
                           .Help("Data moved by succeeded migrations")
                           .Register(*registry)
                           .Add({})),
        plan_time(BuildHistogram()
                      .Name("ballast_plan_duration_seconds")
                      .Help("Time the decision core took for one plan")
                      .Register(*registry)
                      .Add({}, Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                                           0.1, 0.5, 1, 5})),
        latency(BuildHistogram()
                    .Name("ballast_decision_latency_seconds")
                    .Help("Arrival of the newest sample used to the plan being made")
                    .Register(*registry)
                    .Add({}, Histogram::BucketBoundaries{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                         5, 10})),
        plans(BuildCounter()
                  .Name("ballast_plans_total")
                  .Help("Plans made, by mode")
                  .Register(*registry)),
        samples(BuildCounter()
                    .Name("ballast_samples_received_total")
                    .Help("Host samples accepted")
                    .Register(*registry)
                    .Add({})),
        vm_samples(BuildCounter()
                       .Name("ballast_vm_samples_received_total")
                       .Help("VM entries in accepted samples")
                       .Register(*registry)
                       .Add({})),
        decode_errors(BuildCounter()
                          .Name("ballast_decode_errors_total")
                          .Help("Samples rejected by the decoder, by reason")
                          .Register(*registry)),
        rejected(BuildCounter()
                     .Name("ballast_rejected_publishers_total")
                     .Help("Publishers refused at the handshake (auth), samples for another host "
                           "(topic), samples on connections of keys removed since (revoked), a "
                           "key's samples and handshakes beyond its connection limit "
                           "(connection_limit)")
                     .Register(*registry)),
        control_refused(BuildCounter()
                            .Name("ballast_control_refused_total")
                            .Help("Control requests refused: unknown key at the handshake "
                                  "(auth), a viewer key's mutating verb (forbidden), a removed "
                                  "key's request (revoked)")
                            .Register(*registry)),
        policy_generation(BuildGauge()
                              .Name("ballast_policy_generation")
                              .Help("Bumped by each successful policy reload")
                              .Register(*registry)
                              .Add({})),
        reloads(BuildCounter()
                    .Name("ballast_policy_reloads_total")
                    .Help("Policy reloads, by result")
                    .Register(*registry)),
        reload_ok(
            BuildGauge()
                .Name("ballast_policy_last_reload_success")
                .Help("0 while the policy file on disk is broken (the last good one is in force)")
                .Register(*registry)
                .Add({})),
        mode(BuildGauge()
                 .Name("ballast_policy_mode")
                 .Help("1 for the mode in force")
                 .Register(*registry)),
        paused(BuildGauge()
                   .Name("ballast_paused")
                   .Help("1 while automation is paused")
                   .Register(*registry)
                   .Add({})),
        journal_writable(BuildGauge()
                             .Name("ballast_journal_writable")
                             .Help("0 while the decision journal cannot be written: no "
                                   "migration starts (recommend only) until it can")
                             .Register(*registry)
                             .Add({})),
        hosts_left_out(BuildGauge()
                           .Name("ballast_hosts_left_out")
                           .Help("Hosts left out of planning because their libvirt kept "
                                 "failing (neither source nor target)")
                           .Register(*registry)
                           .Add({})),
        hosts_claims_mismatch(
            BuildGauge()
                .Name("ballast_hosts_claims_mismatch")
                .Help("Hosts whose samples claim a libvirt URI or migration address other "
                      "than their inventory entry, or that have none (neither source nor "
                      "target until they match)")
                .Register(*registry)
                .Add({})),
        vm_conflicts(BuildGauge()
                         .Name("ballast_vm_conflicts")
                         .Help("VMs reported by two hosts at once outside any known migration "
                               "for longer than the grace (never moved)")
                         .Register(*registry)
                         .Add({})),
        leader_family(BuildGauge()
                          .Name("ballast_leader")
                          .Help("High availability: 1 while this balancer leads (starts "
                                "moves), 0 on a standby or while etcd is unreachable")
                          .Register(*registry)),
        etcd_reachable_family(BuildGauge()
                                  .Name("ballast_etcd_reachable")
                                  .Help("High availability: 0 while etcd does not answer "
                                        "(nobody starts a move)")
                                  .Register(*registry)),
        leader_transitions_family(BuildCounter()
                                      .Name("ballast_leader_transitions_total")
                                      .Help("High availability: times this balancer became "
                                            "leader or stopped leading")
                                      .Register(*registry)),
        lease_renewals_failed_family(BuildCounter()
                                         .Name("ballast_lease_renewals_failed_total")
                                         .Help("High availability: election rounds whose "
                                               "lease renewal or campaign failed")
                                         .Register(*registry)),
        hot_marks(BuildGauge()
                      .Name("ballast_policy_hot_mark_ratio")
                      .Help("The policy's hot mark per resource")
                      .Register(*registry)),
        relieved_marks(BuildGauge()
                           .Name("ballast_policy_relieved_mark_ratio")
                           .Help("The policy's relieved mark per resource")
                           .Register(*registry)),
        last_plan(BuildGauge()
                      .Name("ballast_last_plan_timestamp_seconds")
                      .Help("Wall time of the last plan (a stuck planning loop stops it)")
                      .Register(*registry)
                      .Add({})),
        host_util_set(host_util),
        host_capacity_set(host_capacity),
        host_hot_set(host_hot),
        host_stale_set(host_stale),
        host_age_set(host_age),
        vm_cpu_set(vm_cpu),
        vm_mem_set(vm_mem),
        vm_net_set(vm_net) {
    BuildGauge()
        .Name("ballast_build_info")
        .Help("Build information")
        .Register(*registry)
        .Add({{"version", "0.1.0"}, {"program", "ballast-balancer"}})
        .Set(1);
    for (std::size_t i = 0; i < kDecodeErrorCount; ++i) {
      decode_error_series[i] =
          &decode_errors.Add({{"reason", DecodeErrorName(static_cast<DecodeError>(i))}});
    }
    rejected_auth = &rejected.Add({{"reason", "auth"}});
    rejected_topic = &rejected.Add({{"reason", "topic"}});
    rejected_revoked = &rejected.Add({{"reason", "revoked"}});
    rejected_connection_limit = &rejected.Add({{"reason", "connection_limit"}});
    control_auth = &control_refused.Add({{"reason", "auth"}});
    control_forbidden = &control_refused.Add({{"reason", "forbidden"}});
    control_revoked = &control_refused.Add({{"reason", "revoked"}});
    for (const char* o : {"succeeded", "failed", "aborted"}) {
      duration_by_outcome[o] =
          &duration.Add({{"outcome", o}},
                        Histogram::BucketBoundaries{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600});
    }
    for (const char* m : {"off", "recommend", "automatic"})
      mode_series[m] = &mode.Add({{"mode", m}});
    reload_ok_series = &reloads.Add({{"result", "ok"}});
    reload_failed_series = &reloads.Add({{"result", "failed"}});
    reload_ok.Set(1);
    // Every documented label value exists from the start (at 0): a panel or alert on
    // failures has a series before the first failure, and increase() sees the first one.
    const char* strategies[] = {"hotspot", "balance", "density", "drain", "manual"};
    for (const char* st : strategies) {
      started.Add({{"strategy", st}});
      recommended.Add({{"strategy", st}});
      for (const char* o : {"succeeded", "failed", "aborted"}) {
        finished.Add({{"outcome", o}, {"strategy", st}});
      }
      for (const char* r : kResources) planned.Add({{"strategy", st}, {"resource", r}});
    }
    for (const char* r : {"pair_backoff", "vm_failed_recently", "host_unknown"}) {
      skipped.Add({{"reason", r}});
    }
    for (const char* md : {"off", "recommend", "automatic"}) plans.Add({{"mode", md}});
    for (std::size_t r = 0; r < 3; ++r) {
      hot_mark[r] = &hot_marks.Add({{"resource", kResources[r]}});
      relieved_mark[r] = &relieved_marks.Add({{"resource", kResources[r]}});
    }
    exposer.RegisterCollectable(registry);
  }

  prometheus::Exposer exposer;
  std::shared_ptr<prometheus::Registry> registry;
  Gauge& hosts;
  Gauge& vms;
  Family<Gauge>& host_util;
  Family<Gauge>& host_capacity;
  Family<Gauge>& host_hot;
  Family<Gauge>& host_stale;
  Family<Gauge>& host_age;
  Gauge& stale_hosts;
  Family<Gauge>& vm_cpu;
  Family<Gauge>& vm_mem;
  Family<Gauge>& vm_net;
  Gauge& imbalance;
  Gauge& unrelieved;
  Family<Counter>& planned;
  Family<Counter>& recommended;
  Family<Counter>& started;
  Family<Counter>& finished;
  Family<Counter>& skipped;
  Gauge& in_flight;
  Family<Histogram>& duration;
  Histogram& downtime;
  Counter& migrated_bytes;
  Histogram& plan_time;
  Histogram& latency;
  Family<Counter>& plans;
  Counter& samples;
  Counter& vm_samples;
  Family<Counter>& decode_errors;
  Family<Counter>& rejected;
  Family<Counter>& control_refused;
  Gauge& policy_generation;
  Family<Counter>& reloads;
  Gauge& reload_ok;
  Family<Gauge>& mode;
  Gauge& paused;
  Gauge& journal_writable;
  Gauge& hosts_left_out;
  Gauge& hosts_claims_mismatch;
  Gauge& vm_conflicts;
  // High availability: series only when it is on (EnableHa).
  Family<Gauge>& leader_family;
  Family<Gauge>& etcd_reachable_family;
  Family<Counter>& leader_transitions_family;
  Family<Counter>& lease_renewals_failed_family;
  Gauge* leader = nullptr;
  Gauge* etcd_reachable = nullptr;
  Counter* leader_transitions = nullptr;
  Counter* lease_renewals_failed = nullptr;
  Family<Gauge>& hot_marks;
  Family<Gauge>& relieved_marks;
  Gauge& last_plan;
  Gauge* hot_mark[3] = {};
  Gauge* relieved_mark[3] = {};

  GaugeSet host_util_set, host_capacity_set, host_hot_set, host_stale_set, host_age_set;
  GaugeSet vm_cpu_set, vm_mem_set, vm_net_set;
  Counter* decode_error_series[kDecodeErrorCount] = {};
  Counter* rejected_auth = nullptr;
  Counter* rejected_topic = nullptr;
  Counter* rejected_revoked = nullptr;
  Counter* rejected_connection_limit = nullptr;
  Counter* control_auth = nullptr;
  Counter* control_forbidden = nullptr;
  Counter* control_revoked = nullptr;
  std::map<std::string, Histogram*> duration_by_outcome;
  std::map<std::string, Gauge*> mode_series;
  Counter* reload_ok_series = nullptr;
  Counter* reload_failed_series = nullptr;
};

BalancerMetrics::BalancerMetrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BalancerMetrics::~BalancerMetrics() = default;

Result<std::unique_ptr<BalancerMetrics>> BalancerMetrics::Start(const std::string& listen) {
  try {
    return std::unique_ptr<BalancerMetrics>(new BalancerMetrics(std::make_unique<Impl>(listen)));
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve metrics on " + listen + ": " + e.what());
  }
}

std::uint16_t BalancerMetrics::port() const {
  auto ports = impl_->exposer.GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

void BalancerMetrics::OnSample(std::size_t vms) {
  impl_->samples.Increment();
  impl_->vm_samples.Increment(static_cast<double>(vms));
}

void BalancerMetrics::OnDecodeError(DecodeError reason) {
  const auto i = static_cast<std::size_t>(reason);
  if (i < kDecodeErrorCount) impl_->decode_error_series[i]->Increment();
}

namespace {
// The transport keeps monotonic totals; a counter follows one by adding the difference.
void FollowTotal(prometheus::Counter* c, std::uint64_t total) {
  const double d = static_cast<double>(total) - c->Value();
  if (d > 0) c->Increment(d);
}
}  // namespace

void BalancerMetrics::SetRejectedPublishers(std::uint64_t auth, std::uint64_t topic,
                                            std::uint64_t revoked, std::uint64_t connection_limit) {
  FollowTotal(impl_->rejected_auth, auth);
  FollowTotal(impl_->rejected_topic, topic);
  FollowTotal(impl_->rejected_revoked, revoked);
  FollowTotal(impl_->rejected_connection_limit, connection_limit);
}

void BalancerMetrics::SetRefusedControl(std::uint64_t auth, std::uint64_t forbidden,
                                        std::uint64_t revoked) {
  FollowTotal(impl_->control_auth, auth);
  FollowTotal(impl_->control_forbidden, forbidden);
  FollowTotal(impl_->control_revoked, revoked);
}

void BalancerMetrics::UpdateCluster(const ClusterModel& model, const core::Policy& policy,
                                    SteadyTime now, double imbalance) {
  Impl& m = *impl_;
  m.hosts.Set(static_cast<double>(model.hosts().size()));
  m.vms.Set(static_cast<double>(model.vms().size()));
  int stale = 0;
  for (const auto& [name, h] : model.hosts()) {
    const double util[3] = {h.cpu_utilization, h.memory_utilization, h.net_utilization};
    const double cap[3] = {h.capacity.cpu_cores, static_cast<double>(h.capacity.memory_bytes),
                           static_cast<double>(h.capacity.nic_bits_per_second)};
    for (std::size_t r = 0; r < 3; ++r) {
      const std::map<std::string, std::string> labels = {{"host", name},
                                                         {"resource", kResources[r]}};
      m.host_util_set.Set(labels, util[r]);
      m.host_capacity_set.Set(labels, cap[r]);
      const auto& t = policy.thresholds[r];
      const std::vector<double> hist(h.history[r].begin(), h.history[r].end());
      const bool hot =
          t.enabled && cap[r] > 0 && !hist.empty() && core::IsHot(hist, policy.detection, t.hot);
      m.host_hot_set.Set(labels, hot ? 1 : 0);
    }
    m.host_stale_set.Set({{"host", name}}, h.stale ? 1 : 0);
    m.host_age_set.Set({{"host", name}}, Seconds(now - h.last_seen));
    stale += h.stale ? 1 : 0;
  }
  m.stale_hosts.Set(stale);
  for (const auto& [uuid, v] : model.vms()) {
    const std::map<std::string, std::string> labels = {{"host", v.host}, {"vm", v.name}};
    m.vm_cpu_set.Set(labels, v.cpu_cores.value_or(0));
    m.vm_mem_set.Set(labels, static_cast<double>(v.memory_bytes));
    if (v.has_net) m.vm_net_set.Set(labels, v.net_bits_per_second.value_or(0) / 8);
  }
  for (GaugeSet* s : {&m.host_util_set, &m.host_capacity_set, &m.host_hot_set, &m.host_stale_set,
                      &m.host_age_set, &m.vm_cpu_set, &m.vm_mem_set, &m.vm_net_set}) {
    s->Sweep();
  }
  m.imbalance.Set(imbalance);
}

void BalancerMetrics::OnPlan(const core::Plan& plan, std::chrono::nanoseconds plan_time,
                             std::optional<std::chrono::nanoseconds> decision_latency) {
  impl_->plans.Add({{"mode", std::string(core::ModeName(plan.mode))}}).Increment();
  impl_->plan_time.Observe(Seconds(plan_time));
  if (decision_latency) impl_->latency.Observe(Seconds(*decision_latency));
  impl_->unrelieved.Set(static_cast<double>(plan.unrelieved.size()));
  impl_->last_plan.SetToCurrentTime();
}

void BalancerMetrics::OnRecommended(const core::Move& move) {
  const std::string strategy(core::StrategyName(move.reason.strategy));
  impl_->recommended.Add({{"strategy", strategy}}).Increment();
  impl_->planned
      .Add({{"strategy", strategy},
            {"resource", std::string(core::ResourceName(move.reason.resource))}})
      .Increment();
}

void BalancerMetrics::OnMigrationStarted(const core::Move& move) {
  const std::string strategy(core::StrategyName(move.reason.strategy));
  impl_->started.Add({{"strategy", strategy}}).Increment();
  impl_->planned
      .Add({{"strategy", strategy},
            {"resource", std::string(core::ResourceName(move.reason.resource))}})
      .Increment();
}

void BalancerMetrics::OnMigrationFinished(const std::string& outcome, const std::string& strategy,
                                          std::chrono::milliseconds duration,
                                          std::optional<std::chrono::milliseconds> downtime,
                                          std::uint64_t bytes) {
  impl_->finished.Add({{"outcome", outcome}, {"strategy", strategy}}).Increment();
  auto it = impl_->duration_by_outcome.find(outcome);
  if (it != impl_->duration_by_outcome.end()) it->second->Observe(Seconds(duration));
  if (downtime) impl_->downtime.Observe(Seconds(*downtime));
  if (outcome == "succeeded") impl_->migrated_bytes.Increment(static_cast<double>(bytes));
}

void BalancerMetrics::OnSkipped(const std::string& reason) {
  impl_->skipped.Add({{"reason", reason}}).Increment();
}

void BalancerMetrics::SetInFlight(std::size_t n) { impl_->in_flight.Set(static_cast<double>(n)); }

void BalancerMetrics::OnPolicyReload(bool ok) {
  (ok ? impl_->reload_ok_series : impl_->reload_failed_series)->Increment();
}

void BalancerMetrics::SetMarks(const core::Policy& policy) {
  for (std::size_t r = 0; r < 3; ++r) {
    impl_->hot_mark[r]->Set(policy.thresholds[r].hot);
    impl_->relieved_mark[r]->Set(policy.thresholds[r].relieved);
  }
}

void BalancerMetrics::SetPolicy(std::uint64_t generation, core::Mode mode, bool last_reload_ok) {
  impl_->policy_generation.Set(static_cast<double>(generation));
  for (auto& [name, g] : impl_->mode_series) g->Set(name == core::ModeName(mode) ? 1 : 0);
  impl_->reload_ok.Set(last_reload_ok ? 1 : 0);
}

void BalancerMetrics::SetPaused(bool paused) { impl_->paused.Set(paused ? 1 : 0); }

void BalancerMetrics::SetJournalWritable(bool writable) {
  impl_->journal_writable.Set(writable ? 1 : 0);
}

void BalancerMetrics::SetHostsLeftOut(std::size_t n) {
  impl_->hosts_left_out.Set(static_cast<double>(n));
}

void BalancerMetrics::SetHostsClaimsMismatch(std::size_t n) {
  impl_->hosts_claims_mismatch.Set(static_cast<double>(n));
}

void BalancerMetrics::SetVmConflicts(std::size_t n) {
  impl_->vm_conflicts.Set(static_cast<double>(n));
}

}  // namespace ballast

namespace ballast {

void BalancerMetrics::SetHa(bool leading, bool etcd_reachable, std::uint64_t new_transitions,
                            std::uint64_t new_renewal_failures) {
  Impl& m = *impl_;
  if (m.leader == nullptr) {
    m.leader = &m.leader_family.Add({});
    m.etcd_reachable = &m.etcd_reachable_family.Add({});
    m.leader_transitions = &m.leader_transitions_family.Add({});
    m.lease_renewals_failed = &m.lease_renewals_failed_family.Add({});
  }
  m.leader->Set(leading ? 1 : 0);
  m.etcd_reachable->Set(etcd_reachable ? 1 : 0);
  if (new_transitions > 0) m.leader_transitions->Increment(static_cast<double>(new_transitions));
  if (new_renewal_failures > 0) {
    m.lease_renewals_failed->Increment(static_cast<double>(new_renewal_failures));
  }
}

}  // namespace ballast
