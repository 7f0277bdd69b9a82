#include "balancer/model/cluster_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "balancer/model/cluster_table.h"
#include "tests/balancer/model/reference_model.h"
#include "tests/common/test_samples.h"

namespace ballast {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::MakeHost;
using testing::MakeVm;

constexpr std::uint64_t kSecond = 1'000'000'000;

class ClusterModelTest : public ::testing::Test {
 protected:
  // Host "a" reports VMs with the given cumulative CPU ns at collector time t seconds.
  void Report(const std::string& host, std::uint64_t seq, double t_seconds,
              std::vector<VmSample> vms, std::uint64_t boot = 42) {
    HostSample s = MakeHost(host, seq, static_cast<std::uint64_t>(t_seconds * kSecond));
    s.boot_id = boot;
    s.vms = std::move(vms);
    model_.Ingest(s, t0_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(t_seconds)));
  }
  double CpuOf(const std::string& uuid) { return model_.vm(uuid)->cpu_cores.value_or(-1); }

  ClusterModel model_;
  SteadyTime t0_ = SteadyTime(seconds(1000));
};

TEST_F(ClusterModelTest, RatesComeFromCounterDeltas) {
  Report("a", 1, 1, {MakeVm("spin", "spin", 10 * kSecond), MakeVm("idle", "idle", 0)});
  EXPECT_FALSE(model_.vm("spin")->cpu_cores.has_value());  // one sample: no rate yet
  Report("a", 2, 2, {MakeVm("spin", "spin", 11 * kSecond), MakeVm("idle", "idle", kSecond / 100)});
  EXPECT_DOUBLE_EQ(CpuOf("spin"), 1.0);
  EXPECT_DOUBLE_EQ(CpuOf("idle"), 0.01);
  const HostView* h = model_.host("a");
  EXPECT_DOUBLE_EQ(h->cpu_used_cores, 1.01);
  EXPECT_DOUBLE_EQ(h->cpu_utilization, 1.01 / 2);  // capacity 2 cores
  EXPECT_DOUBLE_EQ(h->memory_utilization, (2.0 * 256) / (4 * 1024));
}

TEST_F(ClusterModelTest, GapsUseTheWholeIntervalAndAreCounted) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("a", 5, 5, {MakeVm("v", "v", 2 * kSecond)});  // samples 2..4 lost
  EXPECT_DOUBLE_EQ(CpuOf("v"), 0.5);
  EXPECT_EQ(model_.host("a")->gaps, 3u);
}

TEST_F(ClusterModelTest, CounterGoingBackwardsKeepsLastRate) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("a", 2, 2, {MakeVm("v", "v", kSecond / 2)});
  Report("a", 3, 3, {MakeVm("v", "v", 1000)});  // VM restarted: counter reset
  EXPECT_DOUBLE_EQ(CpuOf("v"), 0.5);            // no negative or absurd rate
  EXPECT_EQ(model_.host("a")->resets, 1u);
  Report("a", 4, 4, {MakeVm("v", "v", 1000 + kSecond / 4)});
  EXPECT_DOUBLE_EQ(CpuOf("v"), 0.25);
}

// A collector whose libvirt call stalled (seen during a live migration) stamps its sample
// late; the next one follows at once, so the counters span far more time than the stamps:
// 0.4 s of CPU over 10 ms would be 40 cores for a 1-vCPU VM. Ignored and counted, the last
// rate kept; the sample after it is believed again.
TEST_F(ClusterModelTest, RateAboveWhatTheVcpusCanUseIsIgnored) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("a", 2, 2, {MakeVm("v", "v", kSecond / 2)});
  Report("a", 3, 2.01, {MakeVm("v", "v", kSecond / 2 + 4 * kSecond / 10)});
  EXPECT_DOUBLE_EQ(CpuOf("v"), 0.5);
  EXPECT_EQ(model_.host("a")->implausible_rates, 1u);
  EXPECT_DOUBLE_EQ(model_.host("a")->cpu_used_cores, 0.5);
  Report("a", 4, 3.01, {MakeVm("v", "v", kSecond / 2 + 4 * kSecond / 10 + 7 * kSecond / 10)});
  EXPECT_NEAR(CpuOf("v"), 0.7, 1e-6);
  // 1.4 cores for one vCPU is within the slack (jitter), and believed.
  Report("a", 5, 4.01, {MakeVm("v", "v", 16 * kSecond / 10 + 14 * kSecond / 10)});
  EXPECT_NEAR(CpuOf("v"), 1.4, 1e-6);
  EXPECT_EQ(model_.host("a")->implausible_rates, 1u);
}

