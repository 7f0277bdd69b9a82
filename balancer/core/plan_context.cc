#include "balancer/core/plan_context.h"

#include <algorithm>
#include <cassert>
#include <string_view>
#include <utility>

#include "balancer/core/explain.h"
#include "balancer/core/forecast.h"
#include "balancer/core/rules.h"

namespace ballast::core {
namespace {

constexpr double kMaxLevelForVolume = 0.99;  // 1/(1-u) stays finite for hot hosts

double Ratio(double used, double cap) { return cap > 0 ? used / cap : 0.0; }

std::size_t Idx(int i) { return static_cast<std::size_t>(i); }

// Per resource, the population variance of a history window (0 for fewer than 2 samples).
Resources WindowVariance(const VmSampleWindow& history) {
  Resources out;
  for (Resource r : kAllResources) {
    const std::vector<float>& xs = history[static_cast<std::size_t>(r)];
    if (xs.size() < 2) continue;
    double mean = 0;
    for (double x : xs) mean += x;
    mean /= static_cast<double>(xs.size());
    double sq = 0;
    for (double x : xs) sq += (x - mean) * (x - mean);
    out[r] = sq / static_cast<double>(xs.size());
  }
  return out;
}

// A fresh HostState that keeps the storage of `hs`'s lists (reused across rounds).
void ResetHostState(HostState& hs) {
  std::vector<int> vms = std::move(hs.vms);
  std::vector<int> arriving = std::move(hs.arriving);
  vms.clear();
  arriving.clear();
  hs = HostState{};
  hs.vms = std::move(vms);
  hs.arriving = std::move(arriving);
}

}  // namespace

const VmExtras PlanContext::kNoExtras{};

VmExtras& PlanContext::MutableExtras(int v) {
  int& e = vms_[Idx(v)].extras;
  if (e < 0) {
    e = static_cast<int>(extras_.size());
    extras_.emplace_back();
  }
  return extras_[Idx(e)];
}

PlanContext::PlanContext(const ClusterState& state, const Policy& policy, TimePoint now,
                         PlanWorkspace::Storage* workspace)
    : state_(state), policy_(policy), now_(now), workspace_(workspace) {
  if (workspace_ != nullptr) {
    hosts_.swap(workspace_->hosts);
    vms_.swap(workspace_->vms);
    std::swap(host_index_, workspace_->host_index);
  }
  weight_sum_ = 0;
  for (Resource r : kAllResources) weight_sum_ += policy_.balance.weights[r];
  if (weight_sum_ <= 0) weight_sum_ = 1;

  const Rules& rules = policy_.rules;
  hosts_.resize(state.hosts.size());
  host_index_.Reset(state.hosts.size());  // its keys viewed the previous snapshot
  for (std::size_t i = 0; i < state.hosts.size(); ++i) {
    const Host& h = state.hosts[i];
    HostState& hs = hosts_[i];
    ResetHostState(hs);
    hs.host = &h;
    hs.cap = h.capacity;
    hs.used = h.used;
    hs.stale = h.stale;
    hs.maintenance = h.maintenance;
    for (const std::string& pattern : policy_.drain.hosts) {
      if (GlobMatch(pattern, h.name)) hs.maintenance = true;
    }
    for (const std::string& pattern : rules.exclude_hosts) {
      if (GlobMatch(pattern, h.name) || pattern == h.uuid) hs.excluded = true;
    }
    host_index_.Insert(h.name, static_cast<int>(i));
  }
  pin_hosts_.resize(rules.pins.size());
  for (std::size_t p = 0; p < rules.pins.size(); ++p) {
    pin_hosts_[p].assign(hosts_.size(), 0);
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      for (const std::string& pattern : rules.pins[p].hosts) {
        if (GlobMatch(pattern, hosts_[i].host->name)) pin_hosts_[p][i] = 1;
      }
    }
  }

