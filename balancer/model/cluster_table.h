#pragma once

// The cluster table people read (stdout, on demand and periodically) and its JSON twin
// (status file; later the control endpoint).

#include <nlohmann/json.hpp>
#include <string>

#include "balancer/model/cluster_model.h"

namespace ballast {

// Host | CPU % | memory % | network | VMs | age of last sample, then one line per VM.
std::string FormatClusterTable(const ClusterModel& model, SteadyTime now);
nlohmann::json ClusterToJson(const ClusterModel& model, SteadyTime now);

}  // namespace ballast