TEST_F(ClusterModelTest, CollectorRestartResetsBaselines) {
  Report("a", 1, 100, {MakeVm("v", "v", 50 * kSecond)});
  Report("a", 2, 101, {MakeVm("v", "v", 51 * kSecond)});
  // New boot: sequence and monotonic clock start over.
  Report("a", 1, 1, {MakeVm("v", "v", 52 * kSecond)}, /*boot=*/7);
  EXPECT_DOUBLE_EQ(CpuOf("v"), 1.0);  // unchanged, not derived across boots
  EXPECT_EQ(model_.host("a")->resets, 1u);
  Report("a", 2, 2, {MakeVm("v", "v", 52 * kSecond + kSecond / 10)}, 7);
  EXPECT_NEAR(CpuOf("v"), 0.1, 1e-12);
}

TEST_F(ClusterModelTest, DuplicatesAndOldSamplesAreIgnored) {
  Report("a", 2, 2, {MakeVm("v", "v", 0)});
  Report("a", 2, 2, {MakeVm("v", "v", 999 * kSecond)});
  Report("a", 1, 1, {});
  EXPECT_EQ(model_.host("a")->out_of_order, 2u);
  EXPECT_EQ(model_.host("a")->vm_uuids.size(), 1u);
}

TEST_F(ClusterModelTest, MigratedVmMovesHostsAndKeepsItsRate) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("a", 2, 2, {MakeVm("v", "v", kSecond)});
  Report("b", 1, 2.5, {MakeVm("v", "v", 10)});  // counters restart on the destination
  EXPECT_EQ(model_.vm("v")->host, "b");
  EXPECT_DOUBLE_EQ(CpuOf("v"), 1.0);
  EXPECT_TRUE(model_.host("a")->vm_uuids.empty());
  EXPECT_DOUBLE_EQ(model_.host("a")->cpu_used_cores, 0);
  EXPECT_DOUBLE_EQ(model_.host("b")->cpu_used_cores, 1.0);
  Report("a", 3, 3, {});  // the source no longer lists it: nothing changes
  EXPECT_EQ(model_.vm("v")->host, "b");
  Report("b", 2, 3.5, {MakeVm("v", "v", 10 + kSecond / 2)});
  EXPECT_DOUBLE_EQ(CpuOf("v"), 0.5);
}

TEST_F(ClusterModelTest, PausedIncomingCopyDoesNotStealARunningVm) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("b", 1, 1, {});
  VmSample incoming = MakeVm("v", "v", 0);
  incoming.state = VmState::kPaused;  // destination side of a live migration in progress
  Report("b", 2, 2, {incoming});
  EXPECT_EQ(model_.vm("v")->host, "a");
}

TEST_F(ClusterModelTest, VmThatDisappearsIsRemoved) {
  Report("a", 1, 1, {MakeVm("v", "v", 0), MakeVm("w", "w", 0)});
  Report("a", 2, 2, {MakeVm("w", "w", 0)});
  EXPECT_EQ(model_.vm("v"), nullptr);
  EXPECT_EQ(model_.vms().size(), 1u);
}

// A host that leaves takes the VMs only it reported with it, and the walk the snapshot takes
// forgets them too, also when it was walked just before (its VM list is cached).
TEST_F(ClusterModelTest, RemovedHostLeavesTheWalkWithItsVms) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("b", 1, 1, {MakeVm("w", "w", 0)});
  auto walk = [&] {
    std::vector<std::string> uuids;
    model_.ForEachVmByHost([&](const VmView& vm) { uuids.push_back(vm.uuid); });
    return uuids;
  };
  EXPECT_EQ(walk(), (std::vector<std::string>{"v", "w"}));
  EXPECT_EQ(model_.RemoveHost("a"), 1u);
  EXPECT_EQ(model_.vm("v"), nullptr);
  EXPECT_EQ(model_.host("a"), nullptr);
  EXPECT_EQ(walk(), (std::vector<std::string>{"w"}));
  EXPECT_EQ(model_.RemoveHost("a"), 0u);  // unknown now
}