  std::vector<double> vm_memory(hosts_.size(), 0.0);
  // The VMs that migrations name (recent and in flight): a few, not an index of every VM,
  // which cost a quarter of a 200,000-VM round. named_vm[named.Find(uuid)] is the first VM
  // of that UUID, -1 until it is seen. A flat table, not a std::unordered_map: every VM is
  // looked up, nearly all of them in vain, and a miss here reads one slot where the map's
  // cost a division and a bucket (a fifth of the view at 200,000 VMs).
  // And a bitmap in front of it, so that a VM no migration names (nearly all) costs no read
  // of the table's slots.
  NameIndex named;
  NameFilter maybe_named;
  std::vector<int> named_vm;
  named.Reset(state.recent_migrations.size() + state.in_flight.size());
  auto name_vm = [&](std::string_view uuid) {
    if (named.Insert(uuid, static_cast<int>(named_vm.size()))) named_vm.push_back(-1);
    maybe_named.Add(uuid);
  };
  for (const FinishedMigration& m : state.recent_migrations) name_vm(m.vm_uuid);
  for (const InFlightMigration& m : state.in_flight) name_vm(m.vm_uuid);
  auto named_vm_of = [&](std::string_view uuid) {
    const int n = named.Find(uuid);
    return n < 0 ? -1 : named_vm[Idx(n)];
  };
  vms_.resize(state.vms.size());
  // The snapshot lists VMs host by host, in the order of its hosts: most VMs name the host
  // the previous one named, and the first VM of a host names the host after it. A compare
  // rather than a lookup (250 ns a host at 100,000 hosts); a VM listed in any other order
  // finds its host by lookup.
  const std::string* last_host = nullptr;
  std::optional<int> last_host_index;
  std::size_t next_host = 0;
  for (std::size_t i = 0; i < state.vms.size(); ++i) {
    const Vm& v = state.vms[i];
    VmState& vs = vms_[i];
    vs = VmState{};
    vs.vm = &v;
    if (!named_vm.empty() && maybe_named.MightContain(v.uuid)) {
      const int n = named.Find(v.uuid);
      if (n >= 0 && named_vm[Idx(n)] < 0) named_vm[Idx(n)] = static_cast<int>(i);
    }
    vs.usage = v.usage();
    vs.reported_twice = v.reported_twice;
    vs.failed_recently = v.failed_recently;
    ForecastAndPeak(v.history, policy_.detection, vs.usage, vs.forecast_usage, vs.peak_usage);
    if (last_host == nullptr || *last_host != v.host) {
      last_host = &v.host;
      if (next_host < hosts_.size() && hosts_[next_host].host->name == v.host) {
        last_host_index = static_cast<int>(next_host);
      } else {
        last_host_index = FindHost(v.host);
      }
      if (last_host_index) next_host = Idx(*last_host_index) + 1;
    }
    if (const std::optional<int>& h = last_host_index) {
      vs.host = *h;
      hosts_[Idx(*h)].vms.push_back(static_cast<int>(i));
      const Resources variance = VmVariance(static_cast<int>(i));
      for (Resource r : kAllResources) {
        hosts_[Idx(*h)].peak[r] += vs.peak_usage[r];
        hosts_[Idx(*h)].variance[r] += variance[r];
      }
      vm_memory[Idx(*h)] += v.memory_bytes;
    }
    for (const std::string& pattern : rules.exclude_vms) {
      if (VmMatches(pattern, v)) vs.excluded = true;
    }
    for (std::size_t g = 0; g < rules.affinity.size(); ++g) {
      for (const std::string& pattern : rules.affinity[g].vms) {
        if (VmMatches(pattern, v)) {
          MutableExtras(static_cast<int>(i)).affinity.push_back(static_cast<int>(g));
          break;
        }
      }
    }
    for (std::size_t g = 0; g < rules.anti_affinity.size(); ++g) {
      for (const std::string& pattern : rules.anti_affinity[g].vms) {
        if (VmMatches(pattern, v)) {
          MutableExtras(static_cast<int>(i)).anti.push_back(static_cast<int>(g));
          break;
        }
      }
    }
    // The first matching pin of each mode wins, as documented.
    for (std::size_t p = 0; p < rules.pins.size(); ++p) {
      if (!VmMatches(rules.pins[p].vm, v)) continue;
      int& slot = rules.pins[p].mode == PinMode::kMust ? vs.must_pin : vs.should_pin;
      if (slot < 0) slot = static_cast<int>(p);
    }
  }

