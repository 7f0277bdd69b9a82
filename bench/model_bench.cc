// Microbenchmarks of the balancer's ingest path without ZeroMQ: ClusterModel::Ingest of
// 100-VM host samples into a model of N hosts, and DecodeHostSample of one 100-VM sample
// (into a new HostSample, or into one kept across messages as the daemon does).
// Items per second are VM samples. Results: bench/README.md.
//
//   build/bin/ballast_bench_model --benchmark_min_time=0.5

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "balancer/model/cluster_model.h"
#include "common/wire.h"

namespace ballast {
namespace {

constexpr int kVmsPerHost = 100;
constexpr std::uint64_t kIntervalNs = 1'000'000'000;

HostSample MakeHostSample(int h, int vms) {
  HostSample s;
  s.host.name = "bench-" + std::to_string(h);
  s.host.uuid = "00000000-0000-0000-0000-" + std::to_string(100000000000 + h);
  s.host.libvirt_uri = "qemu+tls://bench-" + std::to_string(h) + "/system";
  s.host.migration_address = "10.0.0.1";
  s.host.source = "libvirt";
  s.boot_id = 1;
  s.sequence = 0;
  s.capacity.cpu_cores = 64;
  s.capacity.memory_bytes = 512ull << 30;
  s.capacity.nic_bits_per_second = 10'000'000'000ull;
  for (int v = 0; v < vms; ++v) {
    VmSample vm;
    // UUID-shaped (36 characters, so no small-string optimisation), names in an order that
    // differs from the UUIDs' so that sorting by name is real work.
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012x", static_cast<unsigned>(h),
                  static_cast<unsigned>(v * 7919 % 100003));
    vm.uuid = uuid;
    vm.name = "vm-" + std::to_string(h) + "-" + std::to_string(vms - v);
    vm.vcpus = 2;
    vm.state = VmState::kRunning;
    vm.memory_current_bytes = 4ull << 30;
    vm.memory_max_bytes = 4ull << 30;
    vm.has_net = true;
    s.vms.push_back(std::move(vm));
  }
  return s;
}

// Advances a host's sample by one interval: new sequence, clock and counters.
void Advance(HostSample& s) {
  ++s.sequence;
  s.monotonic_ns += kIntervalNs;
  for (std::size_t i = 0; i < s.vms.size(); ++i) {
    VmSample& vm = s.vms[i];
    vm.cpu_ns += kIntervalNs / 4 + i * 1000;
    vm.net_rx_bytes += 1000 + i;
    vm.net_tx_bytes += 500 + i;
  }
}

// One sample per host, kVmsPerHost VMs each.
std::vector<HostSample> MakeHostSamples(int hosts) {
  std::vector<HostSample> samples;
  samples.reserve(static_cast<std::size_t>(hosts));
  for (int h = 0; h < hosts; ++h) samples.push_back(MakeHostSample(h, kVmsPerHost));
  return samples;
}

// Two rounds before timing, so every VM is known and has rates.
void WarmUp(ClusterModel& model, std::vector<HostSample>& samples, SteadyTime now) {
  for (int round = 0; round < 2; ++round) {
    for (auto& s : samples) {
      Advance(s);
      model.Ingest(s, now);
    }
  }
}

// Steady state: every host reports the same VMs with advancing counters (the common case).
void BM_ModelIngest(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  std::vector<HostSample> samples = MakeHostSamples(hosts);
  ClusterModel model;
  SteadyTime now{};
  WarmUp(model, samples, now);
  std::size_t next = 0;
  for (auto _ : state) {
    HostSample& s = samples[next];
    next = next + 1 == samples.size() ? 0 : next + 1;
    Advance(s);
    now += std::chrono::microseconds(1);
    benchmark::DoNotOptimize(model.Ingest(s, now));
  }
  state.SetItemsProcessed(state.iterations() * kVmsPerHost);
  state.counters["vms_in_model"] = static_cast<double>(model.vms().size());
}
BENCHMARK(BM_ModelIngest)->Arg(100)->Arg(1000)->Arg(3000)->Unit(benchmark::kMicrosecond);

// Churn: every sample one VM of the host is replaced by a new one (membership changes, so the
// host's VM list is re-sorted and the ordered VM map updated every time).
void BM_ModelIngestChurn(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  std::vector<HostSample> samples = MakeHostSamples(hosts);
  ClusterModel model;
  SteadyTime now{};
  WarmUp(model, samples, now);
  std::size_t next = 0;
  std::uint64_t serial = 0;
  for (auto _ : state) {
    HostSample& s = samples[next];
    next = next + 1 == samples.size() ? 0 : next + 1;
    Advance(s);
    VmSample& vm = s.vms[serial % s.vms.size()];
    vm.uuid = "churn-" + std::to_string(serial) + "-000000000000000000000000";
    vm.name = "churn-" + std::to_string(serial);
    ++serial;
    now += std::chrono::microseconds(1);
    benchmark::DoNotOptimize(model.Ingest(s, now));
  }
  state.SetItemsProcessed(state.iterations() * kVmsPerHost);
}
BENCHMARK(BM_ModelIngestChurn)->Arg(1000)->Unit(benchmark::kMicrosecond);

// One encoded kVmsPerHost-VM sample of host 1 (the sample itself in `s`); nullopt, and the
// benchmark skipped, if it does not encode.
std::optional<std::string> EncodedSample(benchmark::State& state, HostSample& s) {
  s = MakeHostSample(1, kVmsPerHost);
  Advance(s);
  auto bytes = EncodeHostSample(s);
  if (!bytes.ok()) {
    state.SkipWithError("encode failed");
    return std::nullopt;
  }
  return std::move(*bytes);
}

void BM_DecodeHostSample(benchmark::State& state) {
  HostSample s;
  const std::optional<std::string> bytes = EncodedSample(state, s);
  if (!bytes) return;
  for (auto _ : state) {
    DecodeResult d = DecodeHostSample(*bytes, s.host.name);
    benchmark::DoNotOptimize(d.ok());
  }
  state.SetItemsProcessed(state.iterations() * kVmsPerHost);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes->size()));
}
BENCHMARK(BM_DecodeHostSample)->Unit(benchmark::kMicrosecond);

