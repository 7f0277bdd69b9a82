#include "balancer/core/strategies/registry.h"

#include <array>

namespace ballast::core {

std::span<const Strategy* const> AllStrategies() {
  static const std::array<const Strategy*, 4> kStrategies = {
      &HotspotStrategy(),
      &BalanceStrategy(),
      &DensityStrategy(),
      &DrainStrategy(),
  };
  return kStrategies;
}

const Strategy* FindStrategy(StrategyKind kind) {
  for (const Strategy* s : AllStrategies()) {
    if (s->kind() == kind) return s;
  }
  return nullptr;
}

}  // namespace ballast::core