TEST_F(ClusterModelTest, SilentHostGoesStaleAndComesBack) {
  Report("a", 1, 1, {});
  Report("a", 2, 2, {});  // interval 1 s observed; stale after max(3 × 1 s, 2 s)
  EXPECT_TRUE(model_.UpdateStaleness(t0_ + milliseconds(4900)).empty());
  auto changed = model_.UpdateStaleness(t0_ + milliseconds(5100));
  ASSERT_EQ(changed, std::vector<std::string>{"a"});
  EXPECT_TRUE(model_.host("a")->stale);
  Report("a", 3, 6, {});
  EXPECT_FALSE(model_.host("a")->stale);
}

TEST_F(ClusterModelTest, FastCollectorIsNotStaleBeforeTheFloor) {
  Report("a", 1, 0.1, {});
  Report("a", 2, 0.2, {});  // 100 ms interval: 3 intervals = 300 ms < 2 s floor
  model_.UpdateStaleness(t0_ + milliseconds(1500));
  EXPECT_FALSE(model_.host("a")->stale);
  model_.UpdateStaleness(t0_ + milliseconds(2300));
  EXPECT_TRUE(model_.host("a")->stale);
}

TEST_F(ClusterModelTest, TableShowsHostsVmsAndStaleness) {
  Report("a", 1, 1, {MakeVm("v", "spin", 0)});
  Report("a", 2, 2, {MakeVm("v", "spin", kSecond)});
  Report("b", 1, 1, {});
  model_.UpdateStaleness(t0_ + milliseconds(4500));
  std::string table = FormatClusterTable(model_, t0_ + milliseconds(4500));
  EXPECT_NE(table.find("HOST"), std::string::npos);
  EXPECT_NE(table.find(" 50.0%"), std::string::npos) << table;  // host a: 1 of 2 cores
  EXPECT_NE(table.find("100.0%"), std::string::npos) << table;  // spin: 1 of 1 vCPU
  EXPECT_NE(table.find("STALE"), std::string::npos) << table;   // b silent for 3.5 s
  auto j = ClusterToJson(model_, t0_ + milliseconds(4500));
  ASSERT_EQ(j["hosts"].size(), 2u);
  EXPECT_EQ(j["hosts"][0]["vms"][0]["name"], "spin");
  EXPECT_EQ(j["hosts"][1]["stale"], true);
}

TEST_F(ClusterModelTest, HistoryRecordsUtilisationOnceRatesAreKnown) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  EXPECT_TRUE(model_.host("a")->history[0].empty());  // no rate yet: nothing recorded
  Report("a", 2, 2, {MakeVm("v", "v", kSecond)});
  Report("a", 3, 3, {MakeVm("v", "v", kSecond + kSecond / 2)});
  const auto& cpu = model_.host("a")->history[0];
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_DOUBLE_EQ(cpu[0], 0.5);  // 1 core of 2
  EXPECT_DOUBLE_EQ(cpu[1], 0.25);
  model_.ClearHistory("a");
  EXPECT_TRUE(model_.host("a")->history[0].empty());
}

TEST_F(ClusterModelTest, MoveVmShiftsLoadBeforeTheCollectorsSayIt) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  Report("a", 2, 2, {MakeVm("v", "v", kSecond)});
  Report("b", 1, 2, {});
  model_.MoveVm("v", "b");
  EXPECT_EQ(model_.vm("v")->host, "b");
  EXPECT_DOUBLE_EQ(model_.host("a")->cpu_used_cores, 0);
  EXPECT_DOUBLE_EQ(model_.host("b")->cpu_used_cores, 1);
  Report("a", 3, 3, {});  // the source's next sample agrees
  Report("b", 2, 3, {MakeVm("v", "v", 5)});
  EXPECT_EQ(model_.vm("v")->host, "b");
  EXPECT_DOUBLE_EQ(CpuOf("v"), 1.0);
}

