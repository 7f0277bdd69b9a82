// DecodeHostSample on arbitrary bytes: never crashes, and whatever it accepts it can encode
// again and decode to the same thing (a sample that survives Decode is a valid sample).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ballast::DecodeResult d = ballast::DecodeHostSample(bytes);
  if (!d.ok()) {
    // Every rejection has a name (a metric label).
    if (d.failure().reason >= ballast::DecodeError::kCount) std::abort();
    return 0;
  }
  // Bound to its own host name, the same message passes again.
  if (!ballast::DecodeHostSample(bytes, d.sample().host.name).ok()) std::abort();
  auto encoded = ballast::EncodeHostSample(d.sample());
  if (!encoded.ok()) std::abort();  // Decode accepted what Encode refuses
  ballast::DecodeResult again = ballast::DecodeHostSample(*encoded);
  if (!again.ok() || again.sample().vms.size() != d.sample().vms.size() ||
      again.sample().host.name != d.sample().host.name) {
    std::abort();
  }
  return 0;
}
