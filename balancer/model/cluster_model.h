#pragma once

// The balancer's view of the cluster, built from the collectors' samples.
//
// Samples carry cumulative counters; the model derives rates from deltas between two samples
// of the same host and collector boot, over the collector's own monotonic clock (so network
// delay does not distort rates, and a dropped message only widens the interval). Resets are
// detected and never produce a negative or huge rate: a counter going backwards (VM restarted),
// a VM appearing on another host (migrated), a new collector boot id (collector restarted).
// The last known rate is carried over such a reset: a VM's load does not change by moving.
//
// Time is passed in (steady clock of the caller); the model reads no clock. Not thread-safe.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/sample.h"

namespace ballast {

using SteadyTime = std::chrono::steady_clock::time_point;

// How a host's load is measured.
enum class HostLoad {
  // From the host's own counters (busy CPU time, free memory, NIC bytes) where the collector
  // sends them: the hypervisor, dom0 and host services count. The VMs' sum where it does not.
  kCounters,
  // The sum of the host's VMs only. For test hosts that share one machine (the lab), whose
  // host counters all describe that same machine.
  kVmSum,
};
const char* HostLoadName(HostLoad h);

// A bounded window of recent values, oldest first: a ring, so pushing allocates nothing once
// it is full. Floats: 200,000 VMs x 3 resources x 16 samples stay under 40 MB.
class RecentWindow {
 public:
  void Push(double v, std::size_t capacity);
  void Clear() {
    values_.clear();
    head_ = 0;
  }
  std::size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }
  // i = 0 is the oldest.
  double operator[](std::size_t i) const { return values_[(head_ + i) % values_.size()]; }
  void AppendTo(std::vector<float>& out) const;

 private:
  std::vector<float> values_;
  std::size_t head_ = 0;  // the oldest value, once the ring is full
};

struct ModelOptions {
  // A host is stale when silent for this many of its sampling intervals...
  double stale_after_intervals = 3;
  // ...and never sooner than this (a collector at 100 ms must not go stale on a hiccup).
  std::chrono::nanoseconds min_stale_after = std::chrono::seconds(2);
  // Interval assumed before two samples of a host have been seen.
  std::chrono::nanoseconds default_interval = std::chrono::seconds(1);
  // Utilisation samples kept per host and resource (for k-of-n detection and forecasts).
  std::size_t history_length = 32;
  // Usage samples kept per VM and resource (the core's forecast and peak of a VM).
  std::size_t vm_history_length = 16;
  HostLoad host_load = HostLoad::kCounters;
};

// Index into HostView::history.
enum class UtilizationKind : std::size_t { kCpu = 0, kMemory = 1, kNetwork = 2 };

struct VmView {
  std::string uuid;
  std::string name;
  std::string host;  // name of the host that reports it
  std::uint32_t vcpus = 0;
  VmState state = VmState::kUnknown;
  std::uint64_t memory_bytes = 0;  // current
  std::uint64_t memory_max_bytes = 0;
  std::optional<double> cpu_cores;            // CPU used, in cores (1.0 = one pCPU busy)
  std::optional<double> net_bits_per_second;  // rx + tx
  bool has_net = false;
  // The VM's usage after each sample whose CPU rate was known, oldest first, in absolute
  // units (cores, bytes, bits/s), indexed by UtilizationKind. Kept across migrations: a VM's
  // load does not change by moving.
  std::array<RecentWindow, 3> history;
};

