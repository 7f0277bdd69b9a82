#include "balancer/core/strategies/strategy.h"

#include <array>
#include <utility>

#include "balancer/core/explain.h"

namespace ballast::core {

TargetChoice FindRoomiestTarget(const PlanContext& ctx, const Unit& unit, const Resources& limit,
                                bool check_caps) {
  constexpr std::size_t kNumBlockers = static_cast<std::size_t>(Blocker::kInsufficientGain) + 1;
  std::array<int, kNumBlockers> counts{};
  int scanned = 0;
  for (const auto& [volume, h] : ctx.targets_by_volume()) {
    if (scanned++ >= kTargetScanBudget) break;
    Blocker b = ctx.CheckTarget(unit, h, limit, check_caps);
    if (b == Blocker::kNone) return {h, Blocker::kNone};
    if (b != Blocker::kNoTarget) ++counts[static_cast<std::size_t>(b)];  // kNoTarget: own host
  }
  TargetChoice none;
  int best = 0;
  for (std::size_t i = 0; i < kNumBlockers; ++i) {
    if (counts[i] > best) {
      best = counts[i];
      none.blocker = static_cast<Blocker>(i);
    }
  }
  return none;
}

void AddUnrelieved(PlanContext& ctx, Unrelieved u) {
  int best = 0;
  for (const auto& [b, n] : u.blockers) {
    if (n > best) {
      best = n;
      u.main_blocker = b;
    }
  }
  u.explanation = ExplainUnrelieved(u);
  ctx.unrelieved().push_back(std::move(u));
}

}  // namespace ballast::core
