#pragma once

// The wire codec: HostSample <-> bytes (protobuf, common/proto/ballast.proto).
// Decoding never trusts the wire: it bounds the size first, lets protobuf parse within the
// buffer, then checks every field for sense. A rejected message gets a named reason, which the
// caller counts (DecodeStats) and logs.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/sample.h"
#include "common/status.h"

namespace ballast {

// Limits. Every string field is bounded, so the largest valid sample has a size, and the
// transport's message limit (ZMQ_MAXMSGSIZE) follows from it instead of being a guess.
inline constexpr std::size_t kMaxVms = 4096;
inline constexpr std::size_t kMaxNameBytes = 255;     // host and VM names
inline constexpr std::size_t kMaxUuidBytes = 64;      // host and VM UUIDs
inline constexpr std::size_t kMaxUriBytes = 1024;     // host.libvirt_uri
inline constexpr std::size_t kMaxAddressBytes = 255;  // host.migration_address
inline constexpr std::size_t kMaxSourceBytes = 32;    // host.source
inline constexpr double kMaxCpuCores = 65536;
// Encoded VmSample at its largest: uuid (1 tag + 1 length + 64) + name (1 + 2 + 255) + vcpus
// (1 + 2) + state (1 + 10: an enum may be negative) + 7 uint64 counters (1 + 10 each) + two
// bools (1 + 1 each) = 419, plus its own tag and length (1 + 2): 422. Rounded up to 512 so a
// field added later does not shrink the headroom to nothing.
inline constexpr std::size_t kMaxVmWireBytes = 512;
// Everything but the VMs: the five host strings (~1.7 KiB at their limits), capacity,
// counters, version, ids; 8 KiB leaves room.
inline constexpr std::size_t kMaxHostWireBytes = 8 * 1024;
// 2 MiB + 8 KiB. A bigger message cannot be a valid sample and is dropped by the transport
// before it is buffered; it also bounds one connection's queue (transport.h).
inline constexpr std::size_t kMaxMessageBytes = kMaxVms * kMaxVmWireBytes + kMaxHostWireBytes;

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
  kInvalidUtf8,  // a string field that is not UTF-8 (protobuf refuses it)
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
// The same into `out`, reusing its strings' and VM list's storage: a receiving loop that keeps
// one HostSample allocates nothing per message once warm. nullopt when the sample is good;
// on failure `out` holds whatever was decoded so far.
std::optional<DecodeFailure> DecodeHostSampleInto(std::string_view bytes, std::string_view topic,
                                                  HostSample& out);

// Counts rejected messages by reason. Not thread-safe; owned by the receiving loop.
struct DecodeStats {
  std::uint64_t accepted = 0;
  std::array<std::uint64_t, kDecodeErrorCount> rejected{};
  void Count(const DecodeResult& r) { Count(r.ok() ? nullptr : &r.failure()); }
  void Count(const DecodeFailure* failure) {  // nullptr: accepted
    if (failure == nullptr) {
      ++accepted;
    } else {
      ++rejected[static_cast<std::size_t>(failure->reason)];
    }
  }
  std::uint64_t TotalRejected() const {
    std::uint64_t n = 0;
    for (auto v : rejected) n += v;
    return n;
  }
};

// Routes libprotobuf's own log lines (it prints to stderr by default, e.g. one ERROR line per
// string field with invalid UTF-8) into Ballast's log, and swallows the per-message ones a
// remote peer can trigger: those become DecodeError::kInvalidUtf8, which the receiver counts
// and rate-limits per sender. Idempotent, thread-safe; DecodeHostSample calls it itself.
void InstallProtobufLogHandler();

// Host names double as ZeroMQ topics: 1..kMaxNameBytes of [A-Za-z0-9._-].
bool IsValidHostName(std::string_view name);
// VM names come from the hypervisor: 1..kMaxNameBytes, no control characters.
bool IsValidVmName(std::string_view name);

}  // namespace ballast
