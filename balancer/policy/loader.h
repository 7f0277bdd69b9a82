#pragma once

// Reads a balancing policy (YAML, apiVersion ballast/v1) into the core's Policy: decode,
// validate everything (all errors reported at once), default what is absent.
//
// Errors come back as one InvalidArgument Status whose message has one line per problem:
//   policy.yaml:4:5: thresholds.cpu.hott: unknown key 'thresholds.cpu.hott'; did you mean 'hot'?
//   policy.yaml:9:12: detection.k: value 7 is out of range; allowed: [1, 1000] ...
// Lines and columns are 1-based. No exception escapes.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/core/policy.h"
#include "common/status.h"

namespace ballast::policy {

inline constexpr std::string_view kApiVersion = "ballast/v1";

// `source_name` names the text in error messages (usually its file path).
Result<core::Policy> LoadPolicyFromString(std::string_view text, std::string_view source_name);

// Reads and parses a file; NotFound / Unavailable if it cannot be read.
Result<core::Policy> LoadPolicyFile(const std::string& path);

// The keys the loader accepts, per section: "" is the top level; "thresholds.<resource>",
// "rules.affinity[]" (also anti_affinity) and "rules.pins[]" name the repeated shapes.
// policies/schema.json must list the same keys; a test holds the two together.
const std::map<std::string, std::vector<std::string>>& KnownKeys();

}  // namespace ballast::policy