  FindRuleConflicts();

  for (const FinishedMigration& m : state.recent_migrations) {
    const int v = named_vm_of(m.vm_uuid);
    if (v < 0) continue;
    VmExtras& x = MutableExtras(v);
    if (!x.last_move || *x.last_move < m.finished_at) x.last_move = m.finished_at;
    if (auto h = FindHost(m.from)) x.left.emplace_back(*h, m.finished_at);
  }
  for (const InFlightMigration& m : state.in_flight) {
    ++cluster_in_flight_;
    auto from = FindHost(m.from);
    auto to = FindHost(m.to);
    if (from) ++hosts_[Idx(*from)].out_count;
    if (to) ++hosts_[Idx(*to)].in_count;
    const int v = named_vm_of(m.vm_uuid);
    if (v < 0) continue;
    VmState& vs = vms_[Idx(v)];
    vs.in_flight = true;
    if (!to || *to == vs.host) continue;
    // The target has reserved the VM's memory already (the reported figure may or may not
    // show it yet, hence the max below).
    vm_memory[Idx(*to)] += vs.usage.memory;
    hosts_[Idx(*to)].arriving.push_back(v);
  }

  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    HostState& hs = hosts_[i];
    hs.used.memory = std::max(hs.used.memory, vm_memory[i]);
    for (Resource r : kAllResources) {
      const std::vector<double>& hist = hs.host->history[Idx(static_cast<int>(r))];
      double now_util = Ratio(hs.used[r], hs.cap[r]);
      hs.forecast[r] = hist.empty() ? now_util : Forecast(hist, policy_.detection);
      const Threshold& t = policy_.threshold(r);
      if (t.enabled && hs.cap[r] > 0 && !hist.empty()) {
        hs.hot[Idx(static_cast<int>(r))] = IsHot(hist, policy_.detection, t.hot);
      }
    }
    // Arriving VMs: their CPU and network run elsewhere until they land, so neither the
    // host's figures nor its history hold them yet; add them (their memory is in `used`
    // already, the max above). Hot detection stays on the host's own history: arrivals
    // make a host a worse target, not a hotspot to relieve.
    for (int v : hs.arriving) {
      const VmState& vs = vms_[Idx(v)];
      for (Resource r : {Resource::kCpu, Resource::kNetwork}) {
        hs.used[r] += vs.usage[r];
        if (hs.cap[r] > 0) hs.forecast[r] += vs.forecast_usage[r] / hs.cap[r];
      }
      const Resources variance = VmVariance(v);
      for (Resource r : kAllResources) {
        hs.peak[r] += vs.peak_usage[r];
        hs.variance[r] += variance[r];
      }
    }
  }
  // The target indexes, built from sorted runs: one hinted insert per host instead of a
  // search down the tree (a tenth of a 100,000-host round).
  std::vector<std::pair<double, int>> by_volume;
  std::vector<std::pair<double, int>> by_load;
  by_volume.reserve(hosts_.size());
  by_load.reserve(hosts_.size());
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    const int h = static_cast<int>(i);
    if (!IsTargetEligible(h)) continue;
    by_volume.emplace_back(Volume(h), h);
    by_load.emplace_back(Load(h), h);
  }
  std::sort(by_volume.begin(), by_volume.end());
  std::sort(by_load.begin(), by_load.end());
  by_volume_.insert(by_volume.begin(), by_volume.end());
  by_load_.insert(by_load.begin(), by_load.end());
  load_is_pending_.assign(hosts_.size(), 0);
}

PlanContext::~PlanContext() {
  if (workspace_ == nullptr) return;
  workspace_->hosts.swap(hosts_);
  workspace_->vms.swap(vms_);
  std::swap(workspace_->host_index, host_index_);
}

std::optional<int> PlanContext::FindHost(std::string_view name) const {
  const int h = host_index_.Find(name);
  if (h < 0) return std::nullopt;
  return h;
}

double PlanContext::Util(int h, Resource r) const {
  const HostState& hs = hosts_[Idx(h)];
  return Ratio(hs.used[r], hs.cap[r]);
}

