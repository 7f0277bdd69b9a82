// Plan time for 100 / 1,000 / 10,000 hosts with 20 VMs each. Target: 10,000 hosts and
// 200,000 VMs planned in under 1 s on one core. Results: bench/README.md.
//
// The cluster is synthetic but shaped like a busy one: hosts around 55 % CPU, 5 % of them
// hot (about 90 %), a few hosts in maintenance, a few stale, recent migrations and some in
// flight, and a handful of hard rules, so every check on the hot path runs.

#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <string>

#include "balancer/core/planner.h"

namespace ballast::core {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int kVmsPerHost = 20;

TimePoint Now() { return TimePoint{} + std::chrono::hours(24 * 365 * 50); }

ClusterState MakeCluster(int num_hosts, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  ClusterState s;
  s.hosts.reserve(static_cast<std::size_t>(num_hosts));
  s.vms.reserve(static_cast<std::size_t>(num_hosts) * kVmsPerHost);
  for (int i = 0; i < num_hosts; ++i) {
    Host h;
    h.name = "node-" + std::to_string(i);
    h.uuid = "host-uuid-" + std::to_string(i);
    h.capacity = {32, 256 * kGiB, 10e9};
    h.stale = unit(rng) < 0.002;
    h.maintenance = unit(rng) < 0.001;
    const bool hot = unit(rng) < 0.05;
    const double target_cpu = (hot ? 0.88 + 0.08 * unit(rng) : 0.35 + 0.4 * unit(rng)) * 32;
    for (int j = 0; j < kVmsPerHost; ++j) {
      Vm v;
      const int id = i * kVmsPerHost + j;
      v.uuid = "vm-uuid-" + std::to_string(id);
      v.name = "vm-" + std::to_string(id);
      v.host = h.name;
      v.vcpus = 2 + static_cast<int>(unit(rng) * 6);
      v.memory_bytes = (2 + static_cast<int>(unit(rng) * 8)) * kGiB;
      v.cpu_used = target_cpu / kVmsPerHost * (0.5 + unit(rng));
      v.net_bps = 1e8 * unit(rng);
      for (Resource r : kAllResources) h.used[r] += v.usage()[r];
      s.vms.push_back(std::move(v));
    }
    for (Resource r : kAllResources) {
      const double u = h.used[r] / h.capacity[r];
      auto& hist = h.history[static_cast<std::size_t>(r)];
      for (int k = 0; k < 5; ++k) hist.push_back(u * (0.97 + 0.06 * unit(rng)));
    }
    s.hosts.push_back(std::move(h));
  }
  for (int k = 0; k < num_hosts / 20; ++k) {
    const Vm& v = s.vms[static_cast<std::size_t>(rng() % s.vms.size())];
    s.recent_migrations.push_back(
        {v.uuid, s.hosts[rng() % s.hosts.size()].name, v.host, Now() - std::chrono::seconds(60)});
  }
  for (int k = 0; k < num_hosts / 100; ++k) {
    const Vm& v = s.vms[static_cast<std::size_t>(rng() % s.vms.size())];
    s.in_flight.push_back({v.uuid, v.host, s.hosts[rng() % s.hosts.size()].name});
  }
  return s;
}

Policy BenchPolicy(bool all_strategies) {
  Policy p;
  p.mode = Mode::kAutomatic;
  p.strategies = {StrategyKind::kHotspot, StrategyKind::kDrain};
  if (all_strategies) {
    p.strategies = {StrategyKind::kHotspot, StrategyKind::kBalance, StrategyKind::kDensity,
                    StrategyKind::kDrain};
  }
  // Caps high enough that every hot host is worked on: the worst case for plan time.
  p.limits.max_moves_per_round = 100000;
  p.limits.max_concurrent = 100000;
  p.limits.max_per_host_out = 20;
  p.limits.max_per_host_in = 4;
  p.rules.exclude_vms = {"vm-1?", "backup-*"};
  p.rules.anti_affinity = {{"replicas", {"vm-42", "vm-4242", "vm-424242"}}};
  p.rules.affinity = {{"pair", {"vm-7", "vm-8"}}};
  p.rules.pins = {{"vm-99", {"node-1", "node-2"}, PinMode::kMust}};
  return p;
}

void Run(benchmark::State& state, bool all_strategies) {
  const int hosts = static_cast<int>(state.range(0));
  const ClusterState cluster = MakeCluster(hosts, 7);
  const Policy policy = BenchPolicy(all_strategies);
  std::size_t moves = 0;
  std::size_t unrelieved = 0;
  for (auto _ : state) {
    Plan plan = MakePlan(cluster, policy, Now());
    moves = plan.moves.size();
    unrelieved = plan.unrelieved.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["hosts"] = hosts;
  state.counters["vms"] = static_cast<double>(cluster.vms.size());
  state.counters["moves"] = static_cast<double>(moves);
  state.counters["unrelieved"] = static_cast<double>(unrelieved);
}

void BM_PlanHotspotDrain(benchmark::State& state) { Run(state, false); }
void BM_PlanAllStrategies(benchmark::State& state) { Run(state, true); }

BENCHMARK(BM_PlanHotspotDrain)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanAllStrategies)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ballast::core

BENCHMARK_MAIN();
