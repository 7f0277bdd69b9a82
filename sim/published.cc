#include "sim/published.h"

namespace ballast::sim {

const std::vector<PublishedRun>& PublishedRuns() {
  // CloudSim 3.0.3 with its defaults (800 hosts, name-sorted trace order, VMs destroyed at
  // their first all-zero segment), measured on this project's machine kind (issue 18); and
  // AFED-EF as its paper reports it (its set-up is not CloudSim's defaults: sim/README.md).
  static const std::vector<PublishedRun> kRuns = {
      {"20110303", "LR-MMT-1.2", "CloudSim 3.0.3", 800, 1052, 163.48, 27859, 0.0586, 0.0008,
       4.64e-05, 10.20},
      {"20110303", "THR-MMT-0.8", "CloudSim 3.0.3", 800, 1052, 192.62, 26711, 0.0491, 0.0006,
       3.18e-05, 0.94},
      {"20110303", "AFED-EF", "Zhou et al. 2021", 800, 1052, 73.57, 5710, 0.0166, 0.0000772,
       0.0000013, std::nullopt},
      {"20110306", "LR-MMT-1.2", "CloudSim 3.0.3", 800, 898, 123.28, 20878, 0.0588, 0.0008,
       4.62e-05, 8.20},
      {"20110306", "THR-MMT-0.8", "CloudSim 3.0.3", 800, 898, 144.74, 20908, 0.0513, 0.0007,
       3.60e-05, 0.74},
      {"20110309", "LR-MMT-1.2", "CloudSim 3.0.3", 800, 1061, 142.09, 24959, 0.0655, 0.0009,
       6.02e-05, 14.37},
      {"20110309", "THR-MMT-0.8", "CloudSim 3.0.3", 800, 1061, 165.27, 23475, 0.0526, 0.0008,
       4.05e-05, 1.05},
  };
  return kRuns;
}

std::vector<const PublishedRun*> PublishedFor(const std::string& day) {
  std::vector<const PublishedRun*> out;
  for (const PublishedRun& r : PublishedRuns()) {
    if (r.day == day) out.push_back(&r);
  }
  return out;
}

const PublishedRun* FindPublished(const std::string& day, const std::string& policy) {
  for (const PublishedRun& r : PublishedRuns()) {
    if (r.day == day && r.policy == policy) return &r;
  }
  return nullptr;
}

}  // namespace ballast::sim
