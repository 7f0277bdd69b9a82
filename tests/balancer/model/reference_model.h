#pragma once

// The cluster model as it was before the ingest rewrite (commit d9868a1: std::map everywhere,
// a full re-sort per sample), kept verbatim as the reference that ClusterModel must agree with
// (cluster_model_test.cc, RandomHistoryMatchesTheReference). Test-only.

#include <algorithm>
#include <set>

#include "balancer/model/cluster_model.h"

namespace ballast::reference {

class ReferenceModel {
 public:
  explicit ReferenceModel(ModelOptions options = {});

  IngestResult Ingest(const HostSample& sample, SteadyTime now);
  // Marks hosts stale or fresh for `now`; returns the hosts that changed state.
  std::vector<std::string> UpdateStaleness(SteadyTime now);

  const std::map<std::string, HostView>& hosts() const { return hosts_; }
  const std::map<std::string, VmView>& vms() const { return vms_; }  // by UUID
  const HostView* host(const std::string& name) const;
  const VmView* vm(const std::string& uuid) const;
  const VmView* vm_by_name(const std::string& name) const;

  // Forgets a host's utilisation history (after a migration in or out of it), so hotspot
  // detection waits for fresh samples instead of acting on the old placement.
  void ClearHistory(const std::string& host);
  // Records a completed migration before the collectors report it: the VM (with its rate)
  // moves to `to` at once, so the next plan does not see it on both hosts or on neither.
  void MoveVm(const std::string& vm_uuid, const std::string& to);

 private:
  struct Baseline {  // the previous counters of one VM on one host and collector boot
    std::uint64_t boot_id = 0;
    std::uint64_t monotonic_ns = 0;
    std::uint64_t cpu_ns = 0;
    std::uint64_t net_bytes = 0;
  };
  void Recompute(HostView& host);
  std::chrono::nanoseconds StaleAfter(const HostView& h) const;