std::vector<std::string> Names(const ClusterModel& m, const std::string& host) {
  std::vector<std::string> out;
  for (const auto& uuid : m.host(host)->vm_uuids) out.push_back(m.vm(uuid)->name);
  return out;
}

TEST_F(ClusterModelTest, VmListIsReSortedWhenMembershipChanges) {
  Report("a", 1, 1, {MakeVm("u1", "charlie"), MakeVm("u2", "alpha")});
  EXPECT_EQ(Names(model_, "a"), (std::vector<std::string>{"alpha", "charlie"}));
  Report("a", 2, 2, {MakeVm("u1", "charlie"), MakeVm("u3", "bravo"), MakeVm("u2", "alpha")});
  EXPECT_EQ(Names(model_, "a"), (std::vector<std::string>{"alpha", "bravo", "charlie"}));
  Report("a", 3, 3, {MakeVm("u3", "bravo"), MakeVm("u1", "charlie")});  // alpha gone
  EXPECT_EQ(Names(model_, "a"), (std::vector<std::string>{"bravo", "charlie"}));
  EXPECT_EQ(model_.vm("u2"), nullptr);
  EXPECT_EQ(model_.host("a")->memory_used_bytes, 2 * (256ull << 20));
}

TEST_F(ClusterModelTest, SampleOrderDoesNotChangeTheList) {
  Report("a", 1, 1, {MakeVm("u1", "b", 0), MakeVm("u2", "a", 0), MakeVm("u3", "c", 0)});
  Report("a", 2, 2, {MakeVm("u3", "c", kSecond), MakeVm("u1", "b", 0), MakeVm("u2", "a", 0)});
  EXPECT_EQ(model_.host("a")->vm_uuids, (std::vector<std::string>{"u2", "u1", "u3"}));
  EXPECT_DOUBLE_EQ(model_.host("a")->cpu_used_cores, 1.0);
}

TEST_F(ClusterModelTest, RenamedVmIsReSortedWithoutMembershipChange) {
  Report("a", 1, 1, {MakeVm("u1", "alpha"), MakeVm("u2", "bravo")});
  Report("a", 2, 2, {MakeVm("u1", "zulu"), MakeVm("u2", "bravo")});
  EXPECT_EQ(model_.host("a")->vm_uuids, (std::vector<std::string>{"u2", "u1"}));
  EXPECT_EQ(model_.vm("u1")->name, "zulu");
}

TEST_F(ClusterModelTest, EqualNamesAreOrderedByUuid) {
  Report("a", 1, 1, {MakeVm("u2", "same"), MakeVm("u1", "same"), MakeVm("u0", "other")});
  EXPECT_EQ(model_.host("a")->vm_uuids, (std::vector<std::string>{"u0", "u1", "u2"}));
}

TEST_F(ClusterModelTest, UuidListedTwiceInOneSampleCountsOnce) {
  // The decoder rejects such a sample (kDuplicateVm); the model stays consistent anyway.
  Report("a", 1, 1, {MakeVm("u1", "x", 0), MakeVm("u1", "x", 0)});
  EXPECT_EQ(model_.host("a")->vm_uuids, std::vector<std::string>{"u1"});
  EXPECT_EQ(model_.host("a")->memory_used_bytes, 256ull << 20);
  Report("a", 2, 2, {MakeVm("u1", "x", kSecond / 2)});
  EXPECT_DOUBLE_EQ(CpuOf("u1"), 0.5);
}

TEST_F(ClusterModelTest, MoveVmKeepsTheDestinationSorted) {
  Report("a", 1, 1, {MakeVm("m", "mike")});
  Report("b", 1, 1, {MakeVm("z", "zulu"), MakeVm("c", "charlie")});
  model_.MoveVm("m", "b");
  EXPECT_EQ(Names(model_, "b"), (std::vector<std::string>{"charlie", "mike", "zulu"}));
  EXPECT_TRUE(model_.host("a")->vm_uuids.empty());
  EXPECT_EQ(model_.host("a")->memory_used_bytes, 0u);
  EXPECT_EQ(model_.host("b")->memory_used_bytes, 3 * (256ull << 20));
}

