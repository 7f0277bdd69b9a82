// The control endpoint's request decoding (the role check runs it on every viewer request
// before the balancer sees it): never crashes; a request it calls read-only really is one of
// the read-only verbs.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "common/control_channel.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  auto info = ballast::DecodeControlRequest(payload);
  if (!info.ok()) return 0;
  static const std::set<std::string> kReadOnly = {"status", "plan", "explain", "history",
                                                  "policy diff"};
  if (!info->mutating && kReadOnly.count(info->verb) == 0) std::abort();
  if (info->mutating && kReadOnly.count(info->verb) != 0) std::abort();
  return 0;
}
