// The journal reader (ballastctl history, restart reconciliation) on arbitrary bytes: never
// crashes, skips what does not parse, returns only JSON values.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "balancer/journal/journal.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ballast::fuzz::MemFile file(data, size);
  std::uint64_t skipped = 0;
  const auto records = ballast::Journal::ReadAll(file.path(), &skipped);
  // One record or skipped line per line at most.
  std::size_t lines = 1;
  for (std::size_t i = 0; i < size; ++i) lines += data[i] == '\n';
  if (records.size() + skipped > lines) std::abort();
  return 0;
}