// Into one HostSample kept across messages, as the balancer's loop decodes.
void BM_DecodeHostSampleInto(benchmark::State& state) {
  HostSample s;
  const std::optional<std::string> bytes = EncodedSample(state, s);
  if (!bytes) return;
  HostSample out;
  for (auto _ : state) {
    auto failure = DecodeHostSampleInto(*bytes, s.host.name, out);
    benchmark::DoNotOptimize(failure.has_value());
  }
  state.SetItemsProcessed(state.iterations() * kVmsPerHost);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes->size()));
}
BENCHMARK(BM_DecodeHostSampleInto)->Unit(benchmark::kMicrosecond);

// Decode then ingest per message (ZeroMQ and CURVE excluded): into a new HostSample each time
// (DecodeHostSample), or into one kept across messages as the daemon does (range(1) = 1).
void BM_DecodeAndIngest(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  const bool into = state.range(1) != 0;
  HostSample out;
  std::vector<HostSample> samples = MakeHostSamples(hosts);
  ClusterModel model;
  SteadyTime now{};
  WarmUp(model, samples, now);
  // Pre-encoded: one round of messages per host, replayed with advancing sequence numbers
  // would need re-encoding, so encode several rounds up front and cycle through them.
  constexpr int kRounds = 4;
  std::vector<std::string> encoded;
  for (int round = 0; round < kRounds; ++round) {
    for (auto& s : samples) {
      Advance(s);
      auto e = EncodeHostSample(s);
      if (!e.ok()) {
        state.SkipWithError("encode failed");
        return;
      }
      encoded.push_back(std::move(*e));
    }
  }
  std::size_t next = 0;
  std::uint64_t accepted = 0;
  for (auto _ : state) {
    if (next == encoded.size()) {  // replaying old sequences would be ignored: rebuild
      state.PauseTiming();
      encoded.clear();
      for (int round = 0; round < kRounds; ++round) {
        for (auto& s : samples) {
          Advance(s);
          encoded.push_back(*EncodeHostSample(s));
        }
      }
      next = 0;
      state.ResumeTiming();
    }
    now += std::chrono::microseconds(1);
    if (into) {
      if (!DecodeHostSampleInto(encoded[next++], {}, out) &&
          model.Ingest(out, now) == IngestResult::kAccepted) {
        ++accepted;
      }
    } else {
      DecodeResult d = DecodeHostSample(encoded[next++]);
      if (d.ok() && model.Ingest(d.sample(), now) == IngestResult::kAccepted) ++accepted;
    }
  }
  state.SetItemsProcessed(state.iterations() * kVmsPerHost);
  state.counters["accepted"] = static_cast<double>(accepted);
}
BENCHMARK(BM_DecodeAndIngest)
    ->ArgNames({"hosts", "into"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ballast

BENCHMARK_MAIN();
