#pragma once

// Pure conversion of what libxenstat (plus xenstore) reports about one Xen host into a
// SourceReading. xenstat_source.cc copies libxenstat's opaque handles into the plain structs
// below and calls these functions; they do no I/O and read no clock, so every mapping rule is
// tested on hand-written values (tests/collector/xenstat/xenstat_map_test.cc).
//
// Units are libxenstat's: nanoseconds of CPU, bytes of memory, Hz, 512-byte sectors.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sample.h"

namespace ballast {

// XENSTAT_* flag values, repeated here so this header needs no xenstat.h (the adapter
// static_asserts that they match).
inline constexpr unsigned kXenstatVcpu = 0x1;
inline constexpr unsigned kXenstatNetwork = 0x2;
inline constexpr unsigned kXenstatXenVersion = 0x4;
inline constexpr unsigned kXenstatVbd = 0x8;
inline constexpr unsigned kXenstatAll =
    kXenstatVcpu | kXenstatNetwork | kXenstatXenVersion | kXenstatVbd;

// libxenstat reports an unlimited max_mem as ULLONG_MAX.
inline constexpr std::uint64_t kXenUnlimitedMemory = ~std::uint64_t{0};

inline constexpr std::uint64_t kXenSectorBytes = 512;

struct XenVcpuStats {
  bool online = false;
  std::uint64_t ns = 0;
};

// One vif, counted by dom0's backend device vif<domid>.<n>: "rx" is what dom0 RECEIVED from
// the guest, i.e. what the guest sent.
struct XenVifStats {
  unsigned id = 0;
  std::uint64_t backend_rx_bytes = 0;
  std::uint64_t backend_tx_bytes = 0;
};

struct XenVbdStats {
  unsigned dev = 0;
  std::uint64_t rd_sectors = 0;
  std::uint64_t wr_sectors = 0;
  bool error = false;  // libxenstat could not read this vbd's counters
};

struct XenDomainStats {
  unsigned domid = 0;
  std::string name;
  std::string uuid;                 // from xenstore /local/domain/<domid>/vm; "" = unknown
  unsigned num_vcpus = 0;           // libxenstat: highest vCPU id + 1
  std::vector<XenVcpuStats> vcpus;  // empty unless read with kXenstatVcpu
  std::uint64_t cpu_ns = 0;
  std::uint64_t cur_mem = 0;
  std::uint64_t max_mem = 0;  // kXenUnlimitedMemory = no limit
  bool dying = false;
  bool crashed = false;
  bool shutdown = false;
  bool paused = false;
  bool blocked = false;
  bool running = false;
  std::vector<XenVifStats> vifs;  // meaningful only if the node has kXenstatNetwork
  std::vector<XenVbdStats> vbds;  // meaningful only if the node has kXenstatVbd
  // Number of vifs xenstore lists for the guest (device/vif); nullopt = not looked up.
  // libxenstat silently reports no vif at all when dom0 has no Linux bridge, so "xenstore
  // knows vifs, libxenstat none" means the network counters are unknown, not zero.
  std::optional<unsigned> xenstore_vif_count;
};

struct XenNodeStats {
  unsigned flags = 0;  // the XENSTAT_* sub-collectors that actually ran
  unsigned num_cpus = 0;
  std::uint64_t cpu_hz = 0;
  std::uint64_t tot_mem = 0;
  std::uint64_t free_mem = 0;
  // false when the collector's network namespace is not dom0's initial one: libxenstat reads
  // /proc/net/dev of the caller's namespace and would report someone else's interfaces.
  bool network_namespace_ok = true;
  std::vector<XenDomainStats> domains;
};

VmState MapXenState(const XenDomainStats& d);

// The guest's online vCPUs (all of them when libxenstat read no vCPU details).
std::uint32_t OnlineVcpus(const XenDomainStats& d, unsigned node_flags);

// One guest as a VmSample (counters raw, as Xen reports them). `host_memory` bounds an
// unlimited max_mem.
VmSample MapXenDomain(const XenDomainStats& d, unsigned node_flags, bool network_namespace_ok,
                      std::uint64_t host_memory);

// The whole host: capacity from the node; dom0 (domid 0) is host overhead and never a VM;
// guests without a UUID (being created or destroyed) or without an online vCPU (being built,
// or restored at the receiving end of a migration) are left out; when two domains share a
// UUID (a local migration in progress) only one is reported. Host CPU counters are left to
// XenCounterTracker. If `domids` is given, it receives the domid of each reported VM.
SourceReading MapXenNode(const XenNodeStats& node, std::vector<unsigned>* domids = nullptr);

// "/vm/<uuid>" (xenstore /local/domain/<id>/vm) -> "<uuid>" in lower case; nullopt if the
// value does not end in a UUID.
std::optional<std::string> UuidFromXenstoreVmPath(std::string_view vm_path);

// Keeps the published counters of each VM cumulative across what Xen resets: a new domid
// for the same UUID (local migration, `xl reboot`, save/restore) or a counter that goes
// backwards (a vif re-plugged) adds the last value seen to an offset, so the VM's counters
// never go down while this collector runs. VMs are keyed on UUID; one unseen for
// kForgetAfterReadings readings is forgotten (if it comes back, its counters start over,
// which the receiver sees as a reset, as for a VM migrated in).
//
// Also derives the host CPU counters, which libxenstat does not have: busy = sum over all
// domains (dom0 included) of their CPU time gained between readings; total = pCPUs x wall
// time between readings. Both start at 0 with this tracker.
//
// Not thread-safe; one per source.
class XenCounterTracker {
 public:
  static constexpr int kForgetAfterReadings = 3;

  // `domids` gives each reading.vms[i]'s domid; `domain_cpu_ns` maps every domain's domid
  // (dom0 included) to its raw cpu_ns; `now_ns` is a monotonic clock.
  void Apply(SourceReading* reading, const std::vector<unsigned>& domids,
             const std::map<unsigned, std::uint64_t>& domain_cpu_ns, std::uint64_t now_ns);

 private:
  struct Counter {
    std::uint64_t last_raw = 0;
    std::uint64_t offset = 0;
    std::uint64_t Update(std::uint64_t raw, bool restarted);
  };
  struct VmCounters {
    unsigned domid = 0;
    int unseen = 0;
    Counter cpu, net_rx, net_tx, block_rd, block_wr;
  };

  std::map<std::string, VmCounters> vms_;
  std::map<unsigned, std::uint64_t> last_domain_cpu_ns_;
  std::optional<std::uint64_t> last_now_ns_;
  std::uint64_t host_busy_ns_ = 0;
  std::uint64_t host_total_ns_ = 0;
};

}  // namespace ballast