TEST_F(ClusterModelTest, StalenessIsRecheckedWhenTimeGoesBack) {
  Report("a", 1, 1, {});
  Report("a", 2, 2, {});
  ASSERT_EQ(model_.UpdateStaleness(t0_ + seconds(10)), std::vector<std::string>{"a"});
  EXPECT_TRUE(model_.UpdateStaleness(t0_ + seconds(11)).empty());
  // An earlier `now` than the last scan (a caller's clock is its own business): as before the
  // hosts are looked at again, and a is fresh at 4 s.
  EXPECT_EQ(model_.UpdateStaleness(t0_ + seconds(4)), std::vector<std::string>{"a"});
  EXPECT_FALSE(model_.host("a")->stale);
}

TEST_F(ClusterModelTest, HostJoiningAfterAScanGoesStaleOnTime) {
  Report("a", 1, 1, {});
  EXPECT_TRUE(model_.UpdateStaleness(t0_ + seconds(2)).empty());  // a due at 1 + 3 = 4 s
  Report("b", 1, 1.5, {});                                        // b due at 4.5 s
  Report("a", 2, 2, {});                                          // a due at 5 s
  EXPECT_TRUE(model_.UpdateStaleness(t0_ + milliseconds(4400)).empty());
  EXPECT_EQ(model_.UpdateStaleness(t0_ + milliseconds(4600)), std::vector<std::string>{"b"});
  EXPECT_EQ(model_.UpdateStaleness(t0_ + milliseconds(5100)), std::vector<std::string>{"a"});
}

TEST_F(ClusterModelTest, CopyIsIndependentAndKeepsBaselines) {
  Report("a", 1, 1, {MakeVm("v", "v", 0)});
  ClusterModel copy = model_;
  HostSample s = MakeHost("a", 2, 2 * kSecond);
  s.vms = {MakeVm("v", "v", kSecond / 4), MakeVm("w", "w", 0)};
  copy.Ingest(s, t0_ + seconds(2));
  EXPECT_DOUBLE_EQ(copy.vm("v")->cpu_cores.value_or(-1), 0.25);  // baseline came along
  EXPECT_EQ(copy.host("a")->vm_uuids.size(), 2u);
  EXPECT_EQ(model_.host("a")->vm_uuids.size(), 1u);
  EXPECT_EQ(model_.vm("w"), nullptr);
  model_ = copy;
  EXPECT_EQ(model_.vm("w")->host, "a");
  EXPECT_EQ(model_.host("a")->vm_uuids, (std::vector<std::string>{"v", "w"}));
}

// --- equivalence with the model as it was before the ingest rewrite ----------------------

