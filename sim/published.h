#pragma once

// Published results on the shipped PlanetLab days, kept here and nowhere else: the figures
// `ballast-sim compare` prints beside its drop-idle runs and judges targets against.
// sim/README.md ("Published figures") says where they come from and what is comparable.

#include <optional>
#include <string>
#include <vector>

namespace ballast::sim {

struct PublishedRun {
  std::string day;     // "20110303"
  std::string policy;  // "LR-MMT-1.2"
  std::string source;  // "CloudSim 3.0.3", "Zhou et al. 2021"
  int hosts = 0;
  int vms = 0;  // 0: not stated
  double energy_kwh = 0;
  long migrations = 0;
  double slatah = 0;  // fractions, not percent
  double pdm = 0;
  double slav = 0;
  std::optional<double> overload_host_hours;  // host-hours with demand above capacity
};

const std::vector<PublishedRun>& PublishedRuns();
// The runs published for `day`, in the table's order.
std::vector<const PublishedRun*> PublishedFor(const std::string& day);
// One run, or null.
const PublishedRun* FindPublished(const std::string& day, const std::string& policy);

}  // namespace ballast::sim