  ModelOptions options_;
  std::map<std::string, HostView> hosts_;
  std::map<std::string, VmView> vms_;
  std::map<std::string, Baseline> baselines_;  // by VM UUID (a VM has one current host)
};

inline ReferenceModel::ReferenceModel(ModelOptions options) : options_(options) {}

inline const HostView* ReferenceModel::host(const std::string& name) const {
  auto it = hosts_.find(name);
  return it == hosts_.end() ? nullptr : &it->second;
}

inline const VmView* ReferenceModel::vm(const std::string& uuid) const {
  auto it = vms_.find(uuid);
  return it == vms_.end() ? nullptr : &it->second;
}

inline const VmView* ReferenceModel::vm_by_name(const std::string& name) const {
  for (const auto& [uuid, v] : vms_) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

inline IngestResult ReferenceModel::Ingest(const HostSample& s, SteadyTime now) {
  HostView& h = hosts_[s.host.name];
  const bool same_boot = h.samples > 0 && h.boot_id == s.boot_id;
  if (same_boot && s.sequence <= h.sequence) {
    ++h.out_of_order;
    return IngestResult::kIgnoredOld;
  }
  if (same_boot) {
    if (s.sequence > h.sequence + 1) h.gaps += s.sequence - h.sequence - 1;
    if (s.monotonic_ns > h.monotonic_ns) {
      const auto observed = std::chrono::nanoseconds(
          static_cast<std::int64_t>((s.monotonic_ns - h.monotonic_ns) / (s.sequence - h.sequence)));
      h.interval = h.interval.count() == 0 ? observed : (h.interval * 3 + observed) / 4;
    }
  } else if (h.samples > 0) {
    ++h.resets;  // collector restarted: baselines from its previous boot are void
  }
  h.identity = s.host;
  h.capacity = s.capacity;
  h.boot_id = s.boot_id;
  h.sequence = s.sequence;
  h.monotonic_ns = s.monotonic_ns;
  h.last_seen = now;
  h.stale = false;
  ++h.samples;

  std::set<std::string> reported;
  for (const VmSample& vs : s.vms) {
    auto [it, inserted] = vms_.try_emplace(vs.uuid);
    VmView& v = it->second;
    if (!inserted && v.host != s.host.name) {
      // Reported by two hosts: mid-migration both may list it. The running copy wins while
      // its host is fresh; otherwise the newest report wins (the VM moved).
      auto other = hosts_.find(v.host);
      const bool other_fresh = other != hosts_.end() && !other->second.stale;
      const bool this_running = vs.state == VmState::kRunning || vs.state == VmState::kBlocked;
      const bool other_running = v.state == VmState::kRunning || v.state == VmState::kBlocked;
      if (other_fresh && other_running && !this_running) continue;
      if (other != hosts_.end()) {
        auto& list = other->second.vm_uuids;
        list.erase(std::remove(list.begin(), list.end(), vs.uuid), list.end());
        Recompute(other->second);
      }
      baselines_.erase(vs.uuid);  // counters restart on the destination
    }
    reported.insert(vs.uuid);
    v.uuid = vs.uuid;
    v.name = vs.name;
    v.host = s.host.name;
    v.vcpus = vs.vcpus;
    v.state = vs.state;
    v.memory_bytes = vs.memory_current_bytes;
    v.memory_max_bytes = vs.memory_max_bytes;
    v.has_net = vs.has_net;

    const std::uint64_t net_bytes = vs.net_rx_bytes + vs.net_tx_bytes;
    auto b = baselines_.find(vs.uuid);
    if (b != baselines_.end() && b->second.boot_id == s.boot_id &&
        s.monotonic_ns > b->second.monotonic_ns) {
      const double dt = static_cast<double>(s.monotonic_ns - b->second.monotonic_ns);
      if (vs.cpu_ns >= b->second.cpu_ns) {
        const double rate = static_cast<double>(vs.cpu_ns - b->second.cpu_ns) / dt;
        if (vs.vcpus > 0 && rate > kMaxCoresPerVcpu * vs.vcpus) {
          ++h.implausible_rates;
        } else {
          v.cpu_cores = rate;
        }
      } else {
        ++h.resets;  // VM restarted in place: keep the last rate, re-baseline
      }
      if (vs.has_net && net_bytes >= b->second.net_bytes) {
        v.net_bits_per_second = static_cast<double>(net_bytes - b->second.net_bytes) * 8e9 / dt;
      }
    }
    baselines_[vs.uuid] = Baseline{s.boot_id, s.monotonic_ns, vs.cpu_ns, net_bytes};
  }

  // VMs this host reported before but not now: gone (shut off, or migrated away and not yet
  // reported elsewhere).
  for (const std::string& uuid : h.vm_uuids) {
    if (reported.count(uuid) != 0) continue;
    auto it = vms_.find(uuid);
    if (it != vms_.end() && it->second.host == s.host.name) {
      vms_.erase(it);
      baselines_.erase(uuid);
    }
  }
  h.vm_uuids.assign(reported.begin(), reported.end());
  Recompute(h);
  // A VM without a rate yet (just booted) would make the host look idler than it is.
  bool rates_known = true;
  for (const auto& uuid : h.vm_uuids) rates_known &= vms_[uuid].cpu_cores.has_value();
  if (rates_known) {
    const double u[3] = {h.cpu_utilization, h.memory_utilization, h.net_utilization};
    for (std::size_t r = 0; r < 3; ++r) {
      h.history[r].push_back(u[r]);
      while (h.history[r].size() > options_.history_length) h.history[r].pop_front();
    }
  }
  return IngestResult::kAccepted;
}

inline void ReferenceModel::ClearHistory(const std::string& host) {
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  for (auto& d : it->second.history) d.clear();
}

inline void ReferenceModel::MoveVm(const std::string& vm_uuid, const std::string& to) {
  auto vit = vms_.find(vm_uuid);
  auto to_it = hosts_.find(to);
  if (vit == vms_.end() || to_it == hosts_.end() || vit->second.host == to) return;
  auto from_it = hosts_.find(vit->second.host);
  if (from_it != hosts_.end()) {
    auto& list = from_it->second.vm_uuids;
    list.erase(std::remove(list.begin(), list.end(), vm_uuid), list.end());
    Recompute(from_it->second);
  }
  vit->second.host = to;
  baselines_.erase(vm_uuid);
  to_it->second.vm_uuids.push_back(vm_uuid);
  Recompute(to_it->second);
}

inline void ReferenceModel::Recompute(HostView& h) {
  std::sort(h.vm_uuids.begin(), h.vm_uuids.end(),
            [this](const auto& a, const auto& b) { return vms_[a].name < vms_[b].name; });
  h.cpu_used_cores = 0;
  h.memory_used_bytes = 0;
  h.net_bits_per_second = 0;
  for (const std::string& uuid : h.vm_uuids) {
    const VmView& v = vms_[uuid];
    h.cpu_used_cores += v.cpu_cores.value_or(0);
    h.memory_used_bytes += v.memory_bytes;
    h.net_bits_per_second += v.net_bits_per_second.value_or(0);
  }
  h.cpu_utilization = h.capacity.cpu_cores > 0 ? h.cpu_used_cores / h.capacity.cpu_cores : 0;
  h.memory_utilization =
      h.capacity.memory_bytes > 0
          ? static_cast<double>(h.memory_used_bytes) / static_cast<double>(h.capacity.memory_bytes)
          : 0;
  h.net_utilization =
      h.capacity.nic_bits_per_second > 0
          ? h.net_bits_per_second / static_cast<double>(h.capacity.nic_bits_per_second)
          : 0;
}

inline std::chrono::nanoseconds ReferenceModel::StaleAfter(const HostView& h) const {
  const auto interval = h.interval.count() > 0 ? h.interval : options_.default_interval;
  const auto scaled = std::chrono::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(interval.count()) * options_.stale_after_intervals));
  return std::max(scaled, options_.min_stale_after);
}

inline std::vector<std::string> ReferenceModel::UpdateStaleness(SteadyTime now) {
  std::vector<std::string> changed;
  for (auto& [name, h] : hosts_) {
    const bool stale = now - h.last_seen > StaleAfter(h);
    if (stale != h.stale) {
      h.stale = stale;
      changed.push_back(name);
    }
  }
  return changed;
}

}  // namespace ballast::reference
