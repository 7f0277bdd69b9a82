#include "sim/workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ballast::sim {

Series Series::Regular(double step, std::vector<double> values) {
  Series s;
  s.values_ = std::move(values);
  s.times_.resize(s.values_.size());
  for (std::size_t i = 0; i < s.times_.size(); ++i) s.times_[i] = step * static_cast<double>(i);
  return s;
}

void Series::Add(double t, double v) {
  times_.push_back(t);
  values_.push_back(v);
}

std::size_t Series::Segment(double t) const {
  auto it = std::upper_bound(times_.begin(), times_.end(), t);
  if (it == times_.begin()) return 0;
  return static_cast<std::size_t>(it - times_.begin()) - 1;
}

double Series::At(double t) const {
  if (values_.empty()) return 0;
  if (t <= times_.front()) return values_.front();
  if (t >= times_.back()) return values_.back();
  const std::size_t i = Segment(t);
  const double t0 = times_[i];
  const double t1 = times_[i + 1];
  if (t1 <= t0) return values_[i + 1];
  return values_[i] + (values_[i + 1] - values_[i]) * (t - t0) / (t1 - t0);
}

bool Series::IdleSegment(double t) const {
  if (values_.empty()) return false;
  const std::size_t i = Segment(t);
  const std::size_t j = std::min(i + 1, values_.size() - 1);
  return values_[i] == 0 && values_[j] == 0;
}

ModelSpec CloudSimModel() {
  ModelSpec m;
  m.hosts = 800;
  m.host_types = {{"G4", 2, 1860, 4096, 1e9, &HpMl110G4()},
                  {"G5", 2, 2660, 4096, 1e9, &HpMl110G5()}};
  m.vm_types = {{"2500", 2500, 870}, {"2000", 2000, 1740}, {"1000", 1000, 1740}, {"500", 500, 613}};
  return m;
}

Result<Workload> BuildPlanetLabWorkload(const Trace& trace, const ModelSpec& spec,
                                        std::string label) {
  if (spec.hosts <= 0) return Status::InvalidArgument("the model needs at least one host");
  if (spec.host_types.empty() || spec.vm_types.empty()) {
    return Status::InvalidArgument("the model needs host and VM types");
  }
  constexpr double kMiB = 1024.0 * 1024.0;
  Workload w;
  w.label = std::move(label);
  w.cpu_unit = "MIPS";
  w.hosts.reserve(static_cast<std::size_t>(spec.hosts));
  for (int i = 0; i < spec.hosts; ++i) {
    const HostType& t = spec.host_types[static_cast<std::size_t>(i) % spec.host_types.size()];
    char name[32];
    std::snprintf(name, sizeof(name), "host-%03d", i);
    w.hosts.push_back(
        {name, t.cores * t.mips_per_core, t.memory_mb * kMiB, t.net_bps, t.power, t.name});
  }
  // CloudSim: vmType = i / ceil(n / types): contiguous blocks of the VM list.
  const std::size_t n = trace.vms.size();
  const std::size_t types = spec.vm_types.size();
  const std::size_t block = (n + types - 1) / types;
  w.vms.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const VmType& t = spec.vm_types[std::min(i / block, types - 1)];
    std::vector<double> mips;
    mips.reserve(trace.vms[i].percent.size());
    for (float p : trace.vms[i].percent) mips.push_back(p / 100.0 * t.mips);
    VmModel vm;
    vm.name = trace.vms[i].name;
    vm.cpu_capacity = t.mips;
    vm.memory_bytes = t.memory_mb * kMiB;
    vm.type = t.name;
    vm.demand = Series::Regular(trace.step_seconds, std::move(mips));
    w.vms.push_back(std::move(vm));
  }
  const std::size_t samples = trace.vms.front().percent.size();
  w.duration_seconds = trace.step_seconds * static_cast<double>(samples);
  return w;
}

}  // namespace ballast::sim
