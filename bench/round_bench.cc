// A planning round as the daemon pays it (issue 19, target 1): the snapshot of the cluster
// model (BuildClusterState, what Controller::Snapshot does), the plan with every strategy
// (hotspot, balance, density, drain) and the imbalance measure (Plan::load_stddev, which
// Controller::PlanRound reads), and freeing them, on one core.
// Targets: 10,000 hosts / 200,000 VMs under 100 ms, 100,000 hosts / 2,000,000 VMs under 1 s.
//
// The model is filled the way the daemon fills it: ClusterModel::Ingest of host samples with
// advancing counters (33 intervals, so every host's and VM's history is as full as in a
// daemon that has run for a while: 32 samples a host, 16 a VM, per resource). The cluster
// gives every strategy work: 5 % of hosts hot (88-96 % CPU), 10 % nearly idle (5-15 %, for
// density), the rest spread over 30-75 % (skew, for balance), one host of middling load in
// maintenance (drain),
// and a few migrations in flight and recently finished. Printed per size: the time of each
// phase, the moves each strategy made, and the model's memory per VM (RSS growth while it
// was filled, divided by its VMs).
//
//   build/bin/ballast_bench_round [--benchmark_filter=/10000]

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "balancer/controller/snapshot.h"
#include "balancer/core/planner.h"
#include "balancer/model/cluster_model.h"
#include "balancer/policy/loader.h"
#include "common/proc_status.h"