double PlanContext::ForecastUtil(int h, Resource r) const {
  return hosts_[Idx(h)].cap[r] > 0 ? hosts_[Idx(h)].forecast[r] : 0.0;
}

double PlanContext::Level(int h, Resource r) const {
  return std::max(Util(h, r), ForecastUtil(h, r));
}

double PlanContext::Load(int h) const {
  return policy_.balance.load == LoadBasis::kForecast ? ForecastLoad(h) : NowLoad(h);
}

double PlanContext::NowLoad(int h) const { return WeightedLoad(h, &PlanContext::Util); }

double PlanContext::ForecastLoad(int h) const {
  return WeightedLoad(h, &PlanContext::ForecastUtil);
}

double PlanContext::WeightedLoad(int h, double (PlanContext::*util)(int, Resource) const) const {
  double sum = 0;
  for (Resource r : kAllResources) {
    double w = policy_.balance.weights[r];
    if (w > 0) sum += w * (this->*util)(h, r);
  }
  return sum / weight_sum_;
}

double PlanContext::Volume(int h) const {
  double v = 1.0;
  for (Resource r : kAllResources) {
    if (!policy_.threshold(r).enabled || hosts_[Idx(h)].cap[r] <= 0) continue;
    v /= 1.0 - std::clamp(Level(h, r), 0.0, kMaxLevelForVolume);
  }
  return v;
}

Resources PlanContext::Share(const Unit& unit, int h) const {
  Resources s;
  const HostState& hs = hosts_[Idx(h)];
  for (int v : unit) {
    for (Resource r : kAllResources) s[r] += Ratio(vms_[Idx(v)].usage[r], hs.cap[r]);
  }
  return s;
}

Resources PlanContext::ForecastShare(const Unit& unit, int h) const {
  Resources s;
  const HostState& hs = hosts_[Idx(h)];
  for (int v : unit) {
    for (Resource r : kAllResources) s[r] += Ratio(vms_[Idx(v)].forecast_usage[r], hs.cap[r]);
  }
  return s;
}

bool PlanContext::IsTargetEligible(int h) const {
  const HostState& hs = hosts_[Idx(h)];
  return !hs.stale && !hs.maintenance && !hs.excluded;
}

Unit PlanContext::UnitOf(int v) const {
  Unit unit = {v};
  const int h = vms_[Idx(v)].host;
  if (extras(v).affinity.empty() || h < 0) return unit;
  // Grow to a fixed point: partners of partners on the same host belong too.
  const HostState& hs = hosts_[Idx(h)];
  for (std::size_t i = 0; i < unit.size(); ++i) {
    const std::vector<int>& member_groups = extras(unit[i]).affinity;
    for (const std::vector<int>* list : {&hs.vms, &hs.arriving}) {
      for (int other : *list) {
        if (std::find(unit.begin(), unit.end(), other) != unit.end()) continue;
        const std::vector<int>& groups = extras(other).affinity;
        for (int g : member_groups) {
          if (std::find(groups.begin(), groups.end(), g) != groups.end()) {
            unit.push_back(other);
            break;
          }
        }
      }
    }
  }
  std::sort(unit.begin(), unit.end());
  return unit;
}

bool PlanContext::PrefersHost(const Unit& unit, int h) const {
  for (int v : unit) {
    const int pin = vms_[Idx(v)].should_pin;
    if (pin >= 0 && PinAllows(pin, h)) return true;
  }
  return false;
}

Resources PlanContext::RelievedLimits() const {
  Resources limit;
  for (Resource r : kAllResources) limit[r] = policy_.threshold(r).relieved;
  return limit;
}

void PlanContext::IndexTarget(int h) {
  if (!IsTargetEligible(h)) return;
  by_volume_.emplace(Volume(h), h);
}

