#pragma once

// Builds the decision core's input from the controller's state: the cluster model (host load
// as the model measures it, each host's and each VM's recent history), the migrations in
// flight and the recent ones, the hosts in maintenance. The one path from samples to the
// core, for the daemon and the simulator alike. Pure: no I/O, no clock.

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

// Hosts come in name order; VMs host by host in that order, each host's by name, then UUID
// (ClusterModel::ForEachVmByHost). Not by UUID: the walk reads the model about in the order
// it was filled, where a walk by UUID (random, as libvirt makes them) misses the caches on
// nearly every VM (2.7-3.9 times the snapshot's time at 2,000,000 VMs; bench/README.md).
core::ClusterState BuildClusterState(const SnapshotInputs& in);
// The same, written over `out`: the strings and history vectors of its hosts and VMs keep
// their storage, so a daemon that keeps one ClusterState across rounds allocates (and frees)
// next to nothing per round once the cluster's shape is stable.
void BuildClusterStateInto(const SnapshotInputs& in, core::ClusterState& out);

}  // namespace ballast