namespace ballast {
namespace {

constexpr int kVmsPerHost = 20;
constexpr std::uint64_t kIntervalNs = 1'000'000'000;
constexpr double kCores = 32;
// Enough intervals to fill the model's histories (ModelOptions: 32 a host, 16 a VM; the first
// sample gives no rate): the snapshot copies them all every round.
constexpr int kFillIntervals = 33;

std::string HostName(int h) { return "node-" + std::to_string(h); }

struct Cluster {
  std::vector<HostSample> samples;
  std::vector<std::vector<double>> vm_cores;  // per host, per VM: CPU in cores
  int drained = -1;                           // a host of middling load, put in maintenance
};

Cluster MakeCluster(int hosts, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::mt19937_64 uuid_rng(seed ^ 0x9e3779b97f4a7c15ull);  // apart, so the loads stay the same
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Cluster c;
  c.samples.reserve(static_cast<std::size_t>(hosts));
  for (int h = 0; h < hosts; ++h) {
    const double kind = unit(rng);
    double load = 0.30 + 0.45 * unit(rng);            // skewed: balance's work
    if (kind < 0.05) load = 0.88 + 0.08 * unit(rng);  // hot: hotspot's
    if (kind > 0.90) load = 0.05 + 0.10 * unit(rng);  // nearly idle: density's
    HostSample s;
    s.host.name = HostName(h);
    s.host.uuid = "00000000-0000-0000-0000-" + std::to_string(100000000000 + h);
    s.host.libvirt_uri = "qemu+tls://" + s.host.name + "/system";
    s.host.migration_address = "10.0.0.1";
    s.host.source = "libvirt";
    s.boot_id = 1;
    s.capacity.cpu_cores = static_cast<std::uint32_t>(kCores);
    s.capacity.memory_bytes = 256ull << 30;
    s.capacity.nic_bits_per_second = 10'000'000'000ull;
    std::vector<double> cores;
    for (int v = 0; v < kVmsPerHost; ++v) {
      VmSample vm;
      // Random, as libvirt's are: a VM's UUID says nothing about its host or when it came,
      // so the model's UUID order is not the order its memory was filled in.
      char uuid[40];
      const std::uint64_t hi = uuid_rng(), lo = uuid_rng();
      std::snprintf(uuid, sizeof uuid, "%08x-%04x-4%03x-8%03x-%012llx",
                    static_cast<unsigned>(hi >> 32), static_cast<unsigned>(hi >> 16) & 0xffff,
                    static_cast<unsigned>(hi) & 0xfff, static_cast<unsigned>(lo >> 48) & 0xfff,
                    static_cast<unsigned long long>(lo & 0xffffffffffffull));
      vm.uuid = uuid;
      vm.name = "vm-" + std::to_string(h) + "-" + std::to_string(v);
      vm.vcpus = 4;
      vm.state = VmState::kRunning;
      vm.memory_current_bytes = (2ull + static_cast<std::uint64_t>(unit(rng) * 8)) << 30;
      vm.memory_max_bytes = vm.memory_current_bytes;
      vm.has_net = true;
      s.vms.push_back(std::move(vm));
      cores.push_back(load * kCores / kVmsPerHost * (0.5 + unit(rng)));
    }
    c.samples.push_back(std::move(s));
    c.vm_cores.push_back(std::move(cores));
    if (c.drained < 0 && kind >= 0.05 && kind <= 0.90 && load < 0.5) c.drained = h;
  }
  return c;
}

// One interval later: counters advance by each VM's load.
void Advance(Cluster& c, std::size_t h) {
  HostSample& s = c.samples[h];
  ++s.sequence;
  s.monotonic_ns += kIntervalNs;
  for (std::size_t i = 0; i < s.vms.size(); ++i) {
    VmSample& vm = s.vms[i];
    vm.cpu_ns += static_cast<std::uint64_t>(c.vm_cores[h][i] * kIntervalNs);
    vm.net_rx_bytes += 1'000'000 + i * 1000;
    vm.net_tx_bytes += 500'000 + i * 1000;
  }
}

core::Policy RoundPolicy() {
  auto p = policy::LoadPolicyFile(BALLAST_BENCH_POLICIES_DIR "/default.yaml");
  if (!p.ok()) {
    std::fprintf(stderr, "%s\n", p.status().ToString().c_str());
    std::abort();
  }
  core::Policy policy = *p;
  policy.strategies = {core::StrategyKind::kHotspot, core::StrategyKind::kBalance,
                       core::StrategyKind::kDensity, core::StrategyKind::kDrain};
  // Caps high enough that every strategy does all it finds: the worst case for plan time.
  policy.limits.max_moves_per_round = 1'000'000;
  policy.limits.max_concurrent = 1'000'000;
  policy.limits.max_per_host_out = 4;
  policy.limits.max_per_host_in = 4;
  return policy;
}

void BM_DaemonRound(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  const double rss_before = RssMiB();
  ClusterModel model(ModelOptions{.host_load = HostLoad::kVmSum});
  int drained = 0;
  {
    Cluster cluster = MakeCluster(hosts, 7);
    drained = cluster.drained;
    SteadyTime now{};
    for (int round = 0; round < kFillIntervals; ++round) {
      now += std::chrono::seconds(1);
      for (std::size_t h = 0; h < cluster.samples.size(); ++h) {
        Advance(cluster, h);
        model.Ingest(cluster.samples[h], now);
      }
    }
  }
  const double model_mib = RssMiB() - rss_before;
  const core::Policy policy = RoundPolicy();
  const core::TimePoint wall = core::TimePoint{} + std::chrono::hours(24 * 365 * 50);  // any

  SnapshotInputs in;
  in.model = &model;
  in.maintenance_hosts = {HostName(drained)};
  // Migrations in flight (1 per 100 hosts) and finished a minute ago (1 per 20), of VMs
  // spread over the cluster.
  std::vector<const VmView*> all;
  all.reserve(model.vms().size());
  for (const auto& [uuid, v] : model.vms()) all.push_back(&v);
  const std::size_t flying = static_cast<std::size_t>(hosts / 100);
  const std::size_t recent = static_cast<std::size_t>(hosts / 20);
  const std::size_t stride = all.size() / (flying + recent + 1);
  for (std::size_t k = 0; k < flying + recent; ++k) {
    const VmView& v = *all[(k + 1) * stride];
    const std::string other = HostName(static_cast<int>((k * 7 + 1) % hosts));
    if (v.host == HostName(drained) || other == HostName(drained)) continue;
    if (k < flying) {
      in.in_flight.push_back({v.uuid, v.host, other});
    } else {
      in.recent.push_back({v.uuid, other, v.host, wall - std::chrono::minutes(1)});
    }
  }

  using Clock = std::chrono::steady_clock;
  Clock::duration snapshot{}, plan_time{}, round{};
  std::map<core::StrategyKind, std::size_t> moves;
  double stddev = 0;
  // Kept across rounds for its storage, as Controller::PlanRound keeps its round_state_.
  core::ClusterState cs;
  // Kept across rounds, as Controller::PlanRound keeps its plan_workspace_.
  core::PlanWorkspace workspace;
  core::PlanWorkspace view_workspace;
  // Not part of the round: MakePlan with no strategy, i.e. the cost of the plan's view of
  // the cluster (PlanContext) alone, to tell it from the strategies' own work.
  core::Policy view_only = policy;
  view_only.strategies.clear();
  Clock::duration view{};
  std::vector<Clock::duration> rounds;  // each timed round, for the median and the minimum
  // One round first, untimed: it allocates the snapshot and the workspaces, which the daemon
  // does once and then reuses; the timed rounds are the steady state.
  BuildClusterStateInto(in, cs);
  benchmark::DoNotOptimize(core::MakePlan(cs, policy, wall, workspace));
  benchmark::DoNotOptimize(core::MakePlan(cs, view_only, wall, view_workspace));
  for (auto _ : state) {
    // The round as Controller::PlanRound pays it: the snapshot, the plan (which measures the
    // imbalance on its own view, Plan::load_stddev), and freeing the plan.
    const auto t0 = Clock::now();
    {
      BuildClusterStateInto(in, cs);
      const auto t1 = Clock::now();
      core::Plan plan = core::MakePlan(cs, policy, wall, workspace);
      const auto t2 = Clock::now();
      stddev = plan.load_stddev;
      snapshot += t1 - t0;
      plan_time += t2 - t1;
      moves.clear();
      for (const core::Move& m : plan.moves) ++moves[m.reason.strategy];
      benchmark::DoNotOptimize(plan);
    }
    rounds.push_back(Clock::now() - t0);
    round += rounds.back();
    const auto v0 = Clock::now();
    benchmark::DoNotOptimize(core::MakePlan(cs, view_only, wall, view_workspace));
    view += Clock::now() - v0;
  }
  const double n = static_cast<double>(state.iterations());
  auto ms = [&](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count() / n;
  };
  state.counters["hosts"] = hosts;
  state.counters["vms"] = static_cast<double>(model.vms().size());
  state.counters["snapshot_ms"] = ms(snapshot);
  state.counters["plan_ms"] = ms(plan_time);
  state.counters["round_ms"] = ms(round);
  // On a shared machine the mean moves with the neighbours; the median and the minimum of
  // the timed rounds move less.
  std::sort(rounds.begin(), rounds.end());
  auto one_ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  state.counters["round_med_ms"] = one_ms(rounds[rounds.size() / 2]);
  state.counters["round_min_ms"] = one_ms(rounds.front());
  state.counters["view_ms"] = ms(view);
  state.counters["model_B_per_vm"] =
      model_mib * 1048576.0 / static_cast<double>(model.vms().size());
  state.counters["hotspot"] = static_cast<double>(moves[core::StrategyKind::kHotspot]);
  state.counters["balance"] = static_cast<double>(moves[core::StrategyKind::kBalance]);
  state.counters["density"] = static_cast<double>(moves[core::StrategyKind::kDensity]);
  state.counters["drain"] = static_cast<double>(moves[core::StrategyKind::kDrain]);
  state.counters["stddev"] = stddev;
}

// Fixed iterations: filling a 2,000,000-VM model takes seconds, and Google Benchmark would
// otherwise call the function (and fill it) again for each trial count. The environment
// variable BALLAST_BENCH_ROUNDS=N times N rounds at every size instead (more rounds for a
// steadier median on a noisy machine, or for a profile of the rounds rather than the fill).
void RegisterRounds() {
  const char* env = std::getenv("BALLAST_BENCH_ROUNDS");
  const long rounds = env != nullptr ? std::strtol(env, nullptr, 10) : 0;
  for (auto [hosts, iterations] :
       {std::pair{1000, 20}, {3000, 10}, {10000, 5}, {30000, 3}, {100000, 3}}) {
    benchmark::RegisterBenchmark("BM_DaemonRound", BM_DaemonRound)
        ->Arg(hosts)
        ->Iterations(rounds > 0 ? rounds : iterations)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace ballast

int main(int argc, char** argv) {
  ballast::RegisterRounds();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
