#pragma once

// Small builders for cluster snapshots in tests: hosts with round capacities, VMs with
// usage, and host histories that default to a flat window at the current utilisation.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "balancer/core/cluster_state.h"
#include "balancer/core/plan.h"
#include "balancer/core/policy.h"

namespace ballast::core::testing {

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// A fixed, arbitrary instant: tests never read a clock.
inline TimePoint T0() { return TimePoint{} + std::chrono::hours(24 * 365 * 50); }

class ClusterBuilder {
 public:
  // Capacity: cores, GiB of memory, Gbit/s of network.
  ClusterBuilder& Host(const std::string& name, double cores = 16, double mem_gib = 64,
                       double net_gbps = 10) {
    core::Host h;
    h.name = name;
    h.uuid = "host-uuid-" + name;
    h.capacity = {cores, mem_gib * kGiB, net_gbps * 1e9};
    state_.hosts.push_back(h);
    return *this;
  }
  // Usage: cores, GiB, Mbit/s.
  ClusterBuilder& Vm(const std::string& name, const std::string& host, double cores,
                     double mem_gib = 2, double net_mbps = 0) {
    core::Vm v;
    v.uuid = "vm-uuid-" + name;
    v.name = name;
    v.host = host;
    v.vcpus = static_cast<int>(cores) + 1;
    v.memory_bytes = mem_gib * kGiB;
    v.cpu_used = cores;
    v.net_bps = net_mbps * 1e6;
    state_.vms.push_back(v);
    return *this;
  }
  // Overrides one host's history for one resource (utilisation fractions, oldest first).
  ClusterBuilder& History(const std::string& host, Resource r, std::vector<double> samples) {
    histories_[{host, static_cast<int>(r)}] = std::move(samples);
    return *this;
  }
  ClusterBuilder& Stale(const std::string& host) {
    Find(host).stale = true;
    return *this;
  }
  ClusterBuilder& Maintenance(const std::string& host) {
    Find(host).maintenance = true;
    return *this;
  }
  ClusterBuilder& Finished(const std::string& vm, const std::string& from, const std::string& to,
                           TimePoint at) {
    state_.recent_migrations.push_back({"vm-uuid-" + vm, from, to, at});
    return *this;
  }
  ClusterBuilder& InFlight(const std::string& vm, const std::string& from, const std::string& to) {
    state_.in_flight.push_back({"vm-uuid-" + vm, from, to});
    return *this;
  }

  // Host `used` = the sum of its VMs; histories flat at that utilisation (window_len samples)
  // unless overridden.
  ClusterState Build(int window_len = 5) const {
    ClusterState s = state_;
    for (core::Host& h : s.hosts) {
      h.used = {};
      for (const core::Vm& v : s.vms) {
        if (v.host != h.name) continue;
        for (Resource r : kAllResources) h.used[r] += v.usage()[r];
      }
      for (Resource r : kAllResources) {
        auto it = histories_.find({h.name, static_cast<int>(r)});
        double u = h.capacity[r] > 0 ? h.used[r] / h.capacity[r] : 0;
        h.history[static_cast<std::size_t>(r)] =
            it != histories_.end() ? it->second
                                   : std::vector<double>(static_cast<std::size_t>(window_len), u);
      }
    }
    return s;
  }

 private:
  core::Host& Find(const std::string& name) {
    for (core::Host& h : state_.hosts) {
      if (h.name == name) return h;
    }
    static core::Host none;
    return none;
  }

  ClusterState state_;
  std::map<std::pair<std::string, int>, std::vector<double>> histories_;
};

// A policy for unit tests: hotspot only, generous caps, so one rule is tested at a time.
inline Policy TestPolicy() {
  Policy p;
  p.name = "test";
  p.mode = Mode::kAutomatic;
  p.strategies = {StrategyKind::kHotspot};
  p.limits.max_moves_per_round = 10;
  p.limits.max_concurrent = 10;
  p.limits.max_per_host_out = 10;
  p.limits.max_per_host_in = 10;
  return p;
}

inline std::vector<std::string> MovedVms(const Plan& plan) {
  std::vector<std::string> out;
  for (const Move& m : plan.moves) out.push_back(m.vm_name + "->" + m.to);
  return out;
}

}  // namespace ballast::core::testing
