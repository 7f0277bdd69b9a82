#pragma once

// A HostSample as JSON, for `ballast-collector --once --json` and for tools.

#include <nlohmann/json.hpp>

#include "common/sample.h"

namespace ballast {
nlohmann::json ToJson(const HostSample& sample);
}  // namespace ballast
