#include "sim/workload.h"

#include <gtest/gtest.h>

namespace ballast::sim {
namespace {

TEST(Series, InterpolatesLinearlyAndHoldsTheEnds) {
  Series s = Series::Regular(300, {0, 30, 90});
  EXPECT_DOUBLE_EQ(s.At(0), 0);
  EXPECT_DOUBLE_EQ(s.At(150), 15);
  EXPECT_DOUBLE_EQ(s.At(300), 30);
  EXPECT_DOUBLE_EQ(s.At(450), 60);
  EXPECT_DOUBLE_EQ(s.At(600), 90);
  EXPECT_DOUBLE_EQ(s.At(900), 90);  // after the last sample: held
  EXPECT_DOUBLE_EQ(s.At(-10), 0);   // before the first: held
}

TEST(Series, IrregularTimes) {
  Series s;
  s.Add(1.0, 2.0);
  s.Add(3.0, 4.0);
  s.Add(7.0, 0.0);
  EXPECT_DOUBLE_EQ(s.At(2.0), 3.0);
  EXPECT_DOUBLE_EQ(s.At(5.0), 2.0);
}

TEST(Series, IdleSegmentNeedsBothEndsZero) {
  // CloudSim destroys a VM only while it requests nothing: 0 at both ends of the segment.
  Series s = Series::Regular(300, {10, 0, 0, 5});
  EXPECT_FALSE(s.IdleSegment(100));  // 10 -> 0
  EXPECT_TRUE(s.IdleSegment(300));   // 0 -> 0
  EXPECT_TRUE(s.IdleSegment(450));
  EXPECT_FALSE(s.IdleSegment(700));  // 0 -> 5
  EXPECT_FALSE(s.IdleSegment(900));  // last sample 5
}

TEST(BuildPlanetLabWorkload, CloudSimModel) {
  Trace t;
  for (int i = 0; i < 8; ++i) {
    t.vms.push_back({"vm" + std::to_string(i), {50, 100}});
  }
  auto w = BuildPlanetLabWorkload(t, CloudSimModel(), "day");
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->hosts.size(), 800u);
  EXPECT_EQ(w->hosts[0].cpu_capacity, 3720);  // G4: 2 x 1860
  EXPECT_EQ(w->hosts[1].cpu_capacity, 5320);  // G5: 2 x 2660
  EXPECT_EQ(w->hosts[0].power, &HpMl110G4());
  EXPECT_EQ(w->hosts[1].power, &HpMl110G5());
  EXPECT_EQ(w->hosts[799].type, "G5");
  EXPECT_EQ(w->hosts[0].memory_bytes, 4096.0 * 1024 * 1024);
  // Eight VMs, four types: blocks of two in trace order.
  const double mips[] = {2500, 2500, 2000, 2000, 1000, 1000, 500, 500};
  const double mb[] = {870, 870, 1740, 1740, 1740, 1740, 613, 613};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(w->vms[static_cast<std::size_t>(i)].cpu_capacity, mips[i]) << i;
    EXPECT_EQ(w->vms[static_cast<std::size_t>(i)].memory_bytes, mb[i] * 1024 * 1024) << i;
  }
  EXPECT_DOUBLE_EQ(w->vms[0].demand.At(150), 0.75 * 2500);
  EXPECT_DOUBLE_EQ(w->duration_seconds, 600);
}

TEST(BuildPlanetLabWorkload, BlocksRoundUpLikeCloudSim) {
  Trace t;
  for (int i = 0; i < 5; ++i) t.vms.push_back({"v" + std::to_string(i), {1, 1}});
  auto w = BuildPlanetLabWorkload(t, CloudSimModel(), "d");
  ASSERT_TRUE(w.ok());
  // ceil(5 / 4) = 2 per block: types 0,0,1,1,2.
  EXPECT_EQ(w->vms[1].type, "2500");
  EXPECT_EQ(w->vms[2].type, "2000");
  EXPECT_EQ(w->vms[4].type, "1000");
}

}  // namespace
}  // namespace ballast::sim
