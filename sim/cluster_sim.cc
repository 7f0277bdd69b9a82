#include "sim/cluster_sim.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <unordered_map>

#include "balancer/controller/controller.h"
#include "balancer/core/planner.h"
#include "sim/energy_bound.h"

namespace ballast::sim {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

struct Migration {
  int vm = -1;
  int from = -1;
  int to = -1;
  double start = 0;
  double end = 0;
  MigrationRequest request;
  bool fails = false;    // injected: the VM stays on its source
  bool aborted = false;  // ... after a timeout
};

struct VmRun {
  int host = -1;  // where it runs (the source while it migrates)
  bool alive = true;
  bool migrating = false;
  double demand = 0;
  std::uint64_t cpu_ns = 0;                  // cumulative, as a collector reports it
  double last_moved = -1e18;                 // end of its last successful migration
  std::vector<std::pair<int, double>> left;  // (host, when it left), last hour or so
};

struct HostRun {
  int vms = 0;                    // residents
  int incoming = 0;               // migrations arriving
  double awake_until = -1;        // an empty host woken for a hotspot stays on until then
  double demand = 0;              // residents' demand + migration overhead, this step
  std::uint64_t cpu_busy_ns = 0;  // cumulative, as a collector reports it
  std::uint64_t sequence = 0;
};

core::TimePoint At(double seconds) {
  // An arbitrary, fixed epoch: the core only compares time points.
  return core::TimePoint{} + std::chrono::hours(24 * 365 * 40) +
         std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(seconds));
}

std::uint64_t Ns(double seconds) { return static_cast<std::uint64_t>(std::llround(seconds * 1e9)); }

// Simulated time, set by the simulator at each step.
class SimClock final : public controller::Clock {
 public:
  void Set(double t) { t_ = t; }
  controller::SteadyTime Steady() const override {
    return controller::SteadyTime{} + std::chrono::hours(1) +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(t_));
  }
  controller::WallTime Wall() const override { return At(t_); }

 private:
  double t_ = 0;
};

// The simulated hypervisors. Questions are answered after the controller's step (never from
// inside it), from the simulator's world; with faults, some answers are errors and some never
// come.
class SimHypervisor final : public controller::HypervisorQueries {
 public:
  std::function<std::vector<ActiveJob>(const std::string& host)> jobs_on;
  std::function<controller::VmProbe(const std::string& vm_uuid)> where_is;
  // 0 answer, 1 error, 2 hang (null: always answer), for a question to `host`.
  std::function<int(const std::string& host)> fault;
  long errors = 0;
  long hangs = 0;

  void AskActiveJobs(const std::string& host, const std::string&) override {
    hosts_.push_back(host);
  }
  void AskWhereIs(const controller::VmProbeRequest& probe) override {
    probes_.emplace_back(probe.vm_uuid, probe.from);  // asked of the migration's source
  }
  void Deliver(controller::Controller& c) {
    for (const std::string& h : std::exchange(hosts_, {})) {
      const int f = fault ? fault(h) : 0;
      if (f == 2) {
        ++hangs;
        continue;
      }
      if (f == 1) {
        ++errors;
        c.OnActiveJobs(h, Status::Unavailable("cannot connect to sim://" + h + " (injected)"));
        continue;
      }
      c.OnActiveJobs(h, jobs_on ? jobs_on(h) : std::vector<ActiveJob>{});
    }
    for (const auto& [v, from] : std::exchange(probes_, {})) {
      const int f = fault ? fault(from) : 0;
      if (f == 2) {
        ++hangs;
        continue;
      }
      controller::VmProbe p;
      if (f == 1) {
        ++errors;
      } else if (where_is) {
        p = where_is(v);
      } else {
        p.answered = true;
      }
      c.OnVmProbe(v, p);
    }
  }
  // A restarted controller asked nothing yet.
  void Forget() {
    hosts_.clear();
    probes_.clear();
  }

 private:
  std::vector<std::string> hosts_;
  std::vector<std::pair<std::string, std::string>> probes_;  // (VM UUID, source host)
};