void ExpectSameModel(const ClusterModel& m, const reference::ReferenceModel& r,
                     const std::string& where) {
  ASSERT_EQ(m.hosts().size(), r.hosts().size()) << where;
  for (auto a = m.hosts().begin(), b = r.hosts().begin(); a != m.hosts().end(); ++a, ++b) {
    SCOPED_TRACE(where + " host " + a->first);
    ASSERT_EQ(a->first, b->first);
    const HostView& x = a->second;
    const HostView& y = b->second;
    EXPECT_EQ(m.host(a->first), &x);
    EXPECT_EQ(x.identity.name, y.identity.name);
    EXPECT_EQ(x.capacity.cpu_cores, y.capacity.cpu_cores);
    EXPECT_EQ(x.last_seen, y.last_seen);
    EXPECT_EQ(x.boot_id, y.boot_id);
    EXPECT_EQ(x.sequence, y.sequence);
    EXPECT_EQ(x.monotonic_ns, y.monotonic_ns);
    EXPECT_EQ(x.interval, y.interval);
    EXPECT_EQ(x.stale, y.stale);
    EXPECT_EQ(x.vm_uuids, y.vm_uuids);
    // Exact: the sums run over the VMs in the same order.
    EXPECT_EQ(x.cpu_used_cores, y.cpu_used_cores);
    EXPECT_EQ(x.cpu_utilization, y.cpu_utilization);
    EXPECT_EQ(x.memory_used_bytes, y.memory_used_bytes);
    EXPECT_EQ(x.memory_utilization, y.memory_utilization);
    EXPECT_EQ(x.net_bits_per_second, y.net_bits_per_second);
    EXPECT_EQ(x.net_utilization, y.net_utilization);
    EXPECT_EQ(x.history, y.history);
    EXPECT_EQ(x.samples, y.samples);
    EXPECT_EQ(x.gaps, y.gaps);
    EXPECT_EQ(x.resets, y.resets);
    EXPECT_EQ(x.out_of_order, y.out_of_order);
    EXPECT_EQ(x.implausible_rates, y.implausible_rates);
  }
  ASSERT_EQ(m.vms().size(), r.vms().size()) << where;
  for (auto a = m.vms().begin(), b = r.vms().begin(); a != m.vms().end(); ++a, ++b) {
    SCOPED_TRACE(where + " vm " + a->first);
    ASSERT_EQ(a->first, b->first);
    const VmView& x = a->second;
    const VmView& y = b->second;
    EXPECT_EQ(m.vm(a->first), &x);
    EXPECT_EQ(x.uuid, y.uuid);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.host, y.host);
    EXPECT_EQ(x.vcpus, y.vcpus);
    EXPECT_EQ(x.state, y.state);
    EXPECT_EQ(x.memory_bytes, y.memory_bytes);
    EXPECT_EQ(x.memory_max_bytes, y.memory_max_bytes);
    EXPECT_EQ(x.cpu_cores, y.cpu_cores);
    EXPECT_EQ(x.net_bits_per_second, y.net_bits_per_second);
    EXPECT_EQ(x.has_net, y.has_net);
  }
  // The walk the snapshot takes: every VM once, host by host in name order, each host's
  // VMs in the order of its list, each under the host that lists it.
  std::vector<const VmView*> walked;
  m.ForEachVmByHost([&](const VmView& v) { walked.push_back(&v); });
  std::vector<const VmView*> expected;
  for (const auto& [name, h] : m.hosts()) {
    for (const std::string& uuid : h.vm_uuids) {
      expected.push_back(m.vm(uuid));
      EXPECT_EQ(m.vm(uuid)->host, name) << where << " vm " << uuid;
    }
  }
  EXPECT_EQ(walked, expected) << where;
  EXPECT_EQ(walked.size(), m.vms().size()) << where;
}

