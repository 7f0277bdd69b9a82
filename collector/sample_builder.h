#pragma once

// Turns a source's reading into the HostSample a collector publishes: identity from the
// config, capacity overrides applied, sequence and timestamps stamped.

#include <cstdint>

#include "collector/collector_config.h"
#include "common/sample.h"

namespace ballast {

struct SampleStamp {
  std::uint64_t boot_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t monotonic_ns = 0;
  std::int64_t wall_unix_ns = 0;
};

HostSample BuildHostSample(const CollectorConfig& config, const std::string& source_name,
                           SourceReading reading, const SampleStamp& stamp);

}  // namespace ballast