void PlanContext::LoadIndexCatchUp() const {
  // Few changes (balance reads after every move): update in place. Many (after hotspot):
  // rebuild from a sorted run, as the constructor does. Either way the index holds exactly
  // (Load(h), h) for every eligible host, as if it had been updated move by move.
  if (load_pending_.size() * 16 < by_load_.size()) {
    for (const auto& [key, h] : load_pending_) {
      by_load_.erase({key, h});
      by_load_.emplace(Load(h), h);
      load_is_pending_[Idx(h)] = 0;
    }
  } else {
    std::vector<std::pair<double, int>> run;
    run.reserve(by_load_.size());
    for (const auto& [key, h] : by_load_) {
      run.emplace_back(load_is_pending_[Idx(h)] != 0 ? Load(h) : key, h);
    }
    std::sort(run.begin(), run.end());
    by_load_.clear();
    by_load_.insert(run.begin(), run.end());
    for (const auto& [key, h] : load_pending_) load_is_pending_[Idx(h)] = 0;
  }
  load_pending_.clear();
}

Resources PlanContext::VmVariance(int v) const {
  if (policy_.density.effective_sigmas <= 0) return {};
  return WindowVariance(vms_[Idx(v)].vm->history);
}

void PlanContext::UnindexTarget(int h) {
  if (!IsTargetEligible(h)) return;
  by_volume_.erase({Volume(h), h});
  if (load_is_pending_[Idx(h)] == 0) {  // its key in by_load_ is its load before this move
    load_is_pending_[Idx(h)] = 1;
    load_pending_.emplace_back(Load(h), h);
  }
}

void PlanContext::ShiftUnit(const Unit& unit, int from, int to) {
  UnindexTarget(from);
  UnindexTarget(to);
  HostState& src = hosts_[Idx(from)];
  HostState& dst = hosts_[Idx(to)];
  for (int v : unit) {
    VmState& vs = vms_[Idx(v)];
    for (Resource r : kAllResources) {
      src.used[r] -= vs.usage[r];
      dst.used[r] += vs.usage[r];
      if (src.cap[r] > 0) src.forecast[r] -= vs.forecast_usage[r] / src.cap[r];
      if (dst.cap[r] > 0) dst.forecast[r] += vs.forecast_usage[r] / dst.cap[r];
      src.peak[r] -= vs.peak_usage[r];
      dst.peak[r] += vs.peak_usage[r];
    }
    const Resources variance = VmVariance(v);
    for (Resource r : kAllResources) {
      src.variance[r] -= variance[r];
      dst.variance[r] += variance[r];
    }
    src.vms.erase(std::find(src.vms.begin(), src.vms.end(), v));
    dst.vms.push_back(v);
    vs.host = to;
  }
  IndexTarget(from);
  IndexTarget(to);
}

void PlanContext::MoveUnit(const Unit& unit, int to) {
  assert(!unit.empty());
  const int from = vms_[Idx(unit[0])].host;
  ShiftUnit(unit, from, to);
  for (int v : unit) {
    VmState& vs = vms_[Idx(v)];
    vs.planned = true;
    ++hosts_[Idx(from)].out_count;
    ++hosts_[Idx(to)].in_count;
    Move m;
    m.vm_uuid = vs.vm->uuid;
    m.vm_name = vs.vm->name;
    m.from = hosts_[Idx(from)].host->name;
    m.to = hosts_[Idx(to)].host->name;
    moves_.push_back(std::move(m));
    move_from_.push_back(from);
  }
}

void PlanContext::Annotate(std::size_t first, const MoveReason& reason) {
  for (std::size_t i = first; i < moves_.size(); ++i) {
    moves_[i].reason = reason;
    moves_[i].explanation = ExplainMove(moves_[i]);
  }
}

void PlanContext::RollbackTo(std::size_t checkpoint) {
  while (moves_.size() > checkpoint) {
    const int from = move_from_.back();
    const int to = *FindHost(moves_.back().to);
    int v = -1;
    for (int candidate : hosts_[Idx(to)].vms) {
      if (vms_[Idx(candidate)].vm->uuid == moves_.back().vm_uuid) v = candidate;
    }
    assert(v >= 0);
    ShiftUnit({v}, to, from);
    vms_[Idx(v)].planned = false;
    --hosts_[Idx(from)].out_count;
    --hosts_[Idx(to)].in_count;
    moves_.pop_back();
    move_from_.pop_back();
  }
}

}  // namespace ballast::core
