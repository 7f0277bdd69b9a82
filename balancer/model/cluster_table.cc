#include "balancer/model/cluster_table.h"

#include <cstdio>
#include <sstream>

namespace ballast {
namespace {

std::string Percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%5.1f%%", fraction * 100);
  return buf;
}

std::string Bits(double bps) {
  char buf[24];
  if (bps >= 1e9)
    std::snprintf(buf, sizeof buf, "%.1f Gb/s", bps / 1e9);
  else if (bps >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1f Mb/s", bps / 1e6);
  else if (bps >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1f kb/s", bps / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f b/s", bps);
  return buf;
}

double AgeSeconds(const HostView& h, SteadyTime now) {
  return std::chrono::duration<double>(now - h.last_seen).count();
}

}  // namespace

std::string FormatClusterTable(const ClusterModel& model, SteadyTime now) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %8s %8s %12s %4s %8s  %s\n", "HOST", "CPU", "MEMORY",
                "NETWORK", "VMS", "AGE", "STATE");
  out << line;
  for (const auto& [name, h] : model.hosts()) {
    std::snprintf(line, sizeof line, "%-16s %8s %8s %12s %4zu %7.1fs  %s\n", name.c_str(),
                  Percent(h.cpu_utilization).c_str(), Percent(h.memory_utilization).c_str(),
                  Bits(h.net_bits_per_second).c_str(), h.vm_uuids.size(), AgeSeconds(h, now),
                  h.stale ? "STALE" : "ok");
    out << line;
    for (const auto& uuid : h.vm_uuids) {
      const VmView* v = model.vm(uuid);
      if (v == nullptr) continue;
      std::string cpu = v->cpu_cores ? Percent(*v->cpu_cores / std::max(1u, v->vcpus)) : "    —";
      std::snprintf(line, sizeof line, "  %-14s %8s %7lluM %12s %4u vcpu  %s\n", v->name.c_str(),
                    cpu.c_str(), static_cast<unsigned long long>(v->memory_bytes >> 20),
                    v->has_net ? Bits(v->net_bits_per_second.value_or(0)).c_str() : "—", v->vcpus,
                    VmStateName(v->state));
      out << line;
    }
  }
  if (model.hosts().empty()) out << "(no host has reported yet)\n";
  return out.str();
}

nlohmann::json ClusterToJson(const ClusterModel& model, SteadyTime now) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& [name, h] : model.hosts()) {
    nlohmann::json vms = nlohmann::json::array();
    for (const auto& uuid : h.vm_uuids) {
      const VmView* v = model.vm(uuid);
      if (v == nullptr) continue;
      nlohmann::json j = {{"uuid", v->uuid},
                          {"name", v->name},
                          {"vcpus", v->vcpus},
                          {"state", VmStateName(v->state)},
                          {"memory_bytes", v->memory_bytes},
                          {"memory_max_bytes", v->memory_max_bytes}};
      j["cpu_cores"] = v->cpu_cores ? nlohmann::json(*v->cpu_cores) : nlohmann::json(nullptr);
      j["net_bits_per_second"] = v->net_bits_per_second ? nlohmann::json(*v->net_bits_per_second)
                                                        : nlohmann::json(nullptr);
      vms.push_back(std::move(j));
    }
    hosts.push_back({{"name", name},
                     {"uuid", h.identity.uuid},
                     {"libvirt_uri", h.identity.libvirt_uri},
                     {"migration_address", h.identity.migration_address},
                     {"source", h.identity.source},
                     {"stale", h.stale},
                     {"age_seconds", AgeSeconds(h, now)},
                     {"capacity",
                      {{"cpu_cores", h.capacity.cpu_cores},
                       {"memory_bytes", h.capacity.memory_bytes},
                       {"nic_bits_per_second", h.capacity.nic_bits_per_second}}},
                     {"cpu_used_cores", h.cpu_used_cores},
                     {"cpu_utilization", h.cpu_utilization},
                     {"memory_used_bytes", h.memory_used_bytes},
                     {"memory_utilization", h.memory_utilization},
                     {"net_bits_per_second", h.net_bits_per_second},
                     {"net_utilization", h.net_utilization},
                     {"samples", h.samples},
                     {"gaps", h.gaps},
                     {"resets", h.resets},
                     {"implausible_rates", h.implausible_rates},
                     {"vms", std::move(vms)}});
  }
  return {{"hosts", std::move(hosts)}};
}

}  // namespace ballast
