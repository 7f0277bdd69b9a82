#pragma once

// The wire codec: HostSample <-> bytes (protobuf, common/proto/ballast.proto).
// Decoding never trusts the wire: it bounds the size first, lets protobuf parse within the
// buffer, then checks every field for sense. A rejected message gets a named reason, which the
// caller counts (DecodeStats) and logs.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/sample.h"
#include "common/status.h"

namespace ballast {

// Limits: a host with kMaxVms guests of long names still fits well under kMaxMessageBytes.
inline constexpr std::size_t kMaxMessageBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxVms = 4096;
inline constexpr std::size_t kMaxNameBytes = 255;
inline constexpr double kMaxCpuCores = 65536;

enum class DecodeError : std::uint8_t {
  kEmpty = 0,
  kOversized,
  kMalformed,    // not a parseable protobuf message (truncated or garbage)
  kBadVersion,   // schema_version unknown to this receiver
  kBadHost,      // host name missing/invalid, or topic != host name
  kBadCapacity,  // no CPU or memory capacity, or absurd values
  kBadSequence,  // boot_id or sequence zero
  kTooManyVms,
  kBadVm,        // VM without UUID or name, invalid name, absurd memory/vCPUs
  kDuplicateVm,  // the same VM UUID twice in one sample
  kCount,        // number of reasons; keep last
};
inline constexpr std::size_t kDecodeErrorCount = static_cast<std::size_t>(DecodeError::kCount);
const char* DecodeErrorName(DecodeError e);  // "oversized", "malformed", ... (metric labels)

// Encodes a sample. Fails only on values Decode would reject (so a collector never publishes
// what the balancer would throw away).
Result<std::string> EncodeHostSample(const HostSample& sample);

struct DecodeFailure {
  DecodeError reason;
  std::string detail;  // human text naming the field, e.g. "vms[3].uuid: empty"
};

// Decodes and validates. `topic` is the ZeroMQ topic the message came on; when non-empty it
// must equal the host name (a collector cannot publish for another host's topic).
class DecodeResult {
 public:
  explicit DecodeResult(HostSample s) : ok_(true), sample_(std::move(s)) {}
  explicit DecodeResult(DecodeFailure f) : ok_(false), failure_(std::move(f)) {}
  bool ok() const { return ok_; }
  const HostSample& sample() const { return sample_; }
  HostSample& sample() { return sample_; }
  const DecodeFailure& failure() const { return failure_; }

 private:
  bool ok_;
  HostSample sample_;
  DecodeFailure failure_{DecodeError::kEmpty, {}};
};
DecodeResult DecodeHostSample(std::span<const std::byte> bytes, std::string_view topic = {});
DecodeResult DecodeHostSample(std::string_view bytes, std::string_view topic = {});

// Counts rejected messages by reason. Not thread-safe; owned by the receiving loop.
struct DecodeStats {
  std::uint64_t accepted = 0;
  std::array<std::uint64_t, kDecodeErrorCount> rejected{};
  void Count(const DecodeResult& r) {
    if (r.ok()) {
      ++accepted;
    } else {
      ++rejected[static_cast<std::size_t>(r.failure().reason)];
    }
  }
  std::uint64_t TotalRejected() const {
    std::uint64_t n = 0;
    for (auto v : rejected) n += v;
    return n;
  }
};

// Host names double as ZeroMQ topics: 1..kMaxNameBytes of [A-Za-z0-9._-].
bool IsValidHostName(std::string_view name);
// VM names come from the hypervisor: 1..kMaxNameBytes, no control characters.
bool IsValidVmName(std::string_view name);

}  // namespace ballast
