#include "sim/cluster_sim.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <numeric>
#include <unordered_map>

#include "balancer/core/planner.h"

namespace ballast::sim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr std::size_t kCpu = static_cast<std::size_t>(core::Resource::kCpu);
constexpr std::size_t kMem = static_cast<std::size_t>(core::Resource::kMemory);

struct Migration {
  int vm = -1;
  int from = -1;
  int to = -1;
  double start = 0;
  double end = 0;
};

struct VmRun {
  int host = -1;  // where it runs (the source while it migrates)
  bool alive = true;
  bool migrating = false;
  double demand = 0;
  std::vector<std::pair<int, double>> left;  // (host, when it left), last hour or so
};

struct HostRun {
  int vms = 0;              // residents
  int incoming = 0;         // migrations arriving
  double awake_until = -1;  // an empty host woken for a hotspot stays on until then
  double demand = 0;        // residents' demand + migration overhead, this step
};

void PushBounded(std::vector<double>& window, double v, std::size_t cap) {
  if (window.size() >= cap) window.erase(window.begin());
  window.push_back(v);
}

core::TimePoint At(double seconds) {
  // An arbitrary, fixed epoch: the core only compares time points.
  return core::TimePoint{} + std::chrono::hours(24 * 365 * 40) +
         std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(seconds));
}

class Simulator {
 public:
  Simulator(const Workload& w, const core::Policy* policy, const SimOptions& o)
      : w_(w), policy_(policy), o_(o) {}

  Result<SimResult> Run() {
    if (o_.step_seconds <= 0) return Status::InvalidArgument("step must be > 0");
    if (w_.hosts.empty()) return Status::InvalidArgument("no hosts");
    if (policy_) {
      run_policy_ = *policy_;
      run_policy_.mode = core::Mode::kAutomatic;
    }
    const double interval = o_.plan_interval_seconds > 0
                                ? o_.plan_interval_seconds
                                : (policy_ ? policy_->interval.count() / 1000.0 : 0);
    plan_every_ = std::max<long>(1, std::lround(std::ceil(interval / o_.step_seconds - 1e-9)));
    if (Status st = Place(); !st.ok()) return st;
    BuildState();

    res_.label = w_.label;
    res_.policy = policy_ ? policy_->name : "none";
    res_.hosts = static_cast<int>(w_.hosts.size());
    res_.vms_start = static_cast<int>(
        std::count_if(vms_.begin(), vms_.end(), [](const VmRun& v) { return v.alive; }));
    res_.min_active_hosts = res_.hosts;
    const long steps = std::lround(std::ceil(w_.duration_seconds / o_.step_seconds - 1e-9));
    double stddev_sum = 0;
    for (long k = 0; k < steps; ++k) {
      const double t = static_cast<double>(k) * o_.step_seconds;
      const double dt = std::min(o_.step_seconds, w_.duration_seconds - t);
      FinishMigrations(t);
      if (o_.drop_idle_vms) DropIdle(t);
      ReadDemand(t);
      int started = 0;
      if (policy_ && k % plan_every_ == 0) started = Plan(t);
      stddev_sum += Account(t, dt, started) * dt;
    }
    for (std::size_t h = 0; h < by_type_.size(); ++h) {
      SimResult::TypeFigures& sum = res_.by_host_type[w_.hosts[h].type];
      sum.host_hours += by_type_[h].host_hours;
      sum.energy_kwh += by_type_[h].energy_kwh;
      sum.overload_host_hours += by_type_[h].overload_host_hours;
    }
    res_.vms_end = static_cast<int>(
        std::count_if(vms_.begin(), vms_.end(), [](const VmRun& v) { return v.alive; }));
    res_.duration_hours = w_.duration_seconds / 3600;
    res_.mean_load_stddev = w_.duration_seconds > 0 ? stddev_sum / w_.duration_seconds : 0;
    res_.mean_active_hosts = res_.active_host_hours / std::max(res_.duration_hours, 1e-9);
    return std::move(res_);
  }

