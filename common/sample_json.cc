#include "common/sample_json.h"

namespace ballast {

nlohmann::json ToJson(const HostSample& s) {
  nlohmann::json vms = nlohmann::json::array();
  for (const VmSample& vm : s.vms) {
    nlohmann::json v = {
        {"uuid", vm.uuid},
        {"name", vm.name},
        {"vcpus", vm.vcpus},
        {"state", VmStateName(vm.state)},
        {"cpu_ns", vm.cpu_ns},
        {"memory_current_bytes", vm.memory_current_bytes},
        {"memory_max_bytes", vm.memory_max_bytes},
    };
    if (vm.has_net) {
      v["net_rx_bytes"] = vm.net_rx_bytes;
      v["net_tx_bytes"] = vm.net_tx_bytes;
    }
    if (vm.has_block) {
      v["block_rd_bytes"] = vm.block_rd_bytes;
      v["block_wr_bytes"] = vm.block_wr_bytes;
    }
    vms.push_back(std::move(v));
  }
  return {
      {"schema_version", s.schema_version},
      {"host",
       {{"name", s.host.name},
        {"uuid", s.host.uuid},
        {"libvirt_uri", s.host.libvirt_uri},
        {"migration_address", s.host.migration_address},
        {"source", s.host.source}}},
      {"boot_id", s.boot_id},
      {"sequence", s.sequence},
      {"monotonic_ns", s.monotonic_ns},
      {"wall_unix_ns", s.wall_unix_ns},
      {"capacity",
       {{"cpu_cores", s.capacity.cpu_cores},
        {"memory_bytes", s.capacity.memory_bytes},
        {"nic_bits_per_second", s.capacity.nic_bits_per_second},
        {"cpu_hz", s.capacity.cpu_hz}}},
      {"counters",
       {{"cpu_busy_ns", s.counters.cpu_busy_ns},
        {"cpu_total_ns", s.counters.cpu_total_ns},
        {"memory_free_bytes", s.counters.memory_free_bytes},
        {"net_rx_bytes", s.counters.net_rx_bytes},
        {"net_tx_bytes", s.counters.net_tx_bytes}}},
      {"vms", std::move(vms)},
  };
}

}  // namespace ballast
