#pragma once

// Hard rules: matching helpers here; the checks themselves are PlanContext::CheckUnit,
// CheckSource and CheckTarget, implemented in rules.cc so every rule lives in one file.

#include <string_view>

#include "balancer/core/cluster_state.h"

namespace ballast::core {

// Shell-style glob over the whole text: `*` any run, `?` one character, nothing else special.
bool GlobMatch(std::string_view pattern, std::string_view text);

// A VM pattern matches the VM's name as a glob or its UUID exactly.
bool VmMatches(std::string_view pattern, const Vm& vm);

// Whether some text matches both globs (the same `*` and `?` as GlobMatch).
bool GlobsOverlap(std::string_view a, std::string_view b);

}  // namespace ballast::core