// The journal of a simulation: counted, and kept when a restart must read it back; `down`
// makes every write fail (a full disk).
class SimJournal final : public controller::DecisionJournal {
 public:
  explicit SimJournal(bool keep) : keep_(keep) {}
  Status Append(nlohmann::json record, controller::WallTime) override {
    if (down) {
      ++failed;
      return Status::Unavailable("no space left on device (injected)");
    }
    ++records_;
    last_accepted = record;
    if (keep_) kept.push_back(std::move(record));
    return Status::Ok();
  }
  long records() const { return records_; }
  bool down = false;
  long failed = 0;
  nlohmann::json last_accepted;
  std::vector<nlohmann::json> kept;

 private:
  bool keep_;
  long records_ = 0;
};

class MemoryState final : public controller::StateStore {
 public:
  Result<std::optional<controller::PersistedState>> Load() override { return state_; }
  Status Save(const controller::PersistedState& s) override {
    state_ = s;
    return Status::Ok();
  }

 private:
  std::optional<controller::PersistedState> state_;
};

// Replays the workload. The world (where each VM runs, its demand, the migrations under way,
// energy) is the simulator's; what the balancer sees and decides goes through the same
// controller the daemon runs: each step every host that is on publishes a HostSample with
// cumulative counters, as a collector does, and the controller ingests it into its model,
// builds the core's snapshot, plans and starts moves on this simulator as its actuator.
class Simulator final : private controller::Actuator, private controller::Observer {
 public:
  Simulator(const Workload& w, const core::Policy* policy, const SimOptions& o)
      : w_(w), policy_(policy), o_(o), rng_(o.seed) {}

  Result<SimResult> Run() {
    if (o_.step_seconds <= 0) return Status::InvalidArgument("step must be > 0");
    if (w_.hosts.empty()) return Status::InvalidArgument("no hosts");
    if (Status st = Place(); !st.ok()) return st;
    if (policy_) StartController();

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
      clock_.Set(t);
      clock_t_ = t;
      FinishMigrations(t);
      if (o_.drop_idle_vms) DropIdle(t);
      ReadDemand(t);
      started_ = 0;
      step_ = k;
      if (policy_ && o_.faults.enabled) InjectFaults(t);
      if (policy_) Decide(t, k == 0);
      if (policy_ && o_.faults.enabled) RestartIfDue(t);
      if (policy_ && o_.faults.enabled) CheckStep(t);
      stddev_sum += Account(t, dt, started_) * dt;
      FeedSla(t, dt);
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
    res_.journal_records = journal_.records();
    res_.sla = sla_->Figures(res_.energy_kwh);
    res_.energy_bound_kwh = EnergyLowerBoundKwh(w_, o_.step_seconds, o_.drop_idle_vms);
    if (o_.faults.enabled) {
      res_.faults.journal_failed_writes = journal_.failed;
      res_.faults.query_errors = hypervisor_.errors;
      res_.faults.query_hangs = hypervisor_.hangs;
    }
    return std::move(res_);
  }

