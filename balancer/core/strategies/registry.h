#pragma once

// The one explicit list of strategies (no static self-registration: nothing to force-link).

#include <span>

#include "balancer/core/strategies/strategy.h"

namespace ballast::core {

// Every strategy the core knows, one per StrategyKind.
std::span<const Strategy* const> AllStrategies();

// The strategy for `kind`; never null for a valid kind.
const Strategy* FindStrategy(StrategyKind kind);

// Factories, one per strategy file.
const Strategy& HotspotStrategy();
const Strategy& BalanceStrategy();
const Strategy& DensityStrategy();
const Strategy& DrainStrategy();

}  // namespace ballast::core
