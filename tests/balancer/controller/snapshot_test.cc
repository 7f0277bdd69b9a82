#include "balancer/controller/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/common/test_samples.h"

namespace ballast {
namespace {

using std::chrono::seconds;
using testing::MakeHost;
using testing::MakeVm;

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr double kMiB = 1024.0 * 1024.0;

class SnapshotTest : public ::testing::Test {
 protected:
  // `host` reports `vms` at collector (and arrival) time t seconds.
  void Report(const std::string& host, std::uint64_t seq, std::uint64_t t_seconds,
              std::vector<VmSample> vms) {
    HostSample s = MakeHost(host, seq, t_seconds * kSecond);
    s.vms = std::move(vms);
    ASSERT_EQ(model_.Ingest(s, t0_ + seconds(t_seconds)), IngestResult::kAccepted);
  }

  static VmSample Vm(std::string uuid, std::string name, std::uint64_t cpu_ns,
                     std::uint64_t net_bytes = 0) {
    VmSample v = MakeVm(std::move(uuid), std::move(name), cpu_ns);
    v.has_net = true;
    v.net_rx_bytes = net_bytes / 2;
    v.net_tx_bytes = net_bytes - net_bytes / 2;
    return v;
  }

  // Host "a" (two samples, rates known): "spin" at 1 core and 10 Mbit/s, "idle" at 0.01
  // cores. Host "b" (one sample, long ago): "new", whose rate is not known yet.
  void BuildCluster() {
    Report("b", 1, 1, {Vm("uuid-new", "new", 5 * kSecond)});
    Report("a", 1, 3, {Vm("uuid-spin", "spin", 10 * kSecond, 0), Vm("uuid-idle", "idle", 0)});
    VmSample spin = Vm("uuid-spin", "spin", 11 * kSecond, 1'250'000);
    spin.vcpus = 2;
    spin.memory_current_bytes = 1024ull << 20;
    Report("a", 2, 4, {spin, Vm("uuid-idle", "idle", kSecond / 100)});
    // b last seen at 1 s, a at 4 s; at 5 s only b is past its 3 s stale threshold.
    model_.UpdateStaleness(t0_ + seconds(5));
    ASSERT_TRUE(model_.host("b")->stale);
    ASSERT_FALSE(model_.host("a")->stale);
  }

  static const core::Host* FindHost(const core::ClusterState& s, const std::string& name) {
    for (const auto& h : s.hosts) {
      if (h.name == name) return &h;
    }
    return nullptr;
  }
  static const core::Vm* FindVm(const core::ClusterState& s, const std::string& uuid) {
    for (const auto& v : s.vms) {
      if (v.uuid == uuid) return &v;
    }
    return nullptr;
  }

