#pragma once

// The energy lower bound of a workload: an oracle that at every step packs the total CPU
// demand fractionally onto the most energy-efficient hosts of the model, with no migration
// cost and no overload, from the hosts' own power tables (sim/power.h).
//
// Each host is charged at its best energy per unit of CPU: the least of P(u) / (u x capacity)
// over its table's points u = 10 %, ..., 100 % (on a table's linear segment P(u) / u is
// monotone, so the least over the points is the least over (0, 1]; for both HP tables it is
// at 100 %). Hosts are filled in that order, each up to its capacity; the last one is
// charged pro rata, without its idle power. Any placement without overload draws at least
// this much at every step (a host on with load x draws P(x / C) >= x x its best rate, and
// an off host draws 0), so the bound is at most one host's power below the whole-host
// oracle. Demand above the cluster's capacity is not placed (every host at 100 %).

#include <vector>

#include "sim/workload.h"

namespace ballast::sim {

class EnergyBound {
 public:
  explicit EnergyBound(const std::vector<HostModel>& hosts);
  // Watts of the oracle at total demand `demand` (the workload's CPU unit).
  double Watts(double demand) const;

 private:
  struct Rate {
    double watts_per_unit = 0;
    double capacity = 0;
  };
  std::vector<Rate> rates_;  // best first
};

// The oracle's energy (kWh) over the workload, on the simulator's step grid (demand read at
// the start of each step and held over it, as the simulator accounts energy). With
// `drop_idle`, a VM is gone from the first step at which its curve is idle (CloudSim's rule;
// the simulator drops a migrating VM later, never earlier, so the bound stays below).
double EnergyLowerBoundKwh(const Workload& w, double step_seconds, bool drop_idle);

}  // namespace ballast::sim
