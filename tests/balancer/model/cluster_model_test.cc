#include "balancer/model/cluster_model.h"

#include <gtest/gtest.h>

#include "balancer/model/cluster_table.h"
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
  EXPECT_NE(table.find(" 50.0%"), std::string::npos) << table;   // host a: 1 of 2 cores
  EXPECT_NE(table.find("100.0%"), std::string::npos) << table;   // spin: 1 of 1 vCPU
  EXPECT_NE(table.find("STALE"), std::string::npos) << table;    // b silent for 3.5 s
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
  EXPECT_DOUBLE_EQ(cpu[0], 0.5);   // 1 core of 2
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

}  // namespace
}  // namespace ballast
