#include "collector/xenstat_map.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace ballast {
namespace {

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// Of two domains claiming one UUID, the one doing the guest's work: during a local
// migration the sender ends paused or shutting down while the receiver runs; if neither is
// clearly active, the newer (higher domid) one, which is where the guest is going.
bool Preferred(const XenDomainStats& a, const XenDomainStats& b) {
  auto active = [](const XenDomainStats& d) {
    return !d.dying && !d.crashed && !d.shutdown && !d.paused;
  };
  if (active(a) != active(b)) return active(a);
  return a.domid > b.domid;
}

}  // namespace

std::uint32_t OnlineVcpus(const XenDomainStats& d, unsigned node_flags) {
  // num_vcpus is the highest vCPU id + 1, not what is online (vCPUs can be hot-unplugged);
  // count the online ones when the vCPU collector ran.
  if ((node_flags & kXenstatVcpu) != 0 && !d.vcpus.empty()) {
    return static_cast<std::uint32_t>(std::count_if(
        d.vcpus.begin(), d.vcpus.end(), [](const XenVcpuStats& v) { return v.online; }));
  }
  return d.num_vcpus;
}

VmState MapXenState(const XenDomainStats& d) {
  // Xen sets several bits at once (a dying domain is also shut down); report the most final.
  if (d.dying) return VmState::kDying;
  if (d.crashed) return VmState::kCrashed;
  if (d.shutdown) return VmState::kShutdown;
  if (d.paused) return VmState::kPaused;
  if (d.running) return VmState::kRunning;
  if (d.blocked) return VmState::kBlocked;
  // Neither running nor blocked: runnable, waiting for a pCPU (xentop shows '-'). It wants
  // CPU, which is what a balancer needs to know.
  return VmState::kRunning;
}

VmSample MapXenDomain(const XenDomainStats& d, unsigned node_flags, bool network_namespace_ok,
                      std::uint64_t host_memory) {
  VmSample vm;
  vm.uuid = d.uuid;
  vm.name = d.name.empty() ? "domain-" + std::to_string(d.domid) : d.name;
  vm.state = MapXenState(d);
  vm.cpu_ns = d.cpu_ns;

  vm.vcpus = OnlineVcpus(d, node_flags);

  vm.memory_current_bytes = d.cur_mem;
  vm.memory_max_bytes = d.max_mem == kXenUnlimitedMemory ? host_memory : d.max_mem;
  vm.memory_max_bytes = std::max(vm.memory_max_bytes, vm.memory_current_bytes);

  const bool vifs_hidden = d.vifs.empty() && d.xenstore_vif_count.value_or(0) > 0;
  if ((node_flags & kXenstatNetwork) != 0 && network_namespace_ok && !vifs_hidden) {
    vm.has_net = true;
    for (const XenVifStats& v : d.vifs) {
      // The backend's view turned into the guest's: dom0 transmits what the guest receives.
      vm.net_rx_bytes += v.backend_tx_bytes;
      vm.net_tx_bytes += v.backend_rx_bytes;
    }
  }

  if ((node_flags & kXenstatVbd) != 0) {
    const bool any_error =
        std::any_of(d.vbds.begin(), d.vbds.end(), [](const XenVbdStats& b) { return b.error; });
    if (!any_error) {
      vm.has_block = true;
      for (const XenVbdStats& b : d.vbds) {
        vm.block_rd_bytes += b.rd_sectors * kXenSectorBytes;
        vm.block_wr_bytes += b.wr_sectors * kXenSectorBytes;
      }
    }
  }
  return vm;
}