struct HostView {
  HostIdentity identity;
  HostCapacity capacity;
  SteadyTime last_seen{};  // arrival time of the last accepted sample
  std::uint64_t boot_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t monotonic_ns = 0;       // collector clock of the last sample
  std::chrono::nanoseconds interval{};  // smoothed sampling interval observed
  bool stale = false;
  std::vector<std::string> vm_uuids;  // sorted by VM name (then UUID, for equal names)
  // Utilisation (fractions of capacity; network 0 when the NIC speed is unknown).
  double cpu_used_cores = 0;
  double cpu_utilization = 0;
  std::uint64_t memory_used_bytes = 0;
  double memory_utilization = 0;
  double net_bits_per_second = 0;
  double net_utilization = 0;
  // Load the VMs do not explain (host counters minus the VMs' sum at the last sample): the
  // hypervisor, dom0, host services, migrations under way. Counted in the figures above with
  // HostLoad::kCounters; always 0 with kVmSum or when the collector sends no host counters.
  double cpu_overhead_cores = 0;
  std::uint64_t memory_overhead_bytes = 0;
  double net_overhead_bits_per_second = 0;
  // Utilisation after each accepted sample whose rates were known, oldest first, indexed by
  // UtilizationKind. Cleared when a migration changes the host's VMs (the old samples no
  // longer describe it).
  std::array<std::deque<double>, 3> history;
  // Bookkeeping, for metrics and for people.
  std::uint64_t samples = 0;
  std::uint64_t gaps = 0;          // samples lost in transit (sequence jumps)
  std::uint64_t resets = 0;        // counter resets and collector restarts seen
  std::uint64_t out_of_order = 0;  // duplicates or late samples, ignored
  // VM CPU rates above kMaxCoresPerVcpu x vCPUs, ignored (the last rate kept): counters read
  // long before their sample's stamp, e.g. a libvirt call that stalled during a migration.
  std::uint64_t implausible_rates = 0;
};

// A VM cannot use more CPU than its vCPUs; a rate above this many cores per vCPU is a
// measurement artefact (the slack allows for jitter between counter reads and stamps).
inline constexpr double kMaxCoresPerVcpu = 1.5;

enum class IngestResult {
  kAccepted,
  kIgnoredOld,  // duplicate or older than what the model has
};

// Ingest costs one hash lookup per VM (plus one for the host); the ordered maps that hosts()
// and vms() expose, and a host's sorted VM list, are touched only when a host's VMs change
// (a VM appears, goes, moves or is renamed).
class ClusterModel {
 public:
  explicit ClusterModel(ModelOptions options = {});
  ClusterModel(const ClusterModel& other);
  ClusterModel& operator=(const ClusterModel& other);
  ClusterModel(ClusterModel&&) = default;  // node-based maps: indexes stay valid
  ClusterModel& operator=(ClusterModel&&) = default;

  // A VM of the sample that another fresh host listed in its latest sample too.
  struct CrossReport {
    std::string vm_uuid;
    std::string other_host;
  };
  // `cross_reports` (may be null) gets every VM of the sample that another fresh host
  // reported last (the model keeps one host per VM: see the comment in Ingest). Mid-migration
  // that is normal; otherwise it is a conflict (the controller decides).
  IngestResult Ingest(const HostSample& sample, SteadyTime now,
                      std::vector<CrossReport>* cross_reports = nullptr);
  // Marks hosts stale or fresh for `now`; returns the hosts that changed state. Cheap when
  // called often: it looks at the hosts only when one of them may have gone stale.
  std::vector<std::string> UpdateStaleness(SteadyTime now);

  const std::map<std::string, HostView>& hosts() const { return hosts_; }
  const std::map<std::string, VmView>& vms() const { return vms_; }  // by UUID
  // Calls fn(vm) for every VM: host by host in name order, each host's VMs in the order of
  // its vm_uuids (by name, then UUID). Every VM is listed by exactly one host (its `host`), so
  // this visits each VM of vms() once. It reads the VMs about in the order their memory was
  // filled in (host by host, as the samples came), where a walk of vms() jumps across the
  // whole model from one random UUID to the next. The order is kept as one flat list of the
  // VMs, rebuilt on the first walk after a host's VMs change: a walk then reads each VM's
  // node straight from that list, not through its host's hash slot and its own index slot
  // (two dependent cache misses a VM, most of the snapshot's time at 2,000,000 VMs). That
  // rebuild is why a const walk may write: like every other call, not from two threads.
  template <typename Fn>
  void ForEachVmByHost(Fn&& fn) const {
    if (walk_stale_) RebuildWalk();
    for (const VmView* v : walk_) fn(*v);
  }
  const HostView* host(const std::string& name) const;
  const VmView* vm(const std::string& uuid) const;
  const VmView* vm_by_name(const std::string& name) const;