// Random histories of samples (VMs appearing, going, renamed, reported by two hosts in any
// state, counter resets, collector restarts, gaps, duplicates, old samples), MoveVm,
// ClearHistory, UpdateStaleness and copies: the model must agree with the reference in every
// field after every step. VM names are unique (the order of equal names was unspecified).
TEST(ClusterModelEquivalence, RandomHistoryMatchesTheReference) {
  constexpr int kHosts = 5;
  constexpr int kVms = 24;
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto chance = [&](double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; };
    auto pick = [&](int n) { return std::uniform_int_distribution<>(0, n - 1)(rng); };
    ClusterModel model;
    reference::ReferenceModel ref;
    struct HostGen {
      std::uint64_t boot = 1, seq = 0, mono = 0;
    };
    std::vector<HostGen> hosts(kHosts);
    std::vector<std::uint64_t> cpu(kVms, 0), net(kVms, 0);
    std::vector<std::string> names(kVms);
    for (int v = 0; v < kVms; ++v)
      names[v] = "vm-" + std::to_string(pick(100)) + "-" + std::to_string(v);
    std::vector<int> home(kVms);
    for (int v = 0; v < kVms; ++v) home[v] = pick(kHosts);
    SteadyTime now = SteadyTime(seconds(1000));
    for (int step = 0; step < 600; ++step) {
      const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      now += milliseconds(pick(400));
      const int op = pick(100);
      if (op < 75) {
        const int h = pick(kHosts);
        HostGen& g = hosts[static_cast<std::size_t>(h)];
        if (chance(0.03)) {  // collector restart
          ++g.boot;
          g.seq = 0;
          g.mono = 0;
        }
        g.seq += chance(0.1) ? 1 + static_cast<std::uint64_t>(pick(3)) : 1;
        g.mono += 500'000'000 + static_cast<std::uint64_t>(pick(1'000'000'000));
        HostSample s = MakeHost("h" + std::to_string(h), g.seq, g.mono);
        s.boot_id = g.boot;
        if (chance(0.05)) s.sequence = g.seq > 1 ? g.seq - 1 : g.seq;  // old or duplicate
        s.capacity.cpu_cores = 1 + pick(4);
        if (chance(0.2)) s.capacity.nic_bits_per_second = 0;
        if (chance(0.02)) home[static_cast<std::size_t>(pick(kVms))] = pick(kHosts);  // moved
        for (int v = 0; v < kVms; ++v) {
          const bool mine = home[static_cast<std::size_t>(v)] == h;
          if (!(mine ? chance(0.9) : chance(0.04))) continue;  // gone, or a stray copy
          auto& c = cpu[static_cast<std::size_t>(v)];
          c = chance(0.03) ? static_cast<std::uint64_t>(pick(1000))
                           : c + static_cast<std::uint64_t>(pick(2'000'000'000));
          net[static_cast<std::size_t>(v)] += static_cast<std::uint64_t>(pick(1'000'000));
          if (chance(0.03)) {
            names[static_cast<std::size_t>(v)] =
                "vm-" + std::to_string(pick(100)) + "-" + std::to_string(v);
          }
          VmSample vm = MakeVm("uuid-" + std::to_string(v), names[static_cast<std::size_t>(v)], c);
          const int st = pick(10);
          vm.state = st < 6   ? VmState::kRunning
                     : st < 7 ? VmState::kBlocked
                     : st < 9 ? VmState::kPaused
                              : VmState::kShutoff;
          vm.has_net = chance(0.7);
          vm.net_rx_bytes = net[static_cast<std::size_t>(v)];
          vm.net_tx_bytes = net[static_cast<std::size_t>(v)] / 2;
          vm.memory_current_bytes = (1 + static_cast<std::uint64_t>(pick(8))) << 28;
          s.vms.push_back(std::move(vm));
        }
        // Mostly the same order every time, as collectors list VMs (the model predicts it).
        if (chance(0.3)) {
          std::shuffle(s.vms.begin(), s.vms.end(), rng);
        } else if (s.vms.size() > 1 && chance(0.2)) {
          std::swap(s.vms[static_cast<std::size_t>(pick(static_cast<int>(s.vms.size())))],
                    s.vms.back());
        }
        if (!s.vms.empty() && chance(0.03)) s.vms.push_back(s.vms.front());  // listed twice
        ASSERT_EQ(model.Ingest(s, now), ref.Ingest(s, now)) << where;
      } else if (op < 88) {
        const SteadyTime when =
            now + milliseconds(pick(8000)) - milliseconds(chance(0.1) ? 6000 : 0);
        ASSERT_EQ(model.UpdateStaleness(when), ref.UpdateStaleness(when)) << where;
      } else if (op < 94) {
        const std::string uuid = "uuid-" + std::to_string(pick(kVms + 2));  // some unknown
        const std::string to = "h" + std::to_string(pick(kHosts + 1));
        model.MoveVm(uuid, to);
        ref.MoveVm(uuid, to);
      } else if (op < 97) {
        const std::string h = "h" + std::to_string(pick(kHosts));
        model.ClearHistory(h);
        ref.ClearHistory(h);
      } else if (op < 98) {
        ClusterModel copy(model);  // copy construction, then copy and move assignment
        ClusterModel other;
        other = copy;
        model = std::move(other);
      } else {
        const std::string name = names[static_cast<std::size_t>(pick(kVms))];
        const VmView* a = model.vm_by_name(name);
        const VmView* b = ref.vm_by_name(name);
        ASSERT_EQ(a == nullptr, b == nullptr) << where;
        if (a != nullptr) {
          EXPECT_EQ(a->uuid, b->uuid) << where;
        }
      }
      ExpectSameModel(model, ref, where);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace ballast