  ClusterModel model_;
  SteadyTime t0_ = SteadyTime(seconds(1000));
};

TEST_F(SnapshotTest, HostsCarryCapacityUsageAndHistory) {
  BuildCluster();
  SnapshotInputs in;
  in.model = &model_;
  core::ClusterState s = BuildClusterState(in);

  ASSERT_EQ(s.hosts.size(), 2u);
  const core::Host* a = FindHost(s, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->uuid, "00000000-0000-0000-0000-00000000000a");
  // Capacity and usage in absolute units: cores, bytes, bits/s.
  EXPECT_DOUBLE_EQ(a->capacity.cpu, 2);
  EXPECT_DOUBLE_EQ(a->capacity.memory, 4.0 * 1024 * kMiB);
  EXPECT_DOUBLE_EQ(a->capacity.net, 1e9);
  EXPECT_DOUBLE_EQ(a->used.cpu, 1.01);
  EXPECT_DOUBLE_EQ(a->used.memory, (1024 + 256) * kMiB);
  EXPECT_DOUBLE_EQ(a->used.net, 1e7);  // 1.25 MB in 1 s
  // History: utilisation as fractions of capacity, one entry per sample with known rates
  // (the first sample of "a" had none).
  const auto cpu = static_cast<std::size_t>(core::Resource::kCpu);
  const auto mem = static_cast<std::size_t>(core::Resource::kMemory);
  const auto net = static_cast<std::size_t>(core::Resource::kNetwork);
  ASSERT_EQ(a->history[cpu].size(), 1u);
  ASSERT_EQ(a->history[mem].size(), 1u);
  ASSERT_EQ(a->history[net].size(), 1u);
  EXPECT_DOUBLE_EQ(a->history[cpu][0], 1.01 / 2);
  EXPECT_DOUBLE_EQ(a->history[mem][0], (1024.0 + 256) / (4 * 1024));
  EXPECT_DOUBLE_EQ(a->history[net][0], 0.01);
  // The same values as the model's own history, in the same (oldest first) order.
  const HostView* av = model_.host("a");
  for (std::size_t r = 0; r < core::kNumResources; ++r) {
    EXPECT_EQ(a->history[r], std::vector<double>(av->history[r].begin(), av->history[r].end()))
        << r;
  }

  const core::Host* b = FindHost(s, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_DOUBLE_EQ(b->used.cpu, 0);  // its one VM has no rate yet
  EXPECT_DOUBLE_EQ(b->used.memory, 256 * kMiB);
  for (const auto& h : b->history) EXPECT_TRUE(h.empty());
}

TEST_F(SnapshotTest, HistoryKeepsOrderOverManySamples) {
  Report("a", 1, 1, {Vm("v", "v", 0)});
  Report("a", 2, 2, {Vm("v", "v", kSecond / 2)});  // 0.5 cores
  Report("a", 3, 3, {Vm("v", "v", kSecond)});      // 0.5 cores
  Report("a", 4, 4, {Vm("v", "v", 2 * kSecond)});  // 1 core
  SnapshotInputs in;
  in.model = &model_;
  core::ClusterState s = BuildClusterState(in);
  ASSERT_EQ(s.hosts.size(), 1u);
  EXPECT_EQ(s.hosts[0].history[static_cast<std::size_t>(core::Resource::kCpu)],
            (std::vector<double>{0.25, 0.25, 0.5}));
}

// A VM's window is a ring in the model; the snapshot lists it oldest first also once the
// ring has wrapped (20 rates into a window of 16).
TEST_F(SnapshotTest, VmHistoryKeepsOrderOnceItsWindowWraps) {
  std::uint64_t cpu_ns = 0;
  for (std::uint64_t t = 0; t <= 20; ++t) {
    cpu_ns += t * kSecond / 20;  // t/20 cores over the second before t
    Report("a", t + 1, t + 1, {Vm("v", "v", cpu_ns)});
  }
  SnapshotInputs in;
  in.model = &model_;
  core::ClusterState s = BuildClusterState(in);
  ASSERT_EQ(s.vms.size(), 1u);
  const auto cpu = static_cast<std::size_t>(core::Resource::kCpu);
  const std::vector<float>& got = s.vms[0].history[cpu];
  ASSERT_EQ(got.size(), 16u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_FLOAT_EQ(got[i], static_cast<float>(i + 5) / 20) << i;  // 0.25 ... 1.0
  }
}

TEST_F(SnapshotTest, StaleAndMaintenanceFlags) {
  BuildCluster();
  SnapshotInputs in;
  in.model = &model_;
  in.maintenance_hosts = {"a", "not-in-the-model"};
  core::ClusterState s = BuildClusterState(in);

  ASSERT_EQ(s.hosts.size(), 2u);  // a maintenance entry for an unknown host adds nothing
  const core::Host* a = FindHost(s, "a");
  const core::Host* b = FindHost(s, "b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(a->stale);
  EXPECT_TRUE(a->maintenance);
  EXPECT_TRUE(b->stale);
  EXPECT_FALSE(b->maintenance);
}

TEST_F(SnapshotTest, VmsCarryRatesAndZeroWhenUnknown) {
  BuildCluster();
  SnapshotInputs in;
  in.model = &model_;
  core::ClusterState s = BuildClusterState(in);

  ASSERT_EQ(s.vms.size(), 3u);
  const core::Vm* spin = FindVm(s, "uuid-spin");
  ASSERT_NE(spin, nullptr);
  EXPECT_EQ(spin->name, "spin");
  EXPECT_EQ(spin->host, "a");
  EXPECT_EQ(spin->vcpus, 2);
  EXPECT_DOUBLE_EQ(spin->memory_bytes, 1024 * kMiB);
  EXPECT_DOUBLE_EQ(spin->cpu_used, 1.0);
  EXPECT_DOUBLE_EQ(spin->net_bps, 1e7);

  const core::Vm* idle = FindVm(s, "uuid-idle");
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->host, "a");
  EXPECT_DOUBLE_EQ(idle->cpu_used, 0.01);
  EXPECT_DOUBLE_EQ(idle->net_bps, 0);

  const core::Vm* fresh = FindVm(s, "uuid-new");  // one sample: no rate yet
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->host, "b");
  EXPECT_EQ(fresh->vcpus, 1);
  EXPECT_DOUBLE_EQ(fresh->memory_bytes, 256 * kMiB);
  EXPECT_DOUBLE_EQ(fresh->cpu_used, 0);
  EXPECT_DOUBLE_EQ(fresh->net_bps, 0);
}

TEST_F(SnapshotTest, InFlightAndRecentPassThrough) {
  BuildCluster();
  const core::TimePoint finished = core::TimePoint(seconds(1'700'000'000));
  SnapshotInputs in;
  in.model = &model_;
  in.in_flight = {{"uuid-spin", "a", "b"}};
  in.recent = {{"uuid-idle", "b", "a", finished}, {"uuid-new", "a", "b", finished + seconds(1)}};
  core::ClusterState s = BuildClusterState(in);

  ASSERT_EQ(s.in_flight.size(), 1u);
  EXPECT_EQ(s.in_flight[0].vm_uuid, "uuid-spin");
  EXPECT_EQ(s.in_flight[0].from, "a");
  EXPECT_EQ(s.in_flight[0].to, "b");
  ASSERT_EQ(s.recent_migrations.size(), 2u);
  EXPECT_EQ(s.recent_migrations[0].vm_uuid, "uuid-idle");
  EXPECT_EQ(s.recent_migrations[0].from, "b");
  EXPECT_EQ(s.recent_migrations[0].to, "a");
  EXPECT_EQ(s.recent_migrations[0].finished_at, finished);
  EXPECT_EQ(s.recent_migrations[1].vm_uuid, "uuid-new");
  EXPECT_EQ(s.recent_migrations[1].finished_at, finished + seconds(1));
}

TEST_F(SnapshotTest, OrderIsDeterministic) {
  // The core is deterministic for a given snapshot (planner.h); a snapshot whose order
  // depended on hashing would let the same cluster give different plans.
  BuildCluster();
  SnapshotInputs in;
  in.model = &model_;
  core::ClusterState s = BuildClusterState(in);
  EXPECT_TRUE(std::is_sorted(s.hosts.begin(), s.hosts.end(),
                             [](const auto& x, const auto& y) { return x.name < y.name; }));
  // VMs host by host (in the hosts' order), each host's by name, then UUID: an order that
  // depends on names only ("a" lists idle before spin; UUID order would put "new" second).
  std::vector<std::string> got;
  for (const core::Vm& v : s.vms) got.push_back(v.uuid);
  EXPECT_EQ(got, (std::vector<std::string>{"uuid-idle", "uuid-spin", "uuid-new"}));
}

TEST_F(SnapshotTest, EmptyModelGivesEmptyState) {
  SnapshotInputs in;
  in.model = &model_;
  core::ClusterState s = BuildClusterState(in);
  EXPECT_TRUE(s.hosts.empty());
  EXPECT_TRUE(s.vms.empty());
  EXPECT_TRUE(s.in_flight.empty());
  EXPECT_TRUE(s.recent_migrations.empty());
}

}  // namespace
}  // namespace ballast