 private:
  Status Place() {
    hosts_.assign(w_.hosts.size(), HostRun{});
    by_type_.assign(w_.hosts.size(), SimResult::TypeFigures{});
    vms_.assign(w_.vms.size(), VmRun{});
    const int n_hosts = static_cast<int>(w_.hosts.size());
    if (o_.placement == Placement::kRoundRobin) {
      for (std::size_t i = 0; i < w_.vms.size(); ++i) {
        int h = w_.vms[i].initial_host;
        if (h < 0) h = static_cast<int>(i % w_.hosts.size());
        vms_[i].host = h;
      }
    } else {
      std::vector<std::size_t> order(w_.vms.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return w_.vms[a].demand.At(0) > w_.vms[b].demand.At(0);
      });
      std::vector<double> load(w_.hosts.size(), 0);
      std::vector<double> mem(w_.hosts.size(), 0);
      int next_rr = 0;
      for (std::size_t i : order) {
        const VmModel& vm = w_.vms[i];
        int chosen = vm.initial_host;
        for (int h = 0; chosen < 0 && h < n_hosts; ++h) {
          const HostModel& hm = w_.hosts[static_cast<std::size_t>(h)];
          if (load[static_cast<std::size_t>(h)] + vm.demand.At(0) <=
                  o_.first_fit_level * hm.cpu_capacity &&
              mem[static_cast<std::size_t>(h)] + vm.memory_bytes <= hm.memory_bytes) {
            chosen = h;
          }
        }
        // RAM is reserved at placement (CloudSim does so too); a full cluster spreads the rest.
        if (chosen < 0) chosen = next_rr++ % n_hosts;
        load[static_cast<std::size_t>(chosen)] += vm.demand.At(0);
        mem[static_cast<std::size_t>(chosen)] += vm.memory_bytes;
        vms_[i].host = chosen;
      }
    }
    for (std::size_t i = 0; i < vms_.size(); ++i) {
      if (vms_[i].host < 0 || vms_[i].host >= n_hosts) {
        return Status::InvalidArgument("VM " + w_.vms[i].name + ": no valid initial host");
      }
      ++hosts_[static_cast<std::size_t>(vms_[i].host)].vms;
    }
    return Status::Ok();
  }

  // The core's view, built once; fields that change are updated before each plan.
  void BuildState() {
    state_.hosts.resize(w_.hosts.size());
    for (std::size_t h = 0; h < w_.hosts.size(); ++h) {
      core::Host& ch = state_.hosts[h];
      ch.name = w_.hosts[h].name;
      ch.uuid = w_.hosts[h].name;
      ch.capacity = {w_.hosts[h].cpu_capacity, w_.hosts[h].memory_bytes, w_.hosts[h].net_bps};
      host_index_.emplace(ch.name, static_cast<int>(h));
    }
    state_.vms.resize(w_.vms.size());
    vm_slot_.resize(w_.vms.size());
    for (std::size_t v = 0; v < w_.vms.size(); ++v) {
      core::Vm& cv = state_.vms[v];
      cv.uuid = "vm-" + std::to_string(v);
      vm_uuid_.push_back(cv.uuid);
      cv.name = w_.vms[v].name;
      cv.vcpus = 1;
      cv.memory_bytes = o_.enforce_memory ? w_.vms[v].memory_bytes : 0;
      vm_index_.emplace(cv.uuid, static_cast<int>(v));
      vm_slot_[v] = static_cast<int>(v);
    }
  }

  void FinishMigrations(double t) {
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->end > t) {
        ++it;
        continue;
      }
      VmRun& vm = vms_[static_cast<std::size_t>(it->vm)];
      --hosts_[static_cast<std::size_t>(it->from)].vms;
      --hosts_[static_cast<std::size_t>(it->to)].incoming;
      vm.migrating = false;
      if (vm.alive) {
        vm.host = it->to;
        ++hosts_[static_cast<std::size_t>(it->to)].vms;
      }
      vm.left.emplace_back(it->from, it->end);
      for (int h : {it->from, it->to}) {
        for (auto& hist : state_.hosts[static_cast<std::size_t>(h)].history) hist.clear();
      }
      recent_.push_back({vm_uuid_[static_cast<std::size_t>(it->vm)],
                         w_.hosts[static_cast<std::size_t>(it->from)].name,
                         w_.hosts[static_cast<std::size_t>(it->to)].name, At(it->end)});
      it = in_flight_.erase(it);
    }
    // Keep what cooldowns and the ping-pong window can still need.
    double keep = o_.ping_pong_window_seconds;
    if (policy_) {
      keep = std::max({keep, static_cast<double>(policy_->limits.vm_cooldown.count()),
                       static_cast<double>(policy_->limits.return_cooldown.count())});
    }
    while (!recent_.empty() && recent_.front().finished_at < At(t - keep)) recent_.pop_front();
  }

  void DropIdle(double t) {
    bool dropped = false;
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      VmRun& vm = vms_[v];
      // CloudSim skips VMs in migration when it looks for finished ones.
      if (!vm.alive || vm.migrating || !w_.vms[v].demand.IdleSegment(t)) continue;
      vm.alive = false;
      --hosts_[static_cast<std::size_t>(vm.host)].vms;
      dropped = true;
    }
    if (!dropped) return;
    // Rebuild the core's VM list without the dropped ones (slots only ever shrink).
    std::vector<core::Vm> kept;
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      const int old = vm_slot_[v];
      if (old < 0) continue;
      if (!vms_[v].alive) {
        vm_slot_[v] = -1;
        continue;
      }
      vm_slot_[v] = static_cast<int>(kept.size());
      kept.push_back(std::move(state_.vms[static_cast<std::size_t>(old)]));
    }
    state_.vms = std::move(kept);
  }

  void ReadDemand(double t) {
    for (HostRun& h : hosts_) h.demand = 0;
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      VmRun& vm = vms_[v];
      if (!vm.alive) continue;
      vm.demand = std::clamp(w_.vms[v].demand.At(t), 0.0,
                             w_.vms[v].cpu_capacity > 0 ? w_.vms[v].cpu_capacity : 1e300);
      hosts_[static_cast<std::size_t>(vm.host)].demand += vm.demand;
    }
  }

  // Builds the snapshot, plans, starts the moves. Returns how many started.
  bool IsOn(std::size_t h, double t) const {
    return hosts_[h].vms > 0 || hosts_[h].incoming > 0 || hosts_[h].awake_until > t;
  }

  int Plan(double t) {
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      core::Host& ch = state_.hosts[h];
      ch.stale = !o_.off_hosts_available && !IsOn(h, t);
      double overhead = 0;
      for (const Migration& m : in_flight_) {
        if (m.from == static_cast<int>(h) || m.to == static_cast<int>(h)) {
          overhead += o_.migration_overhead * vms_[static_cast<std::size_t>(m.vm)].demand;
        }
      }
      ch.used.cpu = hosts_[h].demand + overhead;
      ch.used.memory = 0;
      PushBounded(ch.history[kCpu], ch.used.cpu / ch.capacity.cpu, o_.history_length);
    }
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      if (vm_slot_[v] < 0) continue;
      core::Vm& cv = state_.vms[static_cast<std::size_t>(vm_slot_[v])];
      cv.host = w_.hosts[static_cast<std::size_t>(vms_[v].host)].name;
      cv.cpu_used = vms_[v].demand;
      PushBounded(cv.history[kCpu], vms_[v].demand, o_.history_length);
      if (o_.enforce_memory) {
        state_.hosts[static_cast<std::size_t>(vms_[v].host)].used.memory += cv.memory_bytes;
      }
    }
    if (o_.enforce_memory) {
      for (core::Host& ch : state_.hosts) {
        PushBounded(ch.history[kMem], ch.used.memory / ch.capacity.memory, o_.history_length);
      }
    }
    state_.recent_migrations.assign(recent_.begin(), recent_.end());
    state_.in_flight.clear();
    for (const Migration& m : in_flight_) {
      state_.in_flight.push_back({vm_uuid_[static_cast<std::size_t>(m.vm)],
                                  w_.hosts[static_cast<std::size_t>(m.from)].name,
                                  w_.hosts[static_cast<std::size_t>(m.to)].name});
    }

    const auto t0 = std::chrono::steady_clock::now();
    const core::Plan plan = core::MakePlan(state_, run_policy_, At(t));
    res_.plan_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++res_.plans;
    res_.unrelieved += static_cast<long>(plan.unrelieved.size());
    for (const core::Unrelieved& u : plan.unrelieved) {
      if (res_.unrelieved_samples.size() >= o_.keep_unrelieved) break;
      res_.unrelieved_samples.push_back({t, u.explanation});
    }

    // Power manager: wake off hosts for hotspots nobody could take.
    int hot_left = 0;
    for (const core::Unrelieved& u : plan.unrelieved) {
      if (u.strategy == core::StrategyKind::kHotspot) ++hot_left;
    }
    if (hot_left > 0 && !o_.off_hosts_available) {
      std::vector<std::size_t> off;
      for (std::size_t h = 0; h < hosts_.size(); ++h) {
        if (!IsOn(h, t)) off.push_back(h);
      }
      // The biggest first: it relieves the most.
      std::stable_sort(off.begin(), off.end(), [&](std::size_t a, std::size_t b) {
        return w_.hosts[a].cpu_capacity > w_.hosts[b].cpu_capacity;
      });
      const std::size_t n = static_cast<std::size_t>(std::min(hot_left, o_.wake_per_round));
      for (std::size_t i = 0; i < off.size() && i < n; ++i) {
        hosts_[off[i]].awake_until = t + o_.idle_off_seconds;
      }
    }

    int started = 0;
    for (const core::Move& m : plan.moves) {
      auto vi = vm_index_.find(m.vm_uuid);
      auto fi = host_index_.find(m.from);
      auto ti = host_index_.find(m.to);
      if (vi == vm_index_.end() || fi == host_index_.end() || ti == host_index_.end()) continue;
      const int v = vi->second;
      VmRun& vm = vms_[static_cast<std::size_t>(v)];
      if (!vm.alive || vm.migrating || vm.host != fi->second || ti->second == vm.host) continue;
      Migration mig;
      mig.vm = v;
      mig.from = vm.host;
      mig.to = ti->second;
      mig.start = t;
      const double mb = w_.vms[static_cast<std::size_t>(v)].memory_bytes / kMiB;
      mig.end = t + MigrationSeconds(mb, o_.migration_mb_per_second);
      vm.migrating = true;
      ++hosts_[static_cast<std::size_t>(mig.to)].incoming;
      // Ping-pong: back to a host it left within the window.
      for (const auto& [h, when] : vm.left) {
        if (h == mig.to && t - when < o_.ping_pong_window_seconds) {
          ++res_.ping_pongs;
          break;
        }
      }
      std::erase_if(vm.left, [&](const std::pair<int, double>& l) {
        return t - l.second >= o_.ping_pong_window_seconds;
      });
      ++res_.migrations;
      switch (m.reason.strategy) {
        case core::StrategyKind::kHotspot:
          ++res_.hotspot_migrations;
          break;
        case core::StrategyKind::kBalance:
          ++res_.balance_migrations;
          break;
        case core::StrategyKind::kDensity:
          ++res_.density_migrations;
          break;
        case core::StrategyKind::kDrain:
          ++res_.drain_migrations;
          break;
      }
      res_.migrated_gb += mb / 1024.0;
      if (o_.keep_moves) {
        res_.moves.push_back({t, m.vm_name, m.from, m.to,
                              std::string(core::StrategyName(m.reason.strategy)),
                              mig.end - mig.start, m.explanation});
      }
      in_flight_.push_back(mig);
      ++started;
    }
    return started;
  }

  // Integrates [t, t + dt). Returns the std-dev of active hosts' load at t.
  double Account(double t, double dt, int started) {
    std::vector<double> overhead(hosts_.size(), 0);
    for (const Migration& m : in_flight_) {
      const double overlap = std::max(0.0, std::min(m.end, t + dt) - std::max(m.start, t));
      if (overlap <= 0 || dt <= 0) continue;
      const double extra =
          o_.migration_overhead * vms_[static_cast<std::size_t>(m.vm)].demand * overlap / dt;
      overhead[static_cast<std::size_t>(m.from)] += extra;
      overhead[static_cast<std::size_t>(m.to)] += extra;
    }
    int active = 0;
    double sum = 0;
    double sumsq = 0;
    std::vector<float> util_row;
    if (o_.keep_host_utilization) util_row.assign(hosts_.size(), -1.0f);
    const double hours = dt / 3600;
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      const HostRun& hr = hosts_[h];
      if (!IsOn(h, t)) continue;  // off; an empty host kept awake draws its idle power
      const HostModel& hm = w_.hosts[h];
      const double u = (hr.demand + overhead[h]) / hm.cpu_capacity;
      ++active;
      sum += u;
      sumsq += u * u;
      SimResult::TypeFigures& type = by_type_[h];
      type.host_hours += hours;
      if (hm.power) {
        const double kwh = hm.power->Watts(u) * hours / 1000;
        res_.energy_kwh += kwh;
        type.energy_kwh += kwh;
      }
      if (u > 1.0) {
        res_.overload_host_hours += hours;
        type.overload_host_hours += hours;
      }
      if (u > 0.9) res_.busy_host_hours += hours;
      if (o_.keep_host_utilization) util_row[h] = static_cast<float>(u);
    }
    res_.active_host_hours += active * hours;
    res_.max_active_hosts = std::max(res_.max_active_hosts, active);
    res_.min_active_hosts = std::min(res_.min_active_hosts, active);
    double stddev = 0;
    if (active > 0) {
      const double mean = sum / active;
      stddev = std::sqrt(std::max(0.0, sumsq / active - mean * mean));
    }
    res_.times.push_back(t);
    res_.active_hosts.push_back(active);
    res_.migrations_started.push_back(started);
    res_.load_stddev.push_back(stddev);
    res_.vms_alive.push_back(static_cast<int>(
        std::count_if(vms_.begin(), vms_.end(), [](const VmRun& v) { return v.alive; })));
    if (o_.keep_host_utilization) res_.host_utilization.push_back(std::move(util_row));
    return stddev;
  }

  const Workload& w_;
  const core::Policy* policy_;
  core::Policy run_policy_;
  const SimOptions& o_;
  long plan_every_ = 1;
  std::vector<HostRun> hosts_;
  std::vector<SimResult::TypeFigures> by_type_;  // per host, summed by type at the end
  std::vector<VmRun> vms_;
  std::vector<Migration> in_flight_;
  std::deque<core::FinishedMigration> recent_;
  core::ClusterState state_;
  std::vector<int> vm_slot_;  // VM index -> index in state_.vms, -1 once dropped
  std::vector<std::string> vm_uuid_;
  std::unordered_map<std::string, int> host_index_;
  std::unordered_map<std::string, int> vm_index_;
  SimResult res_;
};

}  // namespace

Result<SimResult> RunSimulation(const Workload& workload, const core::Policy* policy,
                                const SimOptions& options) {
  Simulator sim(workload, policy, options);
  return sim.Run();
}

}  // namespace ballast::sim
