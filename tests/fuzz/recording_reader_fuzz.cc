// The recording reader (ballast-sim whatif --recording reads files an operator copied from a
// balancer) on arbitrary bytes: never crashes, and stops in bounded steps.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/recording.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ballast::fuzz::MemFile file(data, size);
  auto reader = ballast::RecordingReader::Open(file.path());
  if (!reader.ok()) return 0;
  // Each record takes at least its header's bytes: more records than bytes means a loop.
  for (std::size_t records = 0; records <= size; ++records) {
    auto next = (*reader)->Next();
    if (!next.ok() || !next->has_value()) return 0;
  }
  std::abort();
}
