#pragma once

// Host power models (SPECpower-style tables) and the migration-time model.

#include <array>
#include <string>

namespace ballast::sim {

// Watts at 0 %, 10 %, ..., 100 % CPU load, linearly interpolated in between (as CloudSim's
// PowerModelSpecPower does). A host with no VM is switched off and draws nothing; that rule
// lives in the simulator, not here, because an idle host that still runs a VM draws watts[0].
struct PowerModel {
  std::string name;
  std::array<double, 11> watts{};

  // `utilization` is a fraction of capacity; it is clamped to [0, 1].
  double Watts(double utilization) const;
};

// SPECpower_ssj2008 results for the two hosts of the published CloudSim study.
const PowerModel& HpMl110G4();  // 2 x 1860 MIPS (Xeon 3040)
const PowerModel& HpMl110G5();  // 2 x 2660 MIPS (Xeon 3075)

// Time to copy a VM's memory at `megabytes_per_second` (CloudSim: RAM / (bandwidth / 2),
// i.e. 62.5 MB/s for half of a 1 Gbit/s link).
double MigrationSeconds(double memory_megabytes, double megabytes_per_second);

}  // namespace ballast::sim
