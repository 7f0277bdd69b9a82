#pragma once

// CloudSim's SLA metrics (Beloglazov & Buyya, CCPE 2012), computed as CloudSim 3.0.3's
// examples `Helper.printResults` computes the figures it prints, from the simulator's
// per-step events (the simulator tells what each host and VM did over each step; this file
// only accumulates). sim/README.md, "CloudSim's SLA metrics", says where the simulator's
// model differs from CloudSim's.
//
//   SLATAH  time the active hosts spent in SLA violation over the time they were active,
//           pooled over hosts (Helper: sum of violation time / sum of active time). A host is
//           active while it runs demand (CloudSim: allocated MIPS > 0); it is in violation
//           while its demand exceeds its capacity, and, as CloudSim accounts it, while a
//           migration of a VM that demands CPU arrives on it (the target gets 10 % of the
//           VM's MIPS while the VM's whole request counts on it).
//   PDM     CPU a VM did not get while it migrated (10 % of its demand, more when its host
//           is overloaded) over the CPU all VMs requested, pooled over VMs (Helper).
//   SLAV    SLATAH x PDM.     ESV  energy (kWh) x SLAV.
//   host shutdowns   transitions of a host from active to inactive; as in Helper, every
//                    host starts "active", so a host inactive at the first step counts one.
//   mean migration   seconds a VM spends in migration, over every migration that ended
//                    (Helper prints it as "mean time before a VM migration").
//
// The paper's own definitions are means over hosts (SLATAH = 1/N sum T_s/T_a) and over VMs
// (PDM = 1/M sum C_d/C_r); they are kept too (`*_paper`), as are SLATAH without the
// arrival rule (overload only).

#include <cstddef>
#include <vector>

namespace ballast::sim {

struct SlaFigures {
  double slatah = 0;           // fraction, Helper's definition (pooled)
  double pdm = 0;              // fraction, Helper's definition (pooled)
  double slav = 0;             // slatah * pdm
  double esv = 0;              // energy_kwh * slav
  double slatah_overload = 0;  // pooled, demand above capacity only
  double slatah_paper = 0;     // mean over hosts that were ever active of T_s / T_a
  double pdm_paper = 0;        // mean over VMs that requested CPU of C_d / C_r
  double active_host_hours = 0;
  double violation_host_hours = 0;
  long host_shutdowns = 0;            // Helper's count (hosts start "active")
  long hosts_initially_inactive = 0;  // the part of host_shutdowns at the first step
  long migrations_ended = 0;
  double mean_migration_seconds = 0;
};

class SlaMetrics {
 public:
  SlaMetrics(std::size_t hosts, std::size_t vms);

  // Host `h` over one step of `dt` seconds. `active`: on and running demand.
  // `overloaded`: its demand (with migration overhead) exceeds its capacity all step.
  // `arriving_seconds`: how much of the step a migration of a VM with demand was arriving.
  // Every host, on or off, is reported every step (an off host is inactive).
  void HostStep(std::size_t h, double dt, bool active, bool overloaded, double arriving_seconds);

  // VM `v` (alive) over one step of `dt` seconds: it requested `requested` CPU (MIPS or
  // cores) and got the share `allocated` (<= 1) of it from its host; for `migrating_seconds`
  // of the step it was migrating off that host, and got 90 % of that share meanwhile.
  void VmStep(std::size_t v, double dt, double requested, double allocated,
              double migrating_seconds);

  // A migration ended (succeeded, failed or aborted) after `seconds` in migration.
  void MigrationEnded(double seconds);

  SlaFigures Figures(double energy_kwh) const;

 private:
  struct Host {
    double active = 0;  // seconds
    double violation = 0;
    double overload = 0;
    bool was_active = true;  // Helper's starting state
    bool reported = false;
  };
  struct Vm {
    double requested = 0;  // CPU x seconds
    double degraded = 0;
  };
  std::vector<Host> hosts_;
  std::vector<Vm> vms_;
  long shutdowns_ = 0;
  long initially_inactive_ = 0;
  long migrations_ = 0;
  double migration_seconds_ = 0;
};

}  // namespace ballast::sim
