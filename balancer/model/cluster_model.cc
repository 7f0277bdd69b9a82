#include "balancer/model/cluster_model.h"

#include <algorithm>

namespace ballast {
namespace {

bool IsRunning(VmState s) { return s == VmState::kRunning || s == VmState::kBlocked; }

}  // namespace

const char* HostLoadName(HostLoad h) { return h == HostLoad::kCounters ? "counters" : "vm_sum"; }

void RecentWindow::Push(double v, std::size_t capacity) {
  if (capacity == 0) return;
  if (values_.size() < capacity) {
    if (values_.capacity() < capacity) values_.reserve(capacity);
    values_.push_back(static_cast<float>(v));
    return;
  }
  if (values_.size() > capacity) {  // capacity shrank: keep the newest
    std::vector<float> kept;
    for (std::size_t i = values_.size() - capacity; i < values_.size(); ++i) {
      kept.push_back(static_cast<float>((*this)[i]));
    }
    values_ = std::move(kept);
    head_ = 0;
  }
  values_[head_] = static_cast<float>(v);
  head_ = (head_ + 1) % values_.size();
}

void RecentWindow::AppendTo(std::vector<float>& out) const {
  // Oldest first: the ring from head_ to its end, then from its start up to head_.
  out.insert(out.end(), values_.begin() + static_cast<std::ptrdiff_t>(head_), values_.end());
  out.insert(out.end(), values_.begin(), values_.begin() + static_cast<std::ptrdiff_t>(head_));
}

ClusterModel::ClusterModel(ModelOptions options) : options_(options) {}

ClusterModel::ClusterModel(const ClusterModel& other)
    : options_(other.options_), hosts_(other.hosts_), vms_(other.vms_) {
  // Baselines are per VM and travel with the copy; the indexes point into this object's maps.
  RebuildIndexes();
  for (auto& [uuid, slot] : vm_index_) {
    auto o = other.vm_index_.find(uuid);
    if (o != other.vm_index_.end()) slot.baseline = o->second.baseline;
  }
  for (auto& [name, slot] : host_index_) {
    auto o = other.host_index_.find(name);
    if (o != other.host_index_.end()) slot.baseline = o->second.baseline;
  }
  stale_check_after_ = other.stale_check_after_;
  last_stale_scan_ = other.last_stale_scan_;
}

ClusterModel& ClusterModel::operator=(const ClusterModel& other) {
  if (this != &other) *this = ClusterModel(other);
  return *this;
}

void ClusterModel::RebuildIndexes() {
  vm_index_.clear();
  host_index_.clear();
  vm_index_.reserve(vms_.size());
  for (auto it = vms_.begin(); it != vms_.end(); ++it) {
    vm_index_.emplace(std::string_view(it->first), VmSlot{it, std::nullopt, 0});
  }
  for (auto& [name, h] : hosts_) {
    HostSlot& hs = host_index_[std::string_view(name)];
    hs.view = &h;
    for (const std::string& uuid : h.vm_uuids) {
      auto v = vm_index_.find(uuid);
      if (v != vm_index_.end()) hs.vms.push_back(&v->second);
    }
  }
  ingest_serial_ = 0;
  walk_stale_ = true;
}

void ClusterModel::RebuildWalk() const {
  walk_.clear();
  walk_.reserve(vms_.size());
  for (const auto& host : hosts_) {
    const HostSlot& hs = host_index_.find(host.first)->second;
    for (const VmSlot* slot : hs.vms) walk_.push_back(&slot->it->second);
  }
  walk_stale_ = false;
}

const HostView* ClusterModel::host(const std::string& name) const {
  auto it = host_index_.find(name);
  return it == host_index_.end() ? nullptr : it->second.view;
}

const VmView* ClusterModel::vm(const std::string& uuid) const {
  auto it = vm_index_.find(uuid);
  return it == vm_index_.end() ? nullptr : &it->second.it->second;
}

const VmView* ClusterModel::vm_by_name(const std::string& name) const {
  for (const auto& [uuid, v] : vms_) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

ClusterModel::HostSlot& ClusterModel::HostSlotFor(const std::string& name) {
  auto it = host_index_.find(name);
  if (it != host_index_.end()) return it->second;
  auto h = hosts_.try_emplace(name).first;
  walk_stale_ = true;
  HostSlot& hs = host_index_[std::string_view(h->first)];
  hs.view = &h->second;
  return hs;
}

void ClusterModel::EraseVm(VmSlot* slot) {
  auto it = slot->it;
  walk_stale_ = true;
  vm_index_.erase(std::string_view(it->first));  // before the key it views goes
  vms_.erase(it);
}

void ClusterModel::RemoveFromHost(HostSlot& hs, const VmSlot* slot) {
  walk_stale_ = true;
  auto& order = hs.sample_order;
  order.erase(std::remove(order.begin(), order.end(), slot), order.end());
  auto pos = std::find(hs.vms.begin(), hs.vms.end(), slot);
  if (pos != hs.vms.end()) {
    auto& uuids = hs.view->vm_uuids;
    uuids.erase(uuids.begin() + (pos - hs.vms.begin()));
    hs.vms.erase(pos);
  }
  Recompute(hs);
}

IngestResult ClusterModel::Ingest(const HostSample& s, SteadyTime now,
                                  std::vector<CrossReport>* cross_reports) {
  HostSlot& hs = HostSlotFor(s.host.name);
  HostView& h = *hs.view;
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
  stale_check_after_ = std::min(stale_check_after_, now + StaleAfter(h));

  // One pass over the sample; a VM is found where the previous sample had it, else with one
  // hash lookup. `reported` collects the host's VMs in sample order; the sorted list is
  // rebuilt only when its membership or a name changed.
  const std::uint64_t serial = ++ingest_serial_;
  std::vector<VmSlot*>& reported = scratch_;
  reported.clear();
  reported.reserve(s.vms.size());
  bool changed = false;  // a VM joined the host, or a name changed
  std::size_t kept = 0;  // VMs of the host's previous list reported again
  const std::vector<VmSlot*>& order = hs.sample_order;
  std::size_t next = 0;  // where the next VM probably is in `order`
  for (const VmSample& vs : s.vms) {
    // The model is far bigger than the caches: fetch the predicted VMs' memory ahead.
    if (next + 6 < order.size()) __builtin_prefetch(order[next + 6]);
    if (next + 4 < order.size()) __builtin_prefetch(&*order[next + 4]->it);
    if (next + 2 < order.size()) {
      const auto& ahead = *order[next + 2]->it;
      __builtin_prefetch(ahead.first.data());
      __builtin_prefetch(ahead.second.name.data());
    }
    VmSlot* slot;
    if (next < order.size() && order[next]->it->first == vs.uuid) {
      slot = order[next++];
    } else if (auto found = vm_index_.find(vs.uuid); found != vm_index_.end()) {
      slot = &found->second;
      // One VM gone from the middle: the prediction resumes after it.
      if (next + 1 < order.size() && order[next + 1] == slot) next += 2;
    } else {
      slot = nullptr;
    }
    if (slot == nullptr) {
      auto it = vms_.try_emplace(vs.uuid).first;
      slot = &vm_index_.emplace(std::string_view(it->first), VmSlot{it, std::nullopt, 0})
                  .first->second;
      it->second.uuid = vs.uuid;
      it->second.name = vs.name;
      it->second.host = s.host.name;
      changed = true;
    } else {
      VmView& v = slot->it->second;
      if (v.host != s.host.name) {
        // Reported by two hosts: mid-migration both may list it. The running copy wins while
        // its host is fresh; otherwise the newest report wins (the VM moved).
        auto other = host_index_.find(v.host);
        const bool other_fresh = other != host_index_.end() && !other->second.view->stale;
        if (other_fresh && cross_reports) cross_reports->push_back({vs.uuid, v.host});
        if (other_fresh && IsRunning(v.state) && !IsRunning(vs.state)) continue;
        if (other != host_index_.end()) RemoveFromHost(other->second, slot);
        slot->baseline.reset();  // counters restart on the destination
        v.host = s.host.name;
        changed = true;
      } else if (slot->reported_in != serial) {
        ++kept;
      }
    }
    if (slot->reported_in != serial) {  // (a UUID listed twice counts once)
      slot->reported_in = serial;
      reported.push_back(slot);
    }
    VmView& v = slot->it->second;
    if (v.name != vs.name) {
      v.name = vs.name;
      changed = true;
    }
    v.vcpus = vs.vcpus;
    v.state = vs.state;
    v.memory_bytes = vs.memory_current_bytes;
    v.memory_max_bytes = vs.memory_max_bytes;
    v.has_net = vs.has_net;

    const std::uint64_t net_bytes = vs.net_rx_bytes + vs.net_tx_bytes;
    const std::optional<Baseline>& b = slot->baseline;
    if (b && b->boot_id == s.boot_id && s.monotonic_ns > b->monotonic_ns) {
      const double dt = static_cast<double>(s.monotonic_ns - b->monotonic_ns);
      if (vs.cpu_ns >= b->cpu_ns) {
        const double rate = static_cast<double>(vs.cpu_ns - b->cpu_ns) / dt;
        if (vs.vcpus > 0 && rate > kMaxCoresPerVcpu * vs.vcpus) {
          ++h.implausible_rates;  // keep the last rate; the next interval re-bases it
        } else {
          v.cpu_cores = rate;
        }
      } else {
        ++h.resets;  // VM restarted in place: keep the last rate, re-baseline
      }
      if (vs.has_net && net_bytes >= b->net_bytes) {
        v.net_bits_per_second = static_cast<double>(net_bytes - b->net_bytes) * 8e9 / dt;
      }
    }
    slot->baseline = Baseline{s.boot_id, s.monotonic_ns, vs.cpu_ns, net_bytes};
  }

  if (kept != hs.vms.size()) {
    // VMs this host reported before but not now: gone (shut off, or migrated away and not yet
    // reported elsewhere).
    for (VmSlot* old : hs.vms) {
      if (old->reported_in == serial) continue;
      if (old->it->second.host == s.host.name) EraseVm(old);
    }
    changed = true;
  }
  hs.sample_order.assign(reported.begin(), reported.end());
  if (changed) {
    walk_stale_ = true;
    std::sort(reported.begin(), reported.end(), [](const VmSlot* a, const VmSlot* b) {
      const VmView& x = a->it->second;
      const VmView& y = b->it->second;
      const int c = x.name.compare(y.name);
      return c != 0 ? c < 0 : x.uuid < y.uuid;
    });
    hs.vms.swap(reported);
    h.vm_uuids.resize(hs.vms.size());
    for (std::size_t i = 0; i < hs.vms.size(); ++i) h.vm_uuids[i] = hs.vms[i]->it->first;
  }
  // Otherwise the host reported exactly the VMs of its (sorted) list, under the same names.

  // A VM without a rate yet (just booted) would make the host look idler than it is.
  const bool rates_known = Recompute(hs);
  UpdateOverhead(hs, s);
  if (rates_known) {
    const double u[3] = {h.cpu_utilization, h.memory_utilization, h.net_utilization};
    for (std::size_t r = 0; r < 3; ++r) {
      h.history[r].push_back(u[r]);
      while (h.history[r].size() > options_.history_length) h.history[r].pop_front();
    }
    for (const VmSlot* slot : hs.vms) {
      VmView& v = slot->it->second;
      const double usage[3] = {v.cpu_cores.value_or(0), static_cast<double>(v.memory_bytes),
                               v.net_bits_per_second.value_or(0)};
      for (std::size_t r = 0; r < 3; ++r) v.history[r].Push(usage[r], options_.vm_history_length);
    }
  }
  return IngestResult::kAccepted;
}

void ClusterModel::ClearHistory(const std::string& host) {
  auto it = host_index_.find(host);
  if (it == host_index_.end()) return;
  for (auto& d : it->second.view->history) d.clear();
}

void ClusterModel::MoveVm(const std::string& vm_uuid, const std::string& to) {
  auto vit = vm_index_.find(vm_uuid);
  auto to_it = host_index_.find(to);
  if (vit == vm_index_.end() || to_it == host_index_.end()) return;
  VmSlot* slot = &vit->second;
  VmView& v = slot->it->second;
  if (v.host == to) return;
  auto from_it = host_index_.find(v.host);
  if (from_it != host_index_.end()) RemoveFromHost(from_it->second, slot);
  v.host = to;
  slot->baseline.reset();
  // Into the destination's list at its place by name.
  HostSlot& dest = to_it->second;
  auto pos = std::lower_bound(dest.vms.begin(), dest.vms.end(), slot,
                              [](const VmSlot* a, const VmSlot* b) {
                                const VmView& x = a->it->second;
                                const VmView& y = b->it->second;
                                const int c = x.name.compare(y.name);
                                return c != 0 ? c < 0 : x.uuid < y.uuid;
                              });
  const auto index = pos - dest.vms.begin();
  walk_stale_ = true;
  dest.vms.insert(pos, slot);
  dest.view->vm_uuids.insert(dest.view->vm_uuids.begin() + index, slot->it->first);
  Recompute(dest);
}

void ClusterModel::UpdateOverhead(HostSlot& hs, const HostSample& s) {
  HostView& h = *hs.view;
  const HostCounters& c = s.counters;
  const std::uint64_t net_bytes = c.net_rx_bytes + c.net_tx_bytes;
  std::optional<HostBaseline>& b = hs.baseline;
  if (options_.host_load == HostLoad::kCounters) {
    // Sums without the old overhead: Recompute added it.
    const double vm_cpu = h.cpu_used_cores - h.cpu_overhead_cores;
    const double vm_net = h.net_bits_per_second - h.net_overhead_bits_per_second;
    const std::uint64_t vm_mem = h.memory_used_bytes - h.memory_overhead_bytes;
    if (b && b->boot_id == s.boot_id && s.monotonic_ns > b->monotonic_ns) {
      const double dt = static_cast<double>(s.monotonic_ns - b->monotonic_ns);
      if (c.cpu_busy_ns > 0 && c.cpu_busy_ns >= b->cpu_busy_ns) {
        const double busy = static_cast<double>(c.cpu_busy_ns - b->cpu_busy_ns) / dt;
        h.cpu_overhead_cores = std::max(0.0, busy - vm_cpu);
      }
      if (net_bytes > 0 && net_bytes >= b->net_bytes) {
        const double bps = static_cast<double>(net_bytes - b->net_bytes) * 8e9 / dt;
        h.net_overhead_bits_per_second = std::max(0.0, bps - vm_net);
      }
    }
    if (c.memory_free_bytes > 0 && c.memory_free_bytes <= h.capacity.memory_bytes) {
      const std::uint64_t used = h.capacity.memory_bytes - c.memory_free_bytes;
      h.memory_overhead_bytes = used > vm_mem ? used - vm_mem : 0;
    }
    Recompute(hs);
  }
  b = HostBaseline{s.boot_id, s.monotonic_ns, c.cpu_busy_ns, net_bytes};
}

std::size_t ClusterModel::RemoveHost(const std::string& name) {
  auto it = host_index_.find(name);
  if (it == host_index_.end()) return 0;
  std::size_t removed = 0;
  for (VmSlot* slot : it->second.vms) {
    if (slot->it->second.host != name) continue;
    EraseVm(slot);
    ++removed;
  }
  host_index_.erase(it);  // before the key it views goes
  hosts_.erase(name);
  walk_stale_ = true;
  return removed;
}

bool ClusterModel::Recompute(HostSlot& hs) {
  HostView& h = *hs.view;
  // The VMs' sum plus what they do not explain (0 unless HostLoad::kCounters).
  h.cpu_used_cores = h.cpu_overhead_cores;
  h.memory_used_bytes = h.memory_overhead_bytes;
  h.net_bits_per_second = h.net_overhead_bits_per_second;
  bool rates_known = true;
  for (const VmSlot* slot : hs.vms) {
    const VmView& v = slot->it->second;
    h.cpu_used_cores += v.cpu_cores.value_or(0);
    h.memory_used_bytes += v.memory_bytes;
    h.net_bits_per_second += v.net_bits_per_second.value_or(0);
    rates_known &= v.cpu_cores.has_value();
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
  return rates_known;
}

std::chrono::nanoseconds ClusterModel::StaleAfter(const HostView& h) const {
  const auto interval = h.interval.count() > 0 ? h.interval : options_.default_interval;
  const auto scaled = std::chrono::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(interval.count()) * options_.stale_after_intervals));
  return std::max(scaled, options_.min_stale_after);
}

std::vector<std::string> ClusterModel::UpdateStaleness(SteadyTime now) {
  std::vector<std::string> changed;
  // Fresh hosts cannot have gone stale before the earliest of their deadlines, and stale ones
  // stay stale until they report (Ingest clears the flag): nothing to look at.
  if (now >= last_stale_scan_ && now <= stale_check_after_) return changed;
  SteadyTime earliest = SteadyTime::max();
  for (auto& [name, h] : hosts_) {
    const auto after = StaleAfter(h);
    const bool stale = now - h.last_seen > after;
    if (stale != h.stale) {
      h.stale = stale;
      changed.push_back(name);
    }
    if (!stale) earliest = std::min(earliest, h.last_seen + after);
  }
  stale_check_after_ = earliest;
  last_stale_scan_ = now;
  return changed;
}

}  // namespace ballast
