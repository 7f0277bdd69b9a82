#include "balancer/controller/snapshot.h"

namespace ballast {

void BuildClusterStateInto(const SnapshotInputs& in, core::ClusterState& s) {
  s.hosts.resize(in.model->hosts().size());
  std::size_t i = 0;
  for (const auto& [name, h] : in.model->hosts()) {
    core::Host& host = s.hosts[i++];
    host.name = name;
    host.uuid = h.identity.uuid;
    host.capacity = {h.capacity.cpu_cores, static_cast<double>(h.capacity.memory_bytes),
                     static_cast<double>(h.capacity.nic_bits_per_second)};
    host.used = {h.cpu_used_cores, static_cast<double>(h.memory_used_bytes), h.net_bits_per_second};
    for (std::size_t r = 0; r < core::kNumResources; ++r) {
      host.history[r].assign(h.history[r].begin(), h.history[r].end());
    }
    host.stale = h.stale;
    host.maintenance = in.maintenance_hosts.count(name) != 0;
  }
  // Host by host, not by UUID: the VMs are read about in the order the model filled them.
  s.vms.resize(in.model->vms().size());
  i = 0;
  in.model->ForEachVmByHost([&](const VmView& v) {
    if (i == s.vms.size()) s.vms.emplace_back();  // (the model lists each VM once)
    core::Vm& vm = s.vms[i++];
    vm.uuid = v.uuid;
    vm.name = v.name;
    vm.host = v.host;
    vm.vcpus = static_cast<int>(v.vcpus);
    vm.memory_bytes = static_cast<double>(v.memory_bytes);
    vm.cpu_used = v.cpu_cores.value_or(0);
    vm.net_bps = v.net_bits_per_second.value_or(0);
    for (std::size_t r = 0; r < core::kNumResources; ++r) {
      vm.history[r].clear();
      v.history[r].AppendTo(vm.history[r]);
    }
    vm.reported_twice = false;
    vm.failed_recently = false;
  });
  s.vms.resize(i);
  s.in_flight = in.in_flight;
  s.recent_migrations = in.recent;
}

core::ClusterState BuildClusterState(const SnapshotInputs& in) {
  core::ClusterState s;
  BuildClusterStateInto(in, s);
  return s;
}

}  // namespace ballast
