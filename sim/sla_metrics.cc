#include "sim/sla_metrics.h"

#include <algorithm>

namespace ballast::sim {

namespace {
// CloudSim: a VM in migration gets 90 % of what its host would give it.
constexpr double kMigrationShare = 0.9;
}  // namespace

SlaMetrics::SlaMetrics(std::size_t hosts, std::size_t vms) : hosts_(hosts), vms_(vms) {}

void SlaMetrics::HostStep(std::size_t h, double dt, bool active, bool overloaded,
                          double arriving_seconds) {
  Host& s = hosts_[h];
  if (!s.reported) {
    s.reported = true;
    if (!active) ++initially_inactive_;
  }
  if (s.was_active && !active) ++shutdowns_;
  s.was_active = active;
  if (!active || dt <= 0) return;
  s.active += dt;
  if (overloaded) {
    s.overload += dt;
    s.violation += dt;
  } else {
    s.violation += std::clamp(arriving_seconds, 0.0, dt);
  }
}

void SlaMetrics::VmStep(std::size_t v, double dt, double requested, double allocated,
                        double migrating_seconds) {
  if (dt <= 0 || requested <= 0) return;
  Vm& s = vms_[v];
  s.requested += requested * dt;
  const double m = std::clamp(migrating_seconds, 0.0, dt);
  const double share = std::clamp(allocated, 0.0, 1.0);
  s.degraded += requested * (1 - kMigrationShare * share) * m;
}

void SlaMetrics::MigrationEnded(double seconds) {
  ++migrations_;
  migration_seconds_ += std::max(0.0, seconds);
}

SlaFigures SlaMetrics::Figures(double energy_kwh) const {
  SlaFigures f;
  double active = 0;
  double violation = 0;
  double overload = 0;
  double host_share_sum = 0;
  long hosts_active = 0;
  for (const Host& h : hosts_) {
    active += h.active;
    violation += h.violation;
    overload += h.overload;
    if (h.active > 0) {
      host_share_sum += h.violation / h.active;
      ++hosts_active;
    }
  }
  double requested = 0;
  double degraded = 0;
  double vm_share_sum = 0;
  long vms_requesting = 0;
  for (const Vm& v : vms_) {
    requested += v.requested;
    degraded += v.degraded;
    if (v.requested > 0) {
      vm_share_sum += v.degraded / v.requested;
      ++vms_requesting;
    }
  }
  f.slatah = active > 0 ? violation / active : 0;
  f.slatah_overload = active > 0 ? overload / active : 0;
  f.slatah_paper = hosts_active > 0 ? host_share_sum / static_cast<double>(hosts_active) : 0;
  f.pdm = requested > 0 ? degraded / requested : 0;
  f.pdm_paper = vms_requesting > 0 ? vm_share_sum / static_cast<double>(vms_requesting) : 0;
  f.slav = f.slatah * f.pdm;
  f.esv = energy_kwh * f.slav;
  f.active_host_hours = active / 3600;
  f.violation_host_hours = violation / 3600;
  f.host_shutdowns = shutdowns_;
  f.hosts_initially_inactive = initially_inactive_;
  f.migrations_ended = migrations_;
  f.mean_migration_seconds =
      migrations_ > 0 ? migration_seconds_ / static_cast<double>(migrations_) : 0;
  return f;
}

}  // namespace ballast::sim
