#pragma once

// The decision core's input: one snapshot of the cluster as the daemon (or the simulator)
// sees it. Plain data, filled by the caller; the core never reads a clock or a socket.
//
// Identities: hosts are named by `name` (unique in a snapshot), VMs by `uuid`. A VM's
// `host` and a migration's `from`/`to` are host names.

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "balancer/core/resources.h"

namespace ballast::core {

// Wall-clock time as the caller's Clock reports it; the core only compares time points.
using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

// Recent utilisation samples per resource, oldest first, newest last. Utilisation is a
// fraction of the host's capacity (0.93 = 93 %); values above 1 are allowed (CPU steal,
// bursts) and mean "hot".
using SampleWindow = std::array<std::vector<double>, kNumResources>;

// A VM's window, in float: the model keeps VM samples as floats, and the plan reads every
// VM's window every round (2,000,000 VMs at 100,000 hosts), so doubles would only double the
// bytes the snapshot writes and the plan reads, with the same values. Arithmetic on it is in
// double.
using VmSampleWindow = std::array<std::vector<float>, kNumResources>;

struct Host {
  std::string name;
  std::string uuid;
  Resources capacity;    // cpu cores, memory bytes, network bits/s; 0 = unknown (ignored)
  Resources used;        // now, in the same units (includes dom0 / hypervisor overhead)
  SampleWindow history;  // for k-of-n detection and the forecast
  // No fresh sample lately: the host is never a source or a target of a planned move.
  bool stale = false;
  // In maintenance: the drain strategy evacuates it, and nothing is moved onto it.
  bool maintenance = false;
};

struct Vm {
  std::string uuid;
  std::string name;
  std::string host;  // the host it runs on now
  int vcpus = 1;
  double memory_bytes = 0;  // allocated memory (what a target must have free)
  double cpu_used = 0;      // cores
  double net_bps = 0;       // bits/s, in + out
  // Optional: the VM's own recent usage in absolute units (cores, bytes, bits/s), oldest
  // first. When present, the forecast of a target after a move uses it.
  VmSampleWindow history;
  // Reported by two hosts at once (not by a migration under way): where it really runs is
  // unknown, so it is never moved (Blocker::kDuplicateVm).
  bool reported_twice = false;
  // Its last migration failed moments ago (the controller backs off from it): not moved for
  // now, so another VM can relieve its host instead (Blocker::kFailedRecently).
  bool failed_recently = false;

  Resources usage() const { return {cpu_used, memory_bytes, net_bps}; }
};

// A migration that has finished (successfully): drives cooldown and anti-ping-pong.
struct FinishedMigration {
  std::string vm_uuid;
  std::string from;
  std::string to;
  TimePoint finished_at;
};

// A migration under way now: its VM is not moved again, and it counts against the caps.
struct InFlightMigration {
  std::string vm_uuid;
  std::string from;
  std::string to;
};

struct ClusterState {
  std::vector<Host> hosts;
  std::vector<Vm> vms;
  std::vector<FinishedMigration> recent_migrations;
  std::vector<InFlightMigration> in_flight;
};

}  // namespace ballast::core
