#include "balancer/core/plan_context.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <utility>

#include "tests/balancer/core/test_cluster.h"

namespace ballast::core {
namespace {

using testing::ClusterBuilder;
using testing::T0;

std::set<std::pair<double, int>> Expected(const PlanContext& ctx, bool by_volume) {
  std::set<std::pair<double, int>> out;
  for (std::size_t i = 0; i < ctx.hosts().size(); ++i) {
    const int h = static_cast<int>(i);
    if (ctx.IsTargetEligible(h)) out.emplace(by_volume ? ctx.Volume(h) : ctx.Load(h), h);
  }
  return out;
}

// The target indexes after any run of moves and rollbacks hold exactly (key, host) for every
// eligible host, as if rebuilt from scratch. The load index catches up only when read, in
// place after a few moves and by a rebuild after many: runs of 1 to 40 moves between reads
// of a 100-host cluster take both ways.
TEST(PlanContextTest, TargetIndexesFollowEveryMoveAndRollback) {
  ClusterBuilder b;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> cores(0.1, 3.0);
  for (int h = 0; h < 100; ++h) {
    const std::string host = "h" + std::to_string(h);
    b.Host(host);
    for (int v = 0; v < 4; ++v) b.Vm(host + "-v" + std::to_string(v), host, cores(rng));
  }
  b.Stale("h7").Maintenance("h8");
  const ClusterState state = b.Build();
  Policy policy;
  policy.limits.max_moves_per_round = 1'000'000;
  PlanContext ctx(state, policy, T0());
  std::vector<int> eligible;
  for (std::size_t i = 0; i < ctx.hosts().size(); ++i) {
    if (ctx.IsTargetEligible(static_cast<int>(i))) eligible.push_back(static_cast<int>(i));
  }
  std::uniform_int_distribution<int> any_vm(0, static_cast<int>(ctx.vms().size()) - 1);
  std::uniform_int_distribution<std::size_t> any_target(0, eligible.size() - 1);
  std::uniform_int_distribution<int> run(1, 40);
  int short_runs = 0;  // at most 4 hosts changed: caught up in place
  int long_runs = 0;   // nearly always more than 6 hosts changed: rebuilt
  for (int round = 0; round < 60; ++round) {
    const std::size_t checkpoint = ctx.Checkpoint();
    const int moves = run(rng);
    for (int m = 0; m < moves; ++m) {
      const int v = any_vm(rng);
      const int to = eligible[any_target(rng)];
      if (ctx.vm(v).host == to || ctx.vm(v).host < 0) continue;
      ctx.MoveUnit(ctx.UnitOf(v), to);
    }
    if (moves <= 2) ++short_runs;
    if (moves >= 10) ++long_runs;
    ASSERT_EQ(ctx.targets_by_load(), Expected(ctx, false)) << "after round " << round;
    ASSERT_EQ(ctx.targets_by_volume(), Expected(ctx, true)) << "after round " << round;
    if (round % 3 == 0) {
      ctx.RollbackTo(checkpoint);
      ASSERT_EQ(ctx.targets_by_load(), Expected(ctx, false)) << "rolled back, round " << round;
      ASSERT_EQ(ctx.targets_by_volume(), Expected(ctx, true)) << "rolled back, round " << round;
    }
  }
  EXPECT_GT(short_runs, 2);
  EXPECT_GT(long_runs, 10);
}

}  // namespace
}  // namespace ballast::core
