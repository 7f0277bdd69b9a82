// CloudSim's SLA metrics (sim/sla_metrics.h) and the energy lower bound (sim/energy_bound.h),
// on events and clusters small enough to work out by hand.

#include "sim/sla_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "balancer/core/policy.h"
#include "balancer/policy/loader.h"
#include "common/log.h"
#include "sim/cluster_sim.h"
#include "sim/energy_bound.h"
#include "sim/published.h"
#include "sim/trace.h"
#include "sim/workload.h"
#include "tests/sim/test_workloads.h"

namespace ballast::sim {
namespace {

using testing::Flat;
using testing::Vm;
// Hosts of these tests name their power model "t".
HostModel Host(std::string name, double cpu, const PowerModel* power) {
  return testing::Host(std::move(name), cpu, power, "t");
}

TEST(SlaMetrics, HandComputedFromEvents) {
  SlaMetrics m(3, 2);
  // Step 1 (60 s): h0 overloaded, h1 receives a migration for 15 s, h2 is off from the start.
  m.HostStep(0, 60, true, true, 0);
  m.HostStep(1, 60, true, false, 15);
  m.HostStep(2, 60, false, false, 0);
  // v0 asks 100, its host gives half, and it migrates for 20 s: it misses
  // 100 x (1 - 0.9 x 0.5) x 20 = 1100 of its 6000. v1 gets all of its 50.
  m.VmStep(0, 60, 100, 0.5, 20);
  m.VmStep(1, 60, 50, 1.0, 0);
  // Step 2: h0 fine, h1 switched off. Step 3: h0 off too.
  m.HostStep(0, 60, true, false, 0);
  m.HostStep(1, 60, false, false, 0);
  m.HostStep(2, 60, false, false, 0);
  m.HostStep(0, 60, false, false, 0);
  m.HostStep(1, 60, false, false, 0);
  m.HostStep(2, 60, false, false, 0);
  m.MigrationEnded(10);
  m.MigrationEnded(30);
  const SlaFigures f = m.Figures(2.0);
  // Active: h0 120 s, h1 60 s. In violation: h0 60 s (overload), h1 15 s (arrival).
  EXPECT_NEAR(f.slatah, 75.0 / 180, 1e-12);
  EXPECT_NEAR(f.slatah_overload, 60.0 / 180, 1e-12);
  EXPECT_NEAR(f.slatah_paper, (60.0 / 120 + 15.0 / 60) / 2, 1e-12);
  EXPECT_NEAR(f.pdm, 1100.0 / 9000, 1e-12);
  EXPECT_NEAR(f.pdm_paper, (1100.0 / 6000 + 0) / 2, 1e-12);
  EXPECT_NEAR(f.slav, 75.0 / 180 * 1100.0 / 9000, 1e-12);
  EXPECT_NEAR(f.esv, 2.0 * f.slav, 1e-12);
  EXPECT_NEAR(f.active_host_hours, 180.0 / 3600, 1e-12);
  EXPECT_NEAR(f.violation_host_hours, 75.0 / 3600, 1e-12);
  // As in CloudSim's Helper every host starts "active": h2 off at the first step counts.
  EXPECT_EQ(f.host_shutdowns, 3);
  EXPECT_EQ(f.hosts_initially_inactive, 1);
  EXPECT_EQ(f.migrations_ended, 2);
  EXPECT_NEAR(f.mean_migration_seconds, 20, 1e-12);
}

TEST(SlaMetrics, NothingHappenedIsZeroNotNan) {
  const SlaFigures f = SlaMetrics(2, 2).Figures(1.0);
  EXPECT_EQ(f.slatah, 0);
  EXPECT_EQ(f.pdm, 0);
  EXPECT_EQ(f.esv, 0);
  EXPECT_EQ(f.mean_migration_seconds, 0);
}

TEST(SlaMetrics, AHotspotMoveThroughTheSimulator) {
  SetLogLevel(LogLevel::kError);
  // The move of cluster_sim_test's HotspotMovesWithMigrationTimeAndOverhead: a (60) leaves
  // h0 (a, b = 35) for h1 (c = 10) at t = 60 and migrates for 10 s (625 MB at 62.5 MB/s).
  Workload w;
  w.duration_seconds = 600;
  w.hosts = {Host("h0", 100, &HpMl110G4()), Host("h1", 100, &HpMl110G4())};
  w.vms = {Vm("a", 0, Flat(60)), Vm("b", 0, Flat(35)), Vm("c", 1, Flat(10))};
  core::Policy p;
  p.name = "test-hotspot";
  p.mode = core::Mode::kAutomatic;
  p.interval = std::chrono::seconds(60);
  p.thresholds = {core::Threshold{true, 0.85, 0.75}, core::Threshold{false, 0.9, 0.8},
                  core::Threshold{false, 0.9, 0.8}};
  p.detection = {1, 1, core::ForecastModel::kEwma, 1.0};
  p.strategies = {core::StrategyKind::kHotspot};
  p.limits.vm_cooldown = std::chrono::seconds(0);
  p.limits.return_cooldown = std::chrono::seconds(3600);
  ASSERT_TRUE(core::ValidatePolicy(p).empty());
  auto r = RunSimulation(w, &p, SimOptions{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->migrations, 1);
  const SlaFigures& f = r->sla;
  // Both hosts active all 600 s; h1 in violation while a arrives (10 s), nobody overloaded.
  EXPECT_NEAR(f.slatah, 10.0 / 1200, 1e-12);
  EXPECT_EQ(f.slatah_overload, 0);
  EXPECT_NEAR(f.slatah_paper, (0 + 10.0 / 600) / 2, 1e-12);
  // a misses 10 % of its 60 for 10 s = 60 of the 63,000 all three requested.
  EXPECT_NEAR(f.pdm, 60.0 / 63000, 1e-12);
  EXPECT_NEAR(f.pdm_paper, (60.0 / 36000) / 3, 1e-12);
  EXPECT_NEAR(f.slav, 10.0 / 1200 * 60.0 / 63000, 1e-15);
  // Energy as worked out in cluster_sim_test: 2056.42 W over 60-s steps.
  const double kwh = 2056.42 * 60 / 3.6e6;
  EXPECT_NEAR(r->energy_kwh, kwh, 1e-9);
  EXPECT_NEAR(f.esv, kwh * 10.0 / 1200 * 60.0 / 63000, 1e-15);
  EXPECT_EQ(f.host_shutdowns, 0);
  EXPECT_EQ(f.migrations_ended, 1);
  EXPECT_NEAR(f.mean_migration_seconds, 10, 1e-9);
}

TEST(SlaMetrics, OverloadAndShutdownThroughTheSimulator) {
  // h0 is over capacity for the whole half hour; h1's VM stops after 10 minutes (every VM
  // is kept: h1 stays on, idle, and is no longer "active"); h2 never runs anything.
  Workload w;
  w.duration_seconds = 1800;
  w.hosts = {Host("h0", 3720, &HpMl110G4()), Host("h1", 3720, &HpMl110G4()),
             Host("h2", 3720, &HpMl110G4())};
  Series stops;
  stops.Add(0, 1000);
  stops.Add(599.999, 1000);
  stops.Add(600, 0);
  w.vms = {Vm("a", 0, Flat(4000)), Vm("b", 1, stops)};
  auto r = RunSimulation(w, nullptr, SimOptions{});
  ASSERT_TRUE(r.ok());
  const SlaFigures& f = r->sla;
  // Active: h0 1800 s, all in violation; h1 the first 600 s (steps at 0, ..., 540; the
  // demand read at 600 is 0). h2 starts inactive and h1 shuts down once.
  EXPECT_NEAR(f.slatah, 1800.0 / 2400, 1e-9);
  EXPECT_NEAR(f.slatah_overload, 1800.0 / 2400, 1e-9);
  EXPECT_NEAR(f.slatah_paper, (1.0 + 0.0) / 2, 1e-9);
  EXPECT_EQ(f.pdm, 0);  // no migration
  EXPECT_EQ(f.slav, 0);
  EXPECT_EQ(f.host_shutdowns, 2);
  EXPECT_EQ(f.hosts_initially_inactive, 1);
}

// Two kinds of host: big (200 units, 50 W idle .. 80 W full: 0.4 W a unit at 100 %) and
// small (100 units, 40 .. 50 W: 0.5 W a unit).
const PowerModel& Big() {
  static const PowerModel k{"big", {50, 53, 56, 59, 62, 65, 68, 71, 74, 77, 80}};
  return k;
}
const PowerModel& Small() {
  static const PowerModel k{"small", {40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50}};
  return k;
}

TEST(EnergyBound, FillsTheMostEfficientHostsFirst) {
  const EnergyBound b(
      {Host("s0", 100, &Small()), Host("b", 200, &Big()), Host("s1", 100, &Small())});
  EXPECT_EQ(b.Watts(0), 0);
  EXPECT_NEAR(b.Watts(150), 150 * 0.4, 1e-12);           // on the big one, pro rata
  EXPECT_NEAR(b.Watts(250), 80 + 50 * 0.5, 1e-12);       // big full, half a small
  EXPECT_NEAR(b.Watts(350), 80 + 50 + 50 * 0.5, 1e-12);  // then the second small
  EXPECT_NEAR(b.Watts(1000), 80 + 50 + 50, 1e-12);       // beyond capacity: all full
}

TEST(EnergyBound, TakesEachTablesBestPointNotFullLoad) {
  // Cheapest per unit at 50 % (20 W for 50 units: 0.4), not at 100 % (100 W for 100).
  static const PowerModel odd{"odd", {10, 20, 20, 20, 20, 20, 60, 70, 80, 90, 100}};
  const EnergyBound b({Host("o", 100, &odd), Host("s", 100, &Small())});
  EXPECT_NEAR(b.Watts(100), 100 * 0.4, 1e-12);
  EXPECT_NEAR(b.Watts(150), 100 * 0.4 + 50 * 0.5, 1e-12);
}

TEST(EnergyBound, OverAWorkloadWithAndWithoutDropIdle) {
  Workload w;
  w.duration_seconds = 3600;
  w.hosts = {Host("b", 200, &Big()), Host("s", 100, &Small())};
  // a: 100 all hour. z: idle over [0, 1800), then ramps to 50 at the end.
  w.vms = {Vm("a", 0, Flat(100)), Vm("z", 1, Series::Regular(1800, {0, 0, 50}))};
  // Drop-idle: z is gone at t = 0 for good; a alone on the big host, 40 W for an hour.
  EXPECT_NEAR(EnergyLowerBoundKwh(w, 60, true), 0.040, 1e-12);
  // Kept: z adds 50 x (t - 1800) / 1800 at each step t >= 1800, all on the big host (room
  // up to 200): 0.4 W a unit x mean over the 30 steps of 50 x (k x 60) / 1800.
  double extra = 0;
  for (int k = 0; k < 30; ++k) extra += 0.4 * 50 * (k * 60.0) / 1800 * 60;
  EXPECT_NEAR(EnergyLowerBoundKwh(w, 60, false), 0.040 + extra / 3.6e6, 1e-12);
}

// The property on real data: no shipped policy, and no placement at all, uses less energy
// than the oracle (the first two hours of a shipped day, 800 hosts).
TEST(EnergyBound, NoShippedPolicyBelowItOnAShortDay) {
  SetLogLevel(LogLevel::kError);
  auto trace = ReadPlanetLabTrace(std::string(BALLAST_SIM_TRACES_DIR) + "/20110303.csv.gz");
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  auto w = BuildPlanetLabWorkload(*trace, CloudSimModel(), "20110303");
  ASSERT_TRUE(w.ok());
  w->duration_seconds = 2 * 3600;
  std::vector<std::optional<core::Policy>> policies = {std::nullopt};
  for (const char* name : {"hotspot", "balance", "density"}) {
    auto p =
        policy::LoadPolicyFile(std::string(BALLAST_SIM_POLICIES_DIR) + "/sim-" + name + ".yaml");
    ASSERT_TRUE(p.ok()) << p.status().message();
    policies.emplace_back(std::move(*p));
  }
  for (bool drop : {false, true}) {
    for (const auto& p : policies) {
      SimOptions o;
      o.keep_host_utilization = false;
      o.drop_idle_vms = drop;
      auto r = RunSimulation(*w, p ? &*p : nullptr, o);
      ASSERT_TRUE(r.ok());
      EXPECT_GT(r->energy_bound_kwh, 0);
      EXPECT_GE(r->energy_kwh, r->energy_bound_kwh)
          << r->policy << (drop ? " drop-idle" : "") << ": " << r->energy_kwh << " kWh";
      std::cout << r->policy << (drop ? " drop-idle" : "") << ": " << r->energy_kwh
                << " kWh, bound " << r->energy_bound_kwh << " (x" << r->energy_bound_ratio()
                << "), SLATAH " << r->sla.slatah << ", PDM " << r->sla.pdm << "\n";
    }
  }
}

// The published table is data typed in by hand: each row's SLAV must be its SLATAH x PDM
// up to the rounding of the printed figures (PDM has one significant digit in CloudSim's
// rows: up to 8 %), and its VM count the trace's (shared/traces/README.md).
TEST(Published, RowsAreConsistent) {
  const std::map<std::string, int> vms = {
      {"20110303", 1052}, {"20110306", 898}, {"20110309", 1061}};
  ASSERT_EQ(PublishedRuns().size(), 7u);
  for (const PublishedRun& r : PublishedRuns()) {
    SCOPED_TRACE(r.day + " " + r.policy);
    EXPECT_NEAR(r.slatah * r.pdm / r.slav, 1.0, 0.10);
    EXPECT_EQ(r.hosts, 800);
    EXPECT_EQ(r.vms, vms.at(r.day));
    EXPECT_GT(r.energy_kwh, 0);
    EXPECT_GT(r.migrations, 0);
  }
  EXPECT_EQ(PublishedFor("20110303").size(), 3u);
  EXPECT_EQ(PublishedFor("20110322").size(), 0u);
  ASSERT_NE(FindPublished("20110309", "THR-MMT-0.8"), nullptr);
  EXPECT_EQ(FindPublished("20110309", "THR-MMT-0.8")->overload_host_hours, 1.05);
  EXPECT_EQ(FindPublished("20110303", "LR-MMT-1.2")->migrations, 27859);
  EXPECT_EQ(FindPublished("20110306", "AFED-EF"), nullptr);
}

}  // namespace
}  // namespace ballast::sim
