#pragma once

// What the simulator replays: hosts (capacity, power) and VMs (memory, CPU demand over
// time). Built from a PlanetLab trace with a host/VM model, or from a balancer recording.
// CPU is in one consistent unit per workload (MIPS for PlanetLab, cores for recordings);
// the decision core only compares utilisations, so the unit does not matter to it.

#include <string>
#include <vector>

#include "common/status.h"
#include "sim/power.h"
#include "sim/trace.h"

namespace ballast::sim {

// A demand curve: values at increasing times (seconds from the start of the run), linearly
// interpolated in between and held flat before the first and after the last point.
class Series {
 public:
  Series() = default;
  // Regular samples, `step` seconds apart, starting at 0.
  static Series Regular(double step, std::vector<double> values);
  void Add(double t, double v);  // t must not decrease

  double At(double t) const;
  // True when the curve is 0 over the whole sample segment containing t (both ends 0): what
  // CloudSim sees as "the VM requests no MIPS", after which it destroys the VM.
  bool IdleSegment(double t) const;
  bool empty() const { return values_.empty(); }
  double end_time() const { return times_.empty() ? 0 : times_.back(); }
  const std::vector<double>& times() const { return times_; }
  const std::vector<double>& values() const { return values_; }

 private:
  std::size_t Segment(double t) const;  // index i with times_[i] <= t < times_[i+1]
  std::vector<double> times_;
  std::vector<double> values_;
};

struct HostModel {
  std::string name;
  double cpu_capacity = 0;  // MIPS or cores
  double memory_bytes = 0;
  double net_bps = 0;
  const PowerModel* power = nullptr;
  std::string type;  // "G4", "G5", or the recording's label
};

struct VmModel {
  std::string name;
  double cpu_capacity = 0;  // the most it can demand (MIPS or cores)
  double memory_bytes = 0;
  int initial_host = -1;  // -1: the simulator places it
  std::string type;
  Series demand;  // absolute CPU demand
};

struct Workload {
  std::string label;     // "20110303", a recording's file name
  std::string cpu_unit;  // "MIPS" or "cores"
  double duration_seconds = 0;
  std::vector<HostModel> hosts;
  std::vector<VmModel> vms;
};

struct HostType {
  std::string name;
  int cores = 2;
  double mips_per_core = 0;
  double memory_mb = 4096;
  double net_bps = 1e9;
  const PowerModel* power = nullptr;
};

struct VmType {
  std::string name;
  double mips = 0;
  double memory_mb = 0;
};

// The published CloudSim model (shared/traces/README.md), changeable field by field.
struct ModelSpec {
  int hosts = 800;
  std::vector<HostType> host_types;  // host i gets host_types[i % size] (half and half)
  std::vector<VmType> vm_types;      // contiguous blocks of the sorted trace list
};
ModelSpec CloudSimModel();

// Hosts named host-000..., VMs keep their trace names; demand = percent * type MIPS.
Result<Workload> BuildPlanetLabWorkload(const Trace& trace, const ModelSpec& spec,
                                        std::string label);

}  // namespace ballast::sim