SourceReading MapXenNode(const XenNodeStats& node, std::vector<unsigned>* domids) {
  SourceReading r;
  r.capacity.cpu_cores = node.num_cpus;
  r.capacity.memory_bytes = node.tot_mem;
  r.capacity.cpu_hz = node.cpu_hz;
  r.counters.memory_free_bytes = node.free_mem;

  // UUID -> index into node.domains of the domain reported for it.
  std::map<std::string, std::size_t> chosen;
  for (std::size_t i = 0; i < node.domains.size(); ++i) {
    const XenDomainStats& d = node.domains[i];
    if (d.domid == 0 || d.uuid.empty()) continue;
    // No vCPU (online): a domain being built, or restored at the receiving end of a migration
    // before its vCPUs come up. Not a guest doing work yet; reporting it would make the
    // sample invalid (every VM has at least one vCPU) and the whole host stale.
    if (OnlineVcpus(d, node.flags) == 0) continue;
    auto [it, inserted] = chosen.emplace(d.uuid, i);
    if (!inserted && Preferred(d, node.domains[it->second])) it->second = i;
  }
  std::set<std::size_t> keep;
  for (const auto& [uuid, i] : chosen) keep.insert(i);
  for (std::size_t i : keep) {  // in libxenstat's (domid) order
    r.vms.push_back(
        MapXenDomain(node.domains[i], node.flags, node.network_namespace_ok, node.tot_mem));
    if (domids != nullptr) domids->push_back(node.domains[i].domid);
  }
  return r;
}

std::optional<std::string> UuidFromXenstoreVmPath(std::string_view vm_path) {
  // libxl writes "/vm/<uuid>"; xend used to append "-<n>" after a reboot.
  auto slash = vm_path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? vm_path : vm_path.substr(slash + 1);
  if (last.size() > 36 && last[36] == '-') last = last.substr(0, 36);
  if (!IsUuid(last)) return std::nullopt;
  std::string uuid(last);
  std::transform(uuid.begin(), uuid.end(), uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return uuid;
}

std::uint64_t XenCounterTracker::Counter::Update(std::uint64_t raw, bool restarted) {
  if (restarted || raw < last_raw) offset += last_raw;
  last_raw = raw;
  return offset + raw;
}

void XenCounterTracker::Apply(SourceReading* reading, const std::vector<unsigned>& domids,
                              const std::map<unsigned, std::uint64_t>& domain_cpu_ns,
                              std::uint64_t now_ns) {
  for (auto& [uuid, c] : vms_) ++c.unseen;
  for (std::size_t i = 0; i < reading->vms.size(); ++i) {
    VmSample& vm = reading->vms[i];
    const unsigned domid = i < domids.size() ? domids[i] : 0;
    auto [it, is_new] = vms_.try_emplace(vm.uuid);
    VmCounters& c = it->second;
    const bool restarted = !is_new && c.domid != domid;
    c.domid = domid;
    c.unseen = 0;
    vm.cpu_ns = c.cpu.Update(vm.cpu_ns, restarted);
    // A vif or disk the source could not read this time keeps its history for next time.
    if (vm.has_net) {
      vm.net_rx_bytes = c.net_rx.Update(vm.net_rx_bytes, restarted);
      vm.net_tx_bytes = c.net_tx.Update(vm.net_tx_bytes, restarted);
    }
    if (vm.has_block) {
      vm.block_rd_bytes = c.block_rd.Update(vm.block_rd_bytes, restarted);
      vm.block_wr_bytes = c.block_wr.Update(vm.block_wr_bytes, restarted);
    }
  }
  std::erase_if(vms_, [](const auto& kv) { return kv.second.unseen >= kForgetAfterReadings; });

  // Host CPU: what every domain gained since the last reading. A domain new since then
  // (higher domid than any seen before) ran all its time since; domains that went away lose
  // their last interval, which is at most one interval of their CPU.
  if (last_now_ns_) {
    unsigned max_seen = 0;
    for (const auto& [domid, ns] : last_domain_cpu_ns_) max_seen = std::max(max_seen, domid);
    for (const auto& [domid, ns] : domain_cpu_ns) {
      auto prev = last_domain_cpu_ns_.find(domid);
      if (prev != last_domain_cpu_ns_.end()) {
        if (ns >= prev->second) host_busy_ns_ += ns - prev->second;
      } else if (domid > max_seen) {
        host_busy_ns_ += ns;
      }
    }
    if (now_ns > *last_now_ns_) {
      const auto cpus = static_cast<std::uint64_t>(reading->capacity.cpu_cores);
      host_total_ns_ += cpus * (now_ns - *last_now_ns_);
    }
  }
  last_domain_cpu_ns_ = domain_cpu_ns;
  last_now_ns_ = now_ns;
  reading->counters.cpu_busy_ns = host_busy_ns_;
  reading->counters.cpu_total_ns = host_total_ns_;
}

}  // namespace ballast
