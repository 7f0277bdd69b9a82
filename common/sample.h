#pragma once

// One host's sample as the rest of Ballast sees it: plain values, no protobuf. The wire codec
// (wire.h) converts to and from the protobuf schema in proto/ballast.proto, whose comments
// define each field's meaning and unit.

#include <cstdint>
#include <string>
#include <vector>

namespace ballast {

enum class VmState : std::uint8_t {
  kUnknown = 0,
  kRunning,
  kBlocked,
  kPaused,
  kShutdown,
  kShutoff,
  kCrashed,
  kPmSuspended,
  kDying,
};
const char* VmStateName(VmState s);

struct HostIdentity {
  std::string name;
  std::string uuid;
  std::string libvirt_uri;
  std::string migration_address;
  std::string source;  // "libvirt" | "xenstat"
  bool operator==(const HostIdentity&) const = default;
};

struct HostCapacity {
  double cpu_cores = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t nic_bits_per_second = 0;  // 0 = unknown
  std::uint64_t cpu_hz = 0;               // 0 = unknown
  bool operator==(const HostCapacity&) const = default;
};

struct HostCounters {
  std::uint64_t cpu_busy_ns = 0;  // 0 = unknown
  std::uint64_t cpu_total_ns = 0;
  std::uint64_t memory_free_bytes = 0;
  std::uint64_t net_rx_bytes = 0;
  std::uint64_t net_tx_bytes = 0;
  bool operator==(const HostCounters&) const = default;
};

struct VmSample {
  std::string uuid;
  std::string name;
  std::uint32_t vcpus = 0;
  VmState state = VmState::kUnknown;
  std::uint64_t cpu_ns = 0;
  std::uint64_t memory_current_bytes = 0;
  std::uint64_t memory_max_bytes = 0;
  std::uint64_t net_rx_bytes = 0;
  std::uint64_t net_tx_bytes = 0;
  std::uint64_t block_rd_bytes = 0;
  std::uint64_t block_wr_bytes = 0;
  bool has_net = false;
  bool has_block = false;
  bool operator==(const VmSample&) const = default;
};

// What a stats source reads from a hypervisor in one go.
struct SourceReading {
  std::string host_uuid;  // as the hypervisor reports it; may be empty
  HostCapacity capacity;
  HostCounters counters;
  std::vector<VmSample> vms;
};

struct HostSample {
  static constexpr std::uint32_t kSchemaVersion = 1;

  std::uint32_t schema_version = kSchemaVersion;
  HostIdentity host;
  std::uint64_t boot_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t monotonic_ns = 0;
  std::int64_t wall_unix_ns = 0;
  HostCapacity capacity;
  HostCounters counters;
  std::vector<VmSample> vms;
  bool operator==(const HostSample&) const = default;
};

}  // namespace ballast
