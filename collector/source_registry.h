#pragma once

// The one list of stats sources, chosen by the config's `source:`.

#include <memory>

#include "collector/collector_config.h"
#include "collector/stats_source.h"

namespace ballast {

Result<std::unique_ptr<StatsSource>> MakeStatsSource(const CollectorConfig& config);

}  // namespace ballast
