// The fault-injection day (issue 13): the simulator drives the balancer's controller through
// a full shipped PlanetLab day on the 800-host model while migrations fail part-way or time
// out, hosts go silent and come back, hypervisor questions fail or hang, the journal cannot
// be written for minutes, an admin pauses and drains, and the controller is restarted from
// its journal mid-day. After every step and at every start the simulator checks the
// controller's promises (sim/cluster_sim.h FaultReport). A failure prints the seed and step;
// BALLAST_FAULT_SEED=N replays one seed.

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "balancer/policy/loader.h"
#include "common/log.h"
#include "sim/cluster_sim.h"
#include "sim/trace.h"
#include "sim/workload.h"

namespace ballast::sim {
namespace {

std::uint64_t Seed() {
  const char* s = std::getenv("BALLAST_FAULT_SEED");
  return s != nullptr ? std::strtoull(s, nullptr, 10) : 20110303;
}

TEST(FaultDay, TheControllerKeepsItsPromisesThroughADayOfFaults) {
  SetLogLevel(LogLevel::kError);  // thousands of moves and situations, as the daemon logs
  auto trace = ReadPlanetLabTrace(std::string(BALLAST_SIM_TRACES_DIR) + "/20110303.csv.gz");
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  auto w = BuildPlanetLabWorkload(*trace, CloudSimModel(), "20110303");
  ASSERT_TRUE(w.ok()) << w.status().message();
  auto policy = policy::LoadPolicyFile(std::string(BALLAST_SIM_POLICIES_DIR) + "/sim-density.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  SimOptions o;
  o.keep_host_utilization = false;
  o.seed = Seed();
  o.faults.enabled = true;
  auto r = RunSimulation(*w, &*policy, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const FaultReport& f = r->faults;
  std::cout << "fault day, seed " << o.seed << ": " << r->migrations << " migrations started, "
            << f.starts_checked << " starts and " << f.steps_checked << " steps checked\n"
            << "  injected: " << f.migration_failures << " migrations broken part-way, "
            << f.migration_timeouts << " timed out, " << f.host_silences << " host silences, "
            << f.query_errors << " hypervisor errors, " << f.query_hangs << " hung questions, "
            << f.journal_outages << " journal outages (" << f.journal_failed_writes
            << " failed writes), " << f.restarts << " restarts, " << f.pauses << " pauses, "
            << f.drains << " drains, " << f.libvirt_outages << " libvirt outages\n"
            << "  longest time without a plan: " << f.max_plan_gap_seconds << " s; "
            << f.violation_count << " violations\n";
  for (const std::string& v : f.violations) std::cout << "  VIOLATION " << v << "\n";
  EXPECT_EQ(f.violation_count, 0) << "replay with BALLAST_FAULT_SEED=" << o.seed;
  // Every kind of fault happened (a day without faults proves nothing).
  EXPECT_GT(r->migrations, 100);
  EXPECT_GT(f.migration_failures, 0);
  EXPECT_GT(f.migration_timeouts, 0);
  EXPECT_GT(f.host_silences, 0);
  EXPECT_GT(f.query_errors, 0);
  EXPECT_GT(f.query_hangs, 0);
  EXPECT_GT(f.journal_failed_writes, 0);
  EXPECT_EQ(f.restarts, o.faults.restarts);
  EXPECT_EQ(f.pauses, o.faults.pauses);
  EXPECT_EQ(f.drains, o.faults.drains);
  EXPECT_GE(f.libvirt_outages, o.faults.libvirt_outages);
}

}  // namespace
}  // namespace ballast::sim