  // Forgets a host's utilisation history (after a migration in or out of it), so hotspot
  // detection waits for fresh samples instead of acting on the old placement.
  void ClearHistory(const std::string& host);
  // Records a completed migration before the collectors report it: the VM (with its rate)
  // moves to `to` at once, so the next plan does not see it on both hosts or on neither.
  void MoveVm(const std::string& vm_uuid, const std::string& to);
  // Forgets a host that left the cluster, and the VMs it was the last to report. Returns
  // the number of VMs forgotten (0 also when the host is unknown).
  std::size_t RemoveHost(const std::string& name);

 private:
  struct Baseline {  // the previous counters of one VM on one host and collector boot
    std::uint64_t boot_id = 0;
    std::uint64_t monotonic_ns = 0;
    std::uint64_t cpu_ns = 0;
    std::uint64_t net_bytes = 0;
  };
  struct VmSlot {
    std::map<std::string, VmView>::iterator it;  // the VM in vms_ (its key is the index key)
    std::optional<Baseline> baseline;            // void after a move or a collector restart
    std::uint64_t reported_in = 0;               // serial of the last sample that listed it
  };
  struct HostBaseline {  // the host's previous counters, for its own rates
    std::uint64_t boot_id = 0;
    std::uint64_t monotonic_ns = 0;
    std::uint64_t cpu_busy_ns = 0;
    std::uint64_t net_bytes = 0;
  };
  struct HostSlot {
    HostView* view = nullptr;
    std::optional<HostBaseline> baseline;
    std::vector<VmSlot*> vms;  // the VMs of view->vm_uuids, in the same order
    // The VMs of the last accepted sample in the sample's order (a subset of vms): collectors
    // list their VMs in the same order every time, so this predicts the next sample and
    // spares most hash lookups.
    std::vector<VmSlot*> sample_order;
  };

  HostSlot& HostSlotFor(const std::string& name);
  void EraseVm(VmSlot* slot);
  // Removes one VM from a host's list (order kept) and recomputes the host's sums.
  void RemoveFromHost(HostSlot& hs, const VmSlot* slot);
  // Sums the host's VMs (in list order) into its utilisation; returns whether every VM's CPU
  // rate is known.
  bool Recompute(HostSlot& hs);
  // With HostLoad::kCounters: the host's own rates from its counters, minus the VMs' sum
  // (just recomputed), become its overhead.
  void UpdateOverhead(HostSlot& hs, const HostSample& s);
  void RebuildIndexes();
  // walk_ from the hosts' lists; called by the first walk after a change to one of them.
  void RebuildWalk() const;
  std::chrono::nanoseconds StaleAfter(const HostView& h) const;

  ModelOptions options_;
  std::map<std::string, HostView> hosts_;
  std::map<std::string, VmView> vms_;
  // Hash indexes over the maps above; keys view the maps' keys (node-based: stable).
  std::unordered_map<std::string_view, HostSlot> host_index_;
  std::unordered_map<std::string_view, VmSlot> vm_index_;
  std::uint64_t ingest_serial_ = 0;
  std::vector<VmSlot*> scratch_;  // reused by Ingest
  // Every VM in ForEachVmByHost's order, valid while walk_stale_ is false. Anything that
  // adds, removes, moves or reorders a VM in a host's list sets walk_stale_.
  mutable std::vector<const VmView*> walk_;
  mutable bool walk_stale_ = true;
  // No host can turn stale before this (a lower bound of every fresh host's deadline), as
  // long as time does not go back before the last full staleness scan.
  SteadyTime stale_check_after_ = SteadyTime::min();
  SteadyTime last_stale_scan_ = SteadyTime::min();
};

}  // namespace ballast
