#include "sim/power.h"

#include <algorithm>
#include <cmath>

namespace ballast::sim {

double PowerModel::Watts(double utilization) const {
  const double u = std::clamp(utilization, 0.0, 1.0) * 10.0;
  const auto lo = static_cast<std::size_t>(std::floor(u));
  if (lo >= 10) return watts[10];
  const double frac = u - static_cast<double>(lo);
  return watts[lo] + (watts[lo + 1] - watts[lo]) * frac;
}

const PowerModel& HpMl110G4() {
  static const PowerModel kModel{"HP ProLiant ML110 G4",
                                 {86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117}};
  return kModel;
}

const PowerModel& HpMl110G5() {
  static const PowerModel kModel{"HP ProLiant ML110 G5",
                                 {93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135}};
  return kModel;
}

double MigrationSeconds(double memory_megabytes, double megabytes_per_second) {
  if (megabytes_per_second <= 0) return 0;
  return memory_megabytes / megabytes_per_second;
}

}  // namespace ballast::sim
