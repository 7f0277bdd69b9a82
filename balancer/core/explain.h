#pragma once

// Explanation text: one human sentence per planned move and per unrelieved hotspot or
// drain, built only from the structured reason, so the two can never disagree. Also a
// stable text rendering of a whole plan for logs, the CLI and golden tests.

#include <string>
#include <string_view>

#include "balancer/core/plan.h"

namespace ballast::core {

std::string ExplainMove(const Move& move);
std::string ExplainUnrelieved(const Unrelieved& unrelieved);

// A short phrase for one blocker, e.g. "in cooldown after a recent move".
std::string_view BlockerPhrase(Blocker b);

// Every move and unrelieved entry, structured fields then the sentence; stable across runs.
std::string FormatPlan(const Plan& plan);

}  // namespace ballast::core
