#pragma once

// Turns a balancer recording (common/recording.h) into a Workload: the hosts as they
// reported themselves, every VM on the host where it was first seen, its CPU demand (cores)
// over time as the balancer's cluster model derives it from the counters.

#include <string>

#include "common/status.h"
#include "sim/workload.h"

namespace ballast::sim {

struct RecordingStats {
  long records = 0;
  long decode_errors = 0;
  bool torn_tail = false;
};

// Hosts get `power` (a recording does not say what the hardware draws; default G5's table).
Result<Workload> LoadRecordingWorkload(const std::string& path, const PowerModel* power,
                                       RecordingStats* stats = nullptr);

}  // namespace ballast::sim
