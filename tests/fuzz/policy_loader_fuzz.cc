// The policy loader on arbitrary text: errors are values, never crashes or hangs.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "balancer/policy/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = ballast::policy::LoadPolicyFromString(text, "fuzz.yaml");
  if (!policy.ok() && policy.status().message().empty()) std::abort();  // errors say what
  return 0;
}
