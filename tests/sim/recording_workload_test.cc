#include "sim/recording_workload.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/recording.h"
#include "common/wire.h"
#include "tests/common/temp_path.h"
#include "tests/common/test_samples.h"

namespace ballast {
namespace {

using testing::TempPath;

// Host "node1" with 4 cores and one 2-vCPU VM "vm-on-node1" whose CPU counter is vm_cpu_ns.
HostSample Sample(std::uint64_t seq, std::uint64_t mono_ns, std::uint64_t vm_cpu_ns) {
  HostSample s = testing::MakeHost("node1", seq, mono_ns);
  s.capacity.cpu_cores = 4;
  VmSample vm = testing::MakeVm("vm-uuid-node1", "vm-on-node1", vm_cpu_ns);
  vm.vcpus = 2;
  s.vms.push_back(vm);
  return s;
}

TEST(LoadRecordingWorkload, DerivesVmDemandFromCounters) {
  const std::string path = TempPath("workload");
  {
    auto rec = SampleRecorder::Open(path);
    ASSERT_TRUE(rec.ok());
    const std::int64_t t0 = 1'700'000'000'000'000'000;
    // One sample a second; the VM burns 1.5 cores.
    for (std::uint64_t i = 1; i <= 5; ++i) {
      auto enc = EncodeHostSample(Sample(i, i * 1'000'000'000, i * 1'500'000'000));
      ASSERT_TRUE(enc.ok()) << enc.status().message();
      ASSERT_TRUE((*rec)->Append(*enc, t0 + static_cast<std::int64_t>(i) * 1'000'000'000).ok());
    }
    ASSERT_TRUE((*rec)->Append("garbage", t0 + 6'000'000'000).ok());
  }
  sim::RecordingStats stats;
  auto w = sim::LoadRecordingWorkload(path, &sim::HpMl110G5(), &stats);
  std::filesystem::remove(path);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(stats.records, 6);
  EXPECT_EQ(stats.decode_errors, 1);
  ASSERT_EQ(w->hosts.size(), 1u);
  EXPECT_EQ(w->hosts[0].cpu_capacity, 4);
  ASSERT_EQ(w->vms.size(), 1u);
  EXPECT_EQ(w->vms[0].name, "vm-on-node1");
  EXPECT_EQ(w->vms[0].initial_host, 0);
  EXPECT_EQ(w->vms[0].cpu_capacity, 2);
  EXPECT_DOUBLE_EQ(w->duration_seconds, 4);
  ASSERT_FALSE(w->vms[0].demand.empty());
  EXPECT_NEAR(w->vms[0].demand.At(3), 1.5, 1e-6);
}

}  // namespace
}  // namespace ballast
