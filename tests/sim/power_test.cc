#include "sim/power.h"

#include <gtest/gtest.h>

namespace ballast::sim {
namespace {

TEST(PowerModel, TablePointsAndInterpolation) {
  const PowerModel& g4 = HpMl110G4();
  EXPECT_DOUBLE_EQ(g4.Watts(0), 86);
  EXPECT_DOUBLE_EQ(g4.Watts(0.5), 102);
  EXPECT_DOUBLE_EQ(g4.Watts(1.0), 117);
  EXPECT_NEAR(g4.Watts(0.05), (86 + 89.4) / 2, 1e-9);
  EXPECT_NEAR(g4.Watts(0.93), 114 + (117 - 114) * 0.3, 1e-9);
  const PowerModel& g5 = HpMl110G5();
  EXPECT_DOUBLE_EQ(g5.Watts(0), 93.7);
  EXPECT_DOUBLE_EQ(g5.Watts(0.7), 125);
  EXPECT_DOUBLE_EQ(g5.Watts(1.0), 135);
}

TEST(PowerModel, ClampsOutsideZeroToOne) {
  EXPECT_DOUBLE_EQ(HpMl110G5().Watts(-0.5), 93.7);
  EXPECT_DOUBLE_EQ(HpMl110G5().Watts(1.7), 135);  // an overloaded host draws full power
}

TEST(MigrationSeconds, RamOverBandwidth) {
  EXPECT_NEAR(MigrationSeconds(870, 62.5), 13.92, 1e-9);
  EXPECT_NEAR(MigrationSeconds(1740, 62.5), 27.84, 1e-9);
  EXPECT_NEAR(MigrationSeconds(613, 62.5), 9.808, 1e-9);
  EXPECT_EQ(MigrationSeconds(1000, 0), 0);
}

}  // namespace
}  // namespace ballast::sim
