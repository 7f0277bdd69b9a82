#pragma once

// Small hand-made workloads for the simulator's unit tests: hosts, VMs and flat demand.

#include <string>
#include <utility>

#include "sim/cluster_sim.h"

namespace ballast::sim::testing {

inline constexpr double kMiB = 1024.0 * 1024.0;

// A host of `cpu` MIPS with 4 GiB and 1 Gbit/s, drawing power as `power` says.
inline HostModel Host(std::string name, double cpu, const PowerModel* power = &HpMl110G4(),
                      std::string model = "G4") {
  return {std::move(name), cpu, 4096 * kMiB, 1e9, power, std::move(model)};
}

// A VM on host index `host` with that demand (MIPS over time) and `memory_mb` of memory.
inline VmModel Vm(std::string name, int host, Series demand, double memory_mb = 625) {
  VmModel v;
  v.name = std::move(name);
  v.cpu_capacity = 1e6;
  v.memory_bytes = memory_mb * kMiB;
  v.initial_host = host;
  v.demand = std::move(demand);
  return v;
}

// `v` all the time (two hourly samples; the series holds its last value).
inline Series Flat(double v) { return Series::Regular(3600, {v, v}); }

}  // namespace ballast::sim::testing
