#pragma once

// The outcome figures of simulation runs as a text table and as JSON.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/cluster_sim.h"
#include "sim/published.h"

namespace ballast::sim {

// One row per result: label, policy, hosts, VMs, energy, migrations, GB, overload, ...
std::string FormatTable(const std::vector<SimResult>& results);

// One row of the CloudSim-metrics table: a run of ours, or a published one (what it does not
// state is left empty).
struct SlaRow {
  std::string label;
  std::string policy;
  double energy_kwh = 0;
  std::optional<double> bound_ratio;  // energy over the workload's energy lower bound
  long migrations = 0;
  double slatah = 0;  // fractions
  double pdm = 0;
  double slav = 0;
  double esv = 0;
  std::optional<long> host_shutdowns;
  std::optional<double> mean_migration_seconds;
  std::optional<double> overload_host_hours;
};
SlaRow SlaRowOf(const SimResult& r);
SlaRow SlaRowOf(const PublishedRun& p);  // policy "<name> (<source>)"

// kWh, ratio to the lower bound, migrations, SLATAH, PDM, SLAV, ESV, host shutdowns, mean
// migration time, host-hours above capacity: one row each.
std::string FormatSlaTable(const std::vector<SlaRow>& rows);

// The figures; with `series`, also the per-step time series (not the heatmap matrix).
nlohmann::json ResultJson(const SimResult& r, bool series);

// "00:05:00 move vm-a host-001 -> host-002 (hotspot, 14 s): explanation" per move.
std::string FormatMoves(const SimResult& r, std::size_t max_moves);

}  // namespace ballast::sim