 private:
  Status Place() {
    hosts_.assign(w_.hosts.size(), HostRun{});
    by_type_.assign(w_.hosts.size(), SimResult::TypeFigures{});
    vms_.assign(w_.vms.size(), VmRun{});
    sla_ = std::make_unique<SlaMetrics>(w_.hosts.size(), w_.vms.size());
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

  // --- the balancer's side -------------------------------------------------------------

  void StartController() {
    auto p = std::make_shared<core::Policy>(*policy_);
    p->mode = core::Mode::kAutomatic;  // a what-if asks what the policy would do
    if (o_.plan_interval_seconds > 0) {
      p->interval = std::chrono::milliseconds(std::llround(o_.plan_interval_seconds * 1000));
    }
    controller::ControllerOptions co;
    // The simulator writes its hosts' samples itself: their claims are its own.
    co.inventory = controller::HostInventory::TrustCollectorClaims();
    co.model.history_length = o_.history_length;
    co.model.vm_history_length = o_.history_length;
    co.model.host_load = HostLoad::kCounters;
    // A host that is switched off sends nothing: stale at the first step it misses.
    co.model.default_interval = std::chrono::nanoseconds(Ns(o_.step_seconds));
    co.model.stale_after_intervals = 0.5;
    co.model.min_stale_after = std::chrono::nanoseconds(0);
    co.startup_grace = std::chrono::nanoseconds(0);
    // A switched-off host is powered down, not gone: it is never retired.
    co.retire_after = std::chrono::nanoseconds(0);
    policy_run_ = std::move(p);
    co_ = co;
    NewController();
    if (o_.faults.enabled) PlanFaults();

    samples_.resize(w_.hosts.size());
    for (std::size_t h = 0; h < w_.hosts.size(); ++h) {
      HostSample& s = samples_[h];
      const HostModel& hm = w_.hosts[h];
      s.host.name = hm.name;
      s.host.uuid = hm.name;
      s.host.libvirt_uri = "sim://" + hm.name;
      s.host.source = "sim";
      s.boot_id = 1;
      s.capacity.cpu_cores = hm.cpu_capacity;
      s.capacity.memory_bytes = static_cast<std::uint64_t>(hm.memory_bytes);
      s.capacity.nic_bits_per_second = static_cast<std::uint64_t>(hm.net_bps);
    }
    vm_uuid_.resize(w_.vms.size());
    for (std::size_t v = 0; v < w_.vms.size(); ++v) {
      vm_uuid_[v] = "vm-" + std::to_string(v);
      vm_index_.emplace(vm_uuid_[v], static_cast<int>(v));
    }
    for (std::size_t h = 0; h < w_.hosts.size(); ++h) {
      host_index_.emplace(w_.hosts[h].name, static_cast<int>(h));
    }
  }

  bool IsOn(std::size_t h, double t) const {
    return hosts_[h].vms > 0 || hosts_[h].incoming > 0 || hosts_[h].awake_until > t;
  }

  // Every host that is on reports what it ran over the step ending now (at the first step
  // every host reports once, as a cluster's hosts do when the balancer starts: then the
  // controller knows them all and has checked them for migration jobs).
  void Publish(double t, bool first) {
    std::vector<double> overhead(hosts_.size(), 0);
    for (const Migration& m : in_flight_) {
      const double extra = o_.migration_overhead * vms_[static_cast<std::size_t>(m.vm)].demand;
      overhead[static_cast<std::size_t>(m.from)] += extra;
      overhead[static_cast<std::size_t>(m.to)] += extra;
    }
    std::vector<std::vector<int>> residents(hosts_.size());
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      VmRun& vm = vms_[v];
      if (!vm.alive) continue;
      vm.cpu_ns += Ns(vm.demand * o_.step_seconds);
      residents[static_cast<std::size_t>(vm.host)].push_back(static_cast<int>(v));
    }
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      HostRun& hr = hosts_[h];
      hr.cpu_busy_ns += Ns((hr.demand + overhead[h]) * o_.step_seconds);
      if (!first && !o_.off_hosts_available && !IsOn(h, t)) continue;
      if (silent_until_.size() == hosts_.size() && silent_until_[h] > t) continue;  // injected
      HostSample& s = samples_[h];
      // The collector's sequence counts the steps, also those a switched-off host did not
      // report: its sampling interval stays one step (the model's staleness needs that).
      hr.sequence = static_cast<std::uint64_t>(std::llround(t / o_.step_seconds)) + 1;
      s.sequence = hr.sequence;
      s.monotonic_ns = Ns(t + o_.step_seconds);  // > 0 from the first sample on
      s.counters.cpu_busy_ns = hr.cpu_busy_ns;
      s.counters.cpu_total_ns = Ns((t + o_.step_seconds) * w_.hosts[h].cpu_capacity);
      double memory = 0;
      s.vms.resize(residents[h].size());
      for (std::size_t i = 0; i < residents[h].size(); ++i) {
        const auto v = static_cast<std::size_t>(residents[h][i]);
        VmSample& vs = s.vms[i];
        if (vs.uuid != vm_uuid_[v]) {
          vs.uuid = vm_uuid_[v];
          vs.name = w_.vms[v].name;
        }
        // The model's CPU unit is the workload's (MIPS or cores): the most a VM can demand in
        // it stands for its vCPUs (0: unknown), so that the model's bound on a VM's rate
        // (kMaxCoresPerVcpu x vCPUs) holds in the same unit.
        vs.vcpus = w_.vms[v].cpu_capacity > 0
                       ? static_cast<std::uint32_t>(std::ceil(w_.vms[v].cpu_capacity))
                       : 0;
        vs.state = VmState::kRunning;
        vs.cpu_ns = vms_[v].cpu_ns;
        vs.memory_current_bytes =
            o_.enforce_memory ? static_cast<std::uint64_t>(w_.vms[v].memory_bytes) : 0;
        vs.memory_max_bytes = vs.memory_current_bytes;
        memory += static_cast<double>(vs.memory_current_bytes);
      }
      const double free = std::max(0.0, w_.hosts[h].memory_bytes - memory);
      s.counters.memory_free_bytes = static_cast<std::uint64_t>(free);
      controller_->OnSample(s);
    }
  }

  void Decide(double t, bool first) {
    Publish(t, first);
    planned_ = false;
    const auto t0 = std::chrono::steady_clock::now();
    controller_->Tick();
    if (planned_) {
      res_.plan_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      last_plan_t_ = t;
    }
    hypervisor_.Deliver(*controller_);
    if (planned_) WakeForHotspots(t);
  }

  // Power manager: wake off hosts for hotspots nobody could take.
  void WakeForHotspots(double t) {
    const core::Plan& plan = controller_->last_plan();
    int hot_left = 0;
    for (const core::Unrelieved& u : plan.unrelieved) {
      if (u.strategy == core::StrategyKind::kHotspot) ++hot_left;
    }
    if (hot_left == 0 || o_.off_hosts_available) return;
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

  // --- restarts and the fault-injection day ------------------------------------------------

  void NewController() {
    controller::Env env{&clock_, this, &hypervisor_, &journal_, &state_, this};
    controller_ = std::make_unique<controller::Controller>(co_, env, policy_run_);
    // A restart reads what the previous run journaled (the first start: nothing).
    controller_->Start(journal_.kept);
  }

  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  struct Window {
    double start = 0;
    double end = 0;
    int host = -1;
  };

  void PlanFaults() {
    const FaultOptions& f = o_.faults;
    const double day = w_.duration_seconds;
    auto window = [&](double min_len, double max_len) {
      Window w;
      w.start = Uniform() * day * 0.9;
      w.end = w.start + min_len + Uniform() * (max_len - min_len);
      return w;
    };
    for (int i = 0; i < f.journal_outages; ++i) outages_.push_back(window(120, 600));
    for (int i = 0; i < f.pauses; ++i) pauses_.push_back(window(1800, 1800));
    for (int i = 0; i < f.drains; ++i) drains_.push_back(window(3600, 3600));  // host: at start
    for (int i = 0; i < f.libvirt_outages; ++i) libvirt_down_.push_back(window(1800, 1800));
    // A crash during a journal outage loses what the journal could not take (the cooldowns
    // of moves that finished meanwhile): restarts are placed outside outages and their
    // cooldowns, where the journal holds everything a restart needs.
    const double cooldown = std::chrono::duration<double>(policy_run_->limits.vm_cooldown).count();
    for (int i = 0; i < f.restarts; ++i) {
      for (int tries = 0; tries < 100; ++tries) {
        const double at = Uniform() * day * 0.9;
        bool clash = false;
        for (const Window& o : outages_) clash |= at >= o.start && at <= o.end + cooldown;
        if (clash) continue;
        restarts_.push_back(at);
        break;
      }
    }
    silent_until_.assign(hosts_.size(), -1);
    hypervisor_.fault = [this](const std::string& who) {
      // A host whose libvirt is down answers every question with an error.
      int host = -1;
      if (auto hi = host_index_.find(who); hi != host_index_.end()) host = hi->second;
      for (const Window& l : libvirt_down_) {
        if (In(l, clock_t_) && l.host == host && host >= 0) return 1;
      }
      const double u = Uniform();
      if (u < o_.faults.query_hang) return 2;
      if (u < o_.faults.query_hang + o_.faults.query_error) return 1;
      return 0;
    };
    hypervisor_.jobs_on = [this](const std::string& host) {
      std::vector<ActiveJob> jobs;
      for (const Migration& m : in_flight_) {
        if (w_.hosts[static_cast<std::size_t>(m.from)].name == host) {
          jobs.push_back({m.request.vm_uuid, m.request.vm_name});
        }
      }
      return jobs;
    };
    hypervisor_.where_is = [this](const std::string& uuid) {
      controller::VmProbe p;
      p.answered = true;
      auto vi = vm_index_.find(uuid);
      if (vi == vm_index_.end()) return p;
      const VmRun& vm = vms_[static_cast<std::size_t>(vi->second)];
      p.job_running = vm.migrating;
      if (vm.alive) p.where = w_.hosts[static_cast<std::size_t>(vm.host)].name;
      return p;
    };
  }

  int FullestHost() const {
    int best = 0;
    for (std::size_t h = 1; h < hosts_.size(); ++h) {
      if (hosts_[h].vms > hosts_[static_cast<std::size_t>(best)].vms) best = static_cast<int>(h);
    }
    return best;
  }

  static bool In(const Window& w, double t) { return t >= w.start && t < w.end; }

  void InjectFaults(double t) {
    FaultReport& r = res_.faults;
    bool down = false;
    for (const Window& o : outages_) {
      if (In(o, t) && !In(o, t - o_.step_seconds)) ++r.journal_outages;
      down |= In(o, t);
    }
    journal_.down = down;
    for (const Window& p : pauses_) {
      if (In(p, t) && !In(p, t - o_.step_seconds)) {
        ++r.pauses;
        controller_->SetPaused(true, "fault day", "sim");
      }
      if (!In(p, t) && In(p, t - o_.step_seconds)) controller_->SetPaused(false, "", "sim");
    }
    for (Window& d : drains_) {
      if (In(d, t) && !In(d, t - o_.step_seconds)) {
        // The fullest host: the one the consolidation most wants to fill.
        const int best = FullestHost();
        d.host = best;
        ++r.drains;
        (void)controller_->SetMaintenance(w_.hosts[static_cast<std::size_t>(best)].name, true,
                                          "sim");
      }
      if (d.host >= 0 && !In(d, t) && In(d, t - o_.step_seconds)) {
        (void)controller_->SetMaintenance(w_.hosts[static_cast<std::size_t>(d.host)].name, false,
                                          "sim");
      }
    }
    for (Window& l : libvirt_down_) {
      if (l.host < 0 && In(l, t)) {
        // The source of a migration under way if there is one (its outcome must then be found
        // without that host), else any host that is on.
        l.host = in_flight_.empty() ? FullestHost() : in_flight_.front().from;
        ++r.libvirt_outages;
      }
    }
    // Hosts go silent (a collector or its network down) and come back.
    const double p = o_.faults.host_silences_per_hour * o_.step_seconds / 3600;
    if (Uniform() < p) {
      std::vector<std::size_t> on;
      for (std::size_t h = 0; h < hosts_.size(); ++h) {
        if (IsOn(h, t) && silent_until_[h] <= t) on.push_back(h);
      }
      if (!on.empty()) {
        const std::size_t h =
            on[static_cast<std::size_t>(Uniform() * static_cast<double>(on.size()))];
        silent_until_[h] = t + o_.step_seconds * (2 + std::floor(Uniform() * 14));
        ++r.host_silences;
      }
    }
  }

  // After the step's decisions, when the moves it started are under way: a crash then
  // leaves migrations the next controller finds only in its journal.
  void RestartIfDue(double t) {
    FaultReport& r = res_.faults;
    for (double& at : restarts_) {
      // A restart is most telling with migrations under way: it waits for one (30 steps).
      if (at >= t && at < t + o_.step_seconds && in_flight_.empty() && restart_waits_++ < 30) {
        at += o_.step_seconds;
        continue;
      }
      if (at >= t && at < t + o_.step_seconds) {
        restart_waits_ = 0;
        // Where a migration is under way, its source's libvirt goes down with the restart:
        // the new controller finds the move in its journal and cannot ask that host.
        if (!in_flight_.empty()) {
          Window l{t, t + 1800, in_flight_.front().from};
          libvirt_down_.push_back(l);
          ++r.libvirt_outages;
        }
        ++r.restarts;
        hypervisor_.Forget();
        NewController();  // outcomes of its predecessor's moves are now only in libvirt
        last_plan_t_ = t;
      }
    }
  }

  void Violation(double t, const std::string& what) {
    FaultReport& r = res_.faults;
    ++r.violation_count;
    if (r.violations.size() >= 20) return;
    r.violations.push_back("seed " + std::to_string(o_.seed) + ", step " + std::to_string(step_) +
                           " (t=" + std::to_string(static_cast<long>(t)) + " s): " + what);
  }

  // At every start: the promises a move must keep.
  void CheckStart(const MigrationRequest& req, int v, int to, double t) {
    ++res_.faults.starts_checked;
    const VmRun& vm = vms_[static_cast<std::size_t>(v)];
    const std::string what = req.vm_name + " " + req.from_host + " -> " + req.to_host + ": ";
    if (vm.migrating) Violation(t, what + "the VM is already in a migration");
    const double cooldown = std::chrono::duration<double>(policy_run_->limits.vm_cooldown).count();
    if (t - vm.last_moved < cooldown) {
      Violation(t, what + "moved " + std::to_string(static_cast<long>(t - vm.last_moved)) +
                       " s after its last move, within vm_cooldown");
    }
    for (const Window& p : pauses_) {
      if (In(p, t)) Violation(t, what + "started while automation is paused");
    }
    for (const Window& d : drains_) {
      if (In(d, t) && d.host == to) Violation(t, what + "onto a host in maintenance");
    }
    const HostView* target = controller_->model().host(req.to_host);
    if (target == nullptr || target->stale) Violation(t, what + "onto a stale or unknown host");
    if (controller_->left_out().count(req.to_host) != 0) {
      Violation(t, what + "onto a host left out of planning");
    }
    const nlohmann::json& last = journal_.last_accepted;
    if (journal_.down || last.value("event", "") != "migration_started" ||
        last.value("id", "") != req.id) {
      Violation(t, what + "started without its durable migration_started record");
    }
  }

  // After every step: planning not blocked, memory bounded by the cluster.
  void CheckStep(double t) {
    FaultReport& r = res_.faults;
    ++r.steps_checked;
    const double gap = t - last_plan_t_;
    r.max_plan_gap_seconds = std::max(r.max_plan_gap_seconds, gap);
    const double bound =
        std::chrono::duration<double>(policy_run_->interval).count() + 3 * o_.step_seconds;
    if (gap > bound && !gap_reported_) {
      Violation(t, "no plan for " + std::to_string(static_cast<long>(gap)) + " s (bound " +
                       std::to_string(static_cast<long>(bound)) + " s)");
      gap_reported_ = true;
    }
    if (gap <= bound) gap_reported_ = false;
    const ClusterModel& m = controller_->model();
    if (m.hosts().size() > hosts_.size() || m.vms().size() > vms_.size() ||
        controller_->in_flight().size() > in_flight_.size() ||
        controller_->external().size() > vms_.size() ||
        controller_->recent().size() > 4 * vms_.size()) {
      Violation(t, "controller state beyond the cluster's size (hosts " +
                       std::to_string(m.hosts().size()) + ", VMs " +
                       std::to_string(m.vms().size()) + ", in flight " +
                       std::to_string(controller_->in_flight().size()) + ", recent " +
                       std::to_string(controller_->recent().size()) + ")");
    }
  }

  // controller::Observer
  void OnPlan(const core::Plan& plan, std::chrono::nanoseconds,
              std::optional<std::chrono::nanoseconds>) override {
    planned_ = true;
    ++res_.plans;
    res_.plan_moves.push_back(static_cast<int>(plan.moves.size()));
    res_.unrelieved += static_cast<long>(plan.unrelieved.size());
    for (const core::Unrelieved& u : plan.unrelieved) {
      if (res_.unrelieved_samples.size() >= o_.keep_unrelieved) break;
      res_.unrelieved_samples.push_back({clock_t_, u.explanation});
    }
  }

  void OnMigrationStarted(const core::Move* m, const MigrationRequest& req) override {
    const Migration& mig = in_flight_.back();  // Start() just added it
    ++res_.migrations;
    ++started_;
    if (m != nullptr) {
      switch (m->reason.strategy) {
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
    }
    const double mb = w_.vms[static_cast<std::size_t>(mig.vm)].memory_bytes / kMiB;
    res_.migrated_gb += mb / 1024.0;
    if (o_.keep_moves) {
      res_.moves.push_back({mig.start, req.vm_name, req.from_host, req.to_host, req.strategy,
                            mig.end - mig.start, m != nullptr ? m->explanation : std::string()});
    }
  }

  // controller::Actuator: a live migration that lasts RAM / bandwidth and loads both ends.
  Status Start(const MigrationRequest& req) override {
    auto vi = vm_index_.find(req.vm_uuid);
    auto fi = host_index_.find(req.from_host);
    auto ti = host_index_.find(req.to_host);
    if (vi == vm_index_.end() || fi == host_index_.end() || ti == host_index_.end()) {
      return Status::NotFound("unknown VM or host");
    }
    const int v = vi->second;
    VmRun& vm = vms_[static_cast<std::size_t>(v)];
    // The promises are checked before the world refuses (libvirt would refuse a second job
    // on a domain too, but the controller must never ask).
    if (o_.faults.enabled) CheckStart(req, v, ti->second, clock_t_);
    if (!vm.alive) return Status::NotFound("domain not found: " + req.vm_name);
    if (vm.migrating) return Status::FailedPrecondition("a migration job is already running");
    if (vm.host != fi->second || ti->second == vm.host) {
      return Status::FailedPrecondition(req.vm_name + " does not run on " + req.from_host);
    }
    const double t = clock_t_;
    Migration mig;
    mig.vm = v;
    mig.from = vm.host;
    mig.to = ti->second;
    mig.start = t;
    const double mb = w_.vms[static_cast<std::size_t>(v)].memory_bytes / kMiB;
    mig.end = t + MigrationSeconds(mb, o_.migration_mb_per_second);
    mig.request = req;
    mig.fails = o_.migration_failure_rate > 0 &&
                std::uniform_real_distribution<double>(0, 1)(rng_) < o_.migration_failure_rate;
    if (o_.faults.enabled) {
      const double u = Uniform();
      if (u < o_.faults.migration_failure) {
        // Breaks part-way: the VM stays on its source.
        mig.fails = true;
        mig.end = t + (mig.end - t) * Uniform();
        ++res_.faults.migration_failures;
      } else if (u < o_.faults.migration_failure + o_.faults.migration_timeout) {
        // Hangs until the policy's timeout; the actuator aborts it and the VM stays.
        mig.fails = true;
        mig.aborted = true;
        mig.end = t + std::chrono::duration<double>(policy_run_->migration.timeout).count();
        ++res_.faults.migration_timeouts;
      }
    }
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
    in_flight_.push_back(std::move(mig));
    return Status::Ok();
  }

  void FinishMigrations(double t) {
    std::vector<MigrationResult> done;
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->end > t) {
        ++it;
        continue;
      }
      VmRun& vm = vms_[static_cast<std::size_t>(it->vm)];
      --hosts_[static_cast<std::size_t>(it->to)].incoming;
      vm.migrating = false;
      MigrationResult r;
      r.request = it->request;
      r.duration = std::chrono::milliseconds(std::llround((it->end - it->start) * 1000));
      if (it->fails) {
        r.outcome = it->aborted ? MigrationOutcome::kAborted : MigrationOutcome::kFailed;
        r.error = it->aborted ? "timed out; aborted (injected)" : "injected failure";
        r.vm_on = w_.hosts[static_cast<std::size_t>(it->from)].name;
        ++res_.failed_migrations;
      } else {
        --hosts_[static_cast<std::size_t>(it->from)].vms;
        if (vm.alive) {
          vm.host = it->to;
          ++hosts_[static_cast<std::size_t>(it->to)].vms;
        }
        vm.left.emplace_back(it->from, it->end);
        vm.last_moved = it->end;
        r.outcome = MigrationOutcome::kSucceeded;
        r.vm_on = w_.hosts[static_cast<std::size_t>(it->to)].name;
      }
      sla_->MigrationEnded(it->end - it->start);
      done.push_back(std::move(r));
      it = in_flight_.erase(it);
    }
    if (controller_) {
      for (const MigrationResult& r : done) controller_->OnMigrationResult(r);
    }
  }

  void DropIdle(double t) {
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      VmRun& vm = vms_[v];
      // CloudSim skips VMs in migration when it looks for finished ones.
      if (!vm.alive || vm.migrating || !w_.vms[v].demand.IdleSegment(t)) continue;
      vm.alive = false;  // its host's next sample no longer lists it
      --hosts_[static_cast<std::size_t>(vm.host)].vms;
    }
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

  // What each host and VM did over [t, t + dt), for CloudSim's SLA metrics: the same load
  // as Account's (demand + migration overhead over the part of the step a migration ran).
  void FeedSla(double t, double dt) {
    std::vector<double>& overhead = sla_overhead_;
    std::vector<double>& arriving = sla_arriving_;
    std::vector<double>& migrating = sla_migrating_;
    overhead.assign(hosts_.size(), 0);
    arriving.assign(hosts_.size(), 0);
    migrating.assign(vms_.size(), 0);
    for (const Migration& m : in_flight_) {
      const double overlap = std::max(0.0, std::min(m.end, t + dt) - std::max(m.start, t));
      if (overlap <= 0 || dt <= 0) continue;
      const double demand = vms_[static_cast<std::size_t>(m.vm)].demand;
      const double extra = o_.migration_overhead * demand * overlap / dt;
      overhead[static_cast<std::size_t>(m.from)] += extra;
      overhead[static_cast<std::size_t>(m.to)] += extra;
      // Every migration in flight at t runs from t (or its start, t) on: their union on the
      // target is the longest of them.
      if (demand > 0) {
        double& a = arriving[static_cast<std::size_t>(m.to)];
        a = std::max(a, overlap);
      }
      migrating[static_cast<std::size_t>(m.vm)] = overlap;
    }
    std::vector<double>& share = sla_share_;
    share.assign(hosts_.size(), 1.0);
    for (std::size_t h = 0; h < hosts_.size(); ++h) {
      const double load = hosts_[h].demand + overhead[h];
      const double capacity = w_.hosts[h].cpu_capacity;
      const bool on = IsOn(h, t);
      const bool overloaded = on && load > capacity;
      if (overloaded) share[h] = capacity / load;
      const bool active = on && (hosts_[h].demand > 0 || arriving[h] > 0);
      sla_->HostStep(h, dt, active, overloaded, arriving[h]);
    }
    for (std::size_t v = 0; v < vms_.size(); ++v) {
      const VmRun& vm = vms_[v];
      if (!vm.alive) continue;
      sla_->VmStep(v, dt, vm.demand, share[static_cast<std::size_t>(vm.host)], migrating[v]);
    }
  }

  const Workload& w_;
  const core::Policy* policy_;
  const SimOptions& o_;
  std::mt19937_64 rng_;
  std::vector<HostRun> hosts_;
  std::vector<SimResult::TypeFigures> by_type_;  // per host, summed by type at the end
  std::vector<VmRun> vms_;
  std::vector<Migration> in_flight_;
  std::vector<std::string> vm_uuid_;
  std::unordered_map<std::string, int> host_index_;
  std::unordered_map<std::string, int> vm_index_;
  SimResult res_;
  // The balancer's side.
  SimClock clock_;
  double clock_t_ = 0;
  SimHypervisor hypervisor_;
  SimJournal journal_{o_.faults.enabled};
  MemoryState state_;
  std::unique_ptr<controller::Controller> controller_;
  std::vector<HostSample> samples_;  // one per host, reused
  bool planned_ = false;
  int started_ = 0;
  std::shared_ptr<const core::Policy> policy_run_;
  controller::ControllerOptions co_;
  // The fault-injection day.
  long step_ = 0;
  double last_plan_t_ = 0;
  bool gap_reported_ = false;
  std::vector<Window> outages_;
  std::vector<Window> pauses_;
  std::vector<Window> drains_;
  std::vector<Window> libvirt_down_;
  std::vector<double> restarts_;
  int restart_waits_ = 0;
  std::vector<double> silent_until_;  // per host; empty without faults
  // CloudSim's SLA metrics, fed every step.
  std::unique_ptr<SlaMetrics> sla_;
  std::vector<double> sla_overhead_;
  std::vector<double> sla_arriving_;
  std::vector<double> sla_migrating_;
  std::vector<double> sla_share_;
};

}  // namespace

Result<SimResult> RunSimulation(const Workload& workload, const core::Policy* policy,
                                const SimOptions& options) {
  Simulator sim(workload, policy, options);
  return sim.Run();
}

}  // namespace ballast::sim
