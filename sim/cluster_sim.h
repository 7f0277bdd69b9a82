#pragma once

// The simulated cluster: replays a Workload through the balancer's own controller
// (balancer/controller: the model, the snapshot, the core, admission, outcomes) and counts
// what happens. Deterministic: simulated time; randomness only from `seed`.
//
// Every `step` seconds of simulated time: finished migrations land and their outcomes go to
// the controller, every VM's demand is read from its curve, every host that is on publishes
// a HostSample with cumulative counters as a collector does (VM CPU time; host busy time,
// which includes migration overhead; free memory), and the controller ingests them and, at
// the policy's interval, plans and starts moves on the simulator as its actuator: migrations
// that last RAM / bandwidth and load source and target by `migration_overhead` of the VM's
// CPU while they run. Energy, overload and the rest are integrated over each step.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "balancer/core/policy.h"
#include "common/status.h"
#include "sim/sla_metrics.h"
#include "sim/workload.h"

namespace ballast::sim {

enum class Placement {
  kRoundRobin,  // VM i on host i % hosts: a cluster nobody has consolidated
  kFirstFit,    // by decreasing demand at t = 0, the first host with room for RAM and for CPU
                // up to `first_fit_level`; when none has room, round-robin
};

// Faults injected into a run, all drawn from SimOptions::seed: the fault-injection day
// (tests/sim/fault_day_test.cc). With faults on, the simulator also checks the controller's
// promises after every step and at every start (FaultReport::violations).
struct FaultOptions {
  bool enabled = false;
  double migration_failure = 0.05;    // share of migrations that break part-way (VM stays)
  double migration_timeout = 0.02;    // share that hang until the policy's timeout (aborted)
  double host_silences_per_hour = 6;  // a host stops reporting for 2-15 steps, then resumes
  double query_error = 0.15;          // hypervisor questions answered with an error
  double query_hang = 0.03;           // ... never answered
  int journal_outages = 3;            // windows of 2-10 minutes in which every write fails
  int restarts = 2;                   // the controller restarted from its journal and state
  int pauses = 1;                     // an admin pauses automation for 30 minutes
  int drains = 1;                     // an admin drains the fullest host for an hour
  int libvirt_outages = 2;            // a host's libvirt fails every question for 30 minutes
};

struct FaultReport {
  long migration_failures = 0;
  long migration_timeouts = 0;
  long host_silences = 0;
  long query_errors = 0;
  long query_hangs = 0;
  long journal_outages = 0;
  long journal_failed_writes = 0;
  long restarts = 0;
  long pauses = 0;
  long drains = 0;
  long libvirt_outages = 0;
  long starts_checked = 0;
  long steps_checked = 0;
  double max_plan_gap_seconds = 0;
  long violation_count = 0;
  std::vector<std::string> violations;  // "seed S, step K (t=T s): what", the first 20
};

struct SimOptions {
  double step_seconds = 60;          // accounting and sampling step
  double plan_interval_seconds = 0;  // 0: the policy's interval (rounded up to a step)
  double migration_overhead = 0.10;  // extra CPU on source and target, fraction of the VM's
  double migration_mb_per_second = 62.5;
  // CloudSim compatibility: destroy a VM for good once it demands nothing (its curve is 0
  // over a whole sample segment). Off by default: every VM is kept.
  bool drop_idle_vms = false;
  // CloudSim reserves a VM's RAM only while placing it; afterwards its RAM demand is 0, so
  // memory never limits consolidation. With true, the core sees every VM's RAM and refuses
  // to overcommit a host's memory.
  bool enforce_memory = false;
  // A host with no VM is switched off: it sends no samples, so the core sees it as stale and
  // never moves a VM onto it. When a hotspot is left unrelieved, the simulator (acting as the
  // power manager) wakes up to `wake_per_round` off hosts; they join the next plan as fresh,
  // empty hosts, and switch off again once empty for `idle_off_seconds`. With
  // `off_hosts_available`, off hosts are always offered to the core instead.
  bool off_hosts_available = false;
  int wake_per_round = 1;
  double idle_off_seconds = 600;
  // The default is like CloudSim's start: VMs by decreasing demand, each on the first host
  // with room for its RAM (reserved while placing) and CPU.
  Placement placement = Placement::kFirstFit;
  double first_fit_level = 1.0;
  std::size_t history_length = 16;  // host and VM samples kept for the core
  double ping_pong_window_seconds = 3600;
  bool keep_host_utilization = true;  // per step and host, for the heatmap
  bool keep_moves = false;            // every move with its explanation (what-if)
  std::size_t keep_unrelieved = 0;    // at most this many unrelieved explanations kept
  // Share of migrations that fail (the VM stays on its source), drawn from `seed`.
  double migration_failure_rate = 0;
  std::uint64_t seed = 1;
  FaultOptions faults;
};

struct MoveRecord {
  double time = 0;
  std::string vm;
  std::string from;
  std::string to;
  std::string strategy;
  double seconds = 0;  // migration duration
  std::string explanation;
};

struct UnrelievedRecord {
  double time = 0;
  std::string explanation;
};

struct SimResult {
  std::string label;
  std::string policy;  // "none" when nothing plans
  int hosts = 0;
  int vms_start = 0;
  int vms_end = 0;
  double duration_hours = 0;
  double energy_kwh = 0;
  long migrations = 0;
  long hotspot_migrations = 0;  // started by each strategy
  long balance_migrations = 0;
  long density_migrations = 0;
  long drain_migrations = 0;
  long failed_migrations = 0;  // injected (migration_failure_rate)
  long journal_records = 0;    // what the controller journaled
  FaultReport faults;          // with SimOptions::faults.enabled
  double migrated_gb = 0;
  double overload_host_hours = 0;  // demand > 100 % of capacity
  double busy_host_hours = 0;      // demand > 90 %
  double active_host_hours = 0;
  long ping_pongs = 0;          // a VM moved back to a host it left less than 1 h before
  double mean_load_stddev = 0;  // time average of the std-dev of active hosts' CPU load
  double mean_active_hosts = 0;
  int max_active_hosts = 0;
  int min_active_hosts = 0;
  long plans = 0;
  std::vector<int> plan_moves;  // the number of moves in each plan, in order
  double plan_seconds = 0;      // wall time spent in MakePlan (measured by the caller's clock)
  long unrelieved = 0;          // unrelieved entries over all plans
  // Per host type ("G4", "G5", ...): host-hours on, energy and host-hours above capacity.
  struct TypeFigures {
    double host_hours = 0;
    double energy_kwh = 0;
    double overload_host_hours = 0;
  };
  std::map<std::string, TypeFigures> by_host_type;
  // CloudSim's SLA metrics (sim/sla_metrics.h), and the energy lower bound of the workload
  // this run replayed (sim/energy_bound.h).
  SlaFigures sla;
  double energy_bound_kwh = 0;

  // Time series, one entry per step.
  std::vector<double> times;  // seconds from the start
  std::vector<int> active_hosts;
  std::vector<int> migrations_started;
  std::vector<double> load_stddev;
  std::vector<int> vms_alive;
  std::vector<std::vector<float>> host_utilization;  // [step][host], demand / capacity
  std::vector<MoveRecord> moves;
  std::vector<UnrelievedRecord> unrelieved_samples;

  double energy_bound_ratio() const {
    return energy_bound_kwh > 0 ? energy_kwh / energy_bound_kwh : 0;
  }
  double overload_fraction() const {
    return active_host_hours > 0 ? overload_host_hours / active_host_hours : 0;
  }
};

// Runs the workload. `policy` null means no balancing at all ("none"). The policy must have
// passed core::ValidatePolicy; its mode is treated as automatic (a what-if asks what the
// policy would do).
Result<SimResult> RunSimulation(const Workload& workload, const core::Policy* policy,
                                const SimOptions& options);

}  // namespace ballast::sim
