// Ping-pong: two hosts hovering around the hot mark for many rounds. The planner runs
// every 2 s on fresh samples, moves complete at once, and no VM goes back to a host it
// left: hysteresis keeps a relieved pair calm even without cooldowns, and the return
// cooldown stops load that genuinely alternates from dragging VMs to and fro.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>

#include "balancer/core/planner.h"
#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::T0;

struct Outcome {
  int moves = 0;
  int returns = 0;        // a VM moved back onto a host it had left
  int early_returns = 0;  // ... sooner than limits.return_cooldown after leaving it
};

// left starts with `left_cores` of 16 cores in use, right with `right_cores`. Each VM's
// load swings by `amplitude` over `period` (left's VMs and right's in opposite phase) and
// carries multiplicative noise, sampled every 2 s.
Outcome Simulate(const Policy& policy, int rounds, double left_cores, double right_cores,
                 double amplitude, std::chrono::seconds period) {
  ClusterBuilder b;
  b.Host("left").Host("right");
  for (int i = 0; i < 4; ++i) b.Vm("l" + std::to_string(i), "left", left_cores / 4);
  for (int i = 0; i < 4; ++i) b.Vm("r" + std::to_string(i), "right", right_cores / 4);
  ClusterState state = b.Build(0);
  std::map<std::string, double> base;
  std::map<std::string, double> phase;
  for (const Vm& v : state.vms) {
    base[v.uuid] = v.cpu_used;
    phase[v.uuid] = v.host == "left" ? 0.0 : 3.14159265358979;
  }
  std::mt19937 rng(42);  // test-only noise; the planner itself is deterministic
  std::normal_distribution<double> noise(1.0, 0.06);
  std::map<std::string, std::map<std::string, TimePoint>> left_at;  // vm -> host -> when
  Outcome out;
  TimePoint now = T0();
  for (int round = 0; round < rounds; ++round) {
    const double t = std::chrono::duration<double>(now - T0()).count();
    for (Vm& v : state.vms) {
      const double swing = 1.0 + amplitude * std::sin(2 * 3.14159265358979 * t /
                                                          static_cast<double>(period.count()) +
                                                      phase[v.uuid]);
      v.cpu_used = base[v.uuid] * swing * noise(rng);
    }
    for (Host& h : state.hosts) {
      h.used = {};
      for (const Vm& v : state.vms) {
        if (v.host != h.name) continue;
        for (Resource r : kAllResources) h.used[r] += v.usage()[r];
      }
      auto& hist = h.history[0];
      hist.push_back(h.used.cpu / h.capacity.cpu);
      if (hist.size() > 5) hist.erase(hist.begin());
      h.history[1].assign(hist.size(), h.used.memory / h.capacity.memory);
      h.history[2].assign(hist.size(), 0.0);
    }
    Plan plan = MakePlan(state, policy, now);
    for (const Move& m : plan.moves) {
      ++out.moves;
      auto it = left_at[m.vm_uuid].find(m.to);
      if (it != left_at[m.vm_uuid].end()) {
        ++out.returns;
        if (now - it->second < policy.limits.return_cooldown) ++out.early_returns;
      }
      left_at[m.vm_uuid][m.from] = now;
      for (Vm& v : state.vms) {
        if (v.uuid == m.vm_uuid) v.host = m.to;
      }
      state.recent_migrations.push_back({m.vm_uuid, m.from, m.to, now});
    }
    now += std::chrono::seconds(2);
  }
  return out;
}

TEST(PingPongTest, HoveringHostIsRelievedOnceAndStaysRelieved) {
  // left hovers around 87 % (noise only), right idles at 31 %: one move relieves left, and
  // hysteresis (targets stay under the relieved mark) keeps both hosts from turning hot,
  // even with every cooldown switched off.
  Policy p = testing::TestPolicy();
  p.limits.vm_cooldown = std::chrono::seconds(0);
  p.limits.return_cooldown = std::chrono::seconds(0);
  Outcome out = Simulate(p, 600, 13.9, 5.0, 0.0, std::chrono::seconds(300));
  EXPECT_GE(out.moves, 1);  // the hotspot is relieved ...
  EXPECT_LE(out.moves, 2);  // ... and stays relieved
  EXPECT_EQ(out.returns, 0);
}

TEST(PingPongTest, AlternatingHotspotsMakeNoBackAndForthMove) {
  // Both hosts at 62.5 % on average, swinging +-40 % in opposite phase every 5 minutes:
  // each host peaks near 87 % in turn, for 20 minutes of rounds. No VM may go back to a
  // host it left.
  Policy p = testing::TestPolicy();
  Outcome out = Simulate(p, 600, 10.0, 10.0, 0.4, std::chrono::seconds(300));
  EXPECT_GE(out.moves, 1);
  EXPECT_LE(out.moves, 8);
  EXPECT_EQ(out.early_returns, 0);
  EXPECT_EQ(out.returns, 0);  // 20 minutes < the 30-minute return cooldown
}

}  // namespace
}  // namespace ballast::core
