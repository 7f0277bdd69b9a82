#pragma once

// Builds the decision core's input from the daemon's state: the cluster model, the
// migrations in flight and the recent ones. Pure: no I/O, no clock.

#include <set>
#include <string>
#include <vector>

#include "balancer/core/cluster_state.h"
#include "balancer/model/cluster_model.h"

namespace ballast {

struct SnapshotInputs {
  const ClusterModel* model = nullptr;
  std::vector<core::InFlightMigration> in_flight;
  std::vector<core::FinishedMigration> recent;
  std::set<std::string> maintenance_hosts;  // drained by an admin
};

core::ClusterState BuildClusterState(const SnapshotInputs& in);

}  // namespace ballast
