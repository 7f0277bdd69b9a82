#include "sim/energy_bound.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ballast::sim {

EnergyBound::EnergyBound(const std::vector<HostModel>& hosts) {
  for (const HostModel& h : hosts) {
    if (h.cpu_capacity <= 0) continue;
    Rate r;
    r.capacity = h.cpu_capacity;
    if (h.power != nullptr) {
      r.watts_per_unit = std::numeric_limits<double>::infinity();
      for (int i = 1; i <= 10; ++i) {
        const double u = i / 10.0;
        r.watts_per_unit = std::min(r.watts_per_unit, h.power->Watts(u) / (u * h.cpu_capacity));
      }
    }
    rates_.push_back(r);
  }
  std::stable_sort(rates_.begin(), rates_.end(), [](const Rate& a, const Rate& b) {
    return a.watts_per_unit < b.watts_per_unit;
  });
}

double EnergyBound::Watts(double demand) const {
  double left = std::max(0.0, demand);
  double watts = 0;
  for (const Rate& r : rates_) {
    if (left <= 0) break;
    const double x = std::min(left, r.capacity);
    watts += x * r.watts_per_unit;
    left -= x;
  }
  return watts;
}

double EnergyLowerBoundKwh(const Workload& w, double step_seconds, bool drop_idle) {
  if (step_seconds <= 0) return 0;
  const EnergyBound bound(w.hosts);
  std::vector<char> alive(w.vms.size(), 1);
  const long steps = std::lround(std::ceil(w.duration_seconds / step_seconds - 1e-9));
  double kwh = 0;
  for (long k = 0; k < steps; ++k) {
    const double t = static_cast<double>(k) * step_seconds;
    const double dt = std::min(step_seconds, w.duration_seconds - t);
    double demand = 0;
    for (std::size_t v = 0; v < w.vms.size(); ++v) {
      if (!alive[v]) continue;
      const VmModel& vm = w.vms[v];
      if (drop_idle && vm.demand.IdleSegment(t)) {
        alive[v] = 0;
        continue;
      }
      demand += std::clamp(vm.demand.At(t), 0.0, vm.cpu_capacity > 0 ? vm.cpu_capacity : 1e300);
    }
    kwh += bound.Watts(demand) * dt / 3600 / 1000;
  }
  return kwh;
}

}  // namespace ballast::sim
