// ballast-collector's config loader on arbitrary YAML: errors are values, never crashes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "collector/collector_config.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ballast::fuzz::MemFile file(data, size);
  auto config = ballast::LoadCollectorConfig(file.path());
  if (!config.ok() && config.status().message().empty()) std::abort();
  return 0;
}
