#pragma once

// The outcome figures of simulation runs as a text table and as JSON.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/cluster_sim.h"

namespace ballast::sim {

// One row per result: label, policy, hosts, VMs, energy, migrations, GB, overload, ...
std::string FormatTable(const std::vector<SimResult>& results);

// The figures; with `series`, also the per-step time series (not the heatmap matrix).
nlohmann::json ResultJson(const SimResult& r, bool series);

// "00:05:00 move vm-a host-001 -> host-002 (hotspot, 14 s): explanation" per move.
std::string FormatMoves(const SimResult& r, std::size_t max_moves);

}  // namespace ballast::sim
