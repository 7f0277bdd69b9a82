#include "common/wire.h"

#include <google/protobuf/stubs/logging.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "common/proto/ballast.pb.h"

namespace ballast {
namespace {

// A VM claiming more memory than this is nonsense (and would overflow sums).
constexpr std::uint64_t kMaxMemoryBytes = std::uint64_t{1} << 52;  // 4 PiB
constexpr std::uint32_t kMaxVcpus = 4096;

wire::VmState ToWire(VmState s) {
  switch (s) {
    case VmState::kUnknown:
      return wire::VM_STATE_UNKNOWN;
    case VmState::kRunning:
      return wire::VM_STATE_RUNNING;
    case VmState::kBlocked:
      return wire::VM_STATE_BLOCKED;
    case VmState::kPaused:
      return wire::VM_STATE_PAUSED;
    case VmState::kShutdown:
      return wire::VM_STATE_SHUTDOWN;
    case VmState::kShutoff:
      return wire::VM_STATE_SHUTOFF;
    case VmState::kCrashed:
      return wire::VM_STATE_CRASHED;
    case VmState::kPmSuspended:
      return wire::VM_STATE_PMSUSPENDED;
    case VmState::kDying:
      return wire::VM_STATE_DYING;
  }
  return wire::VM_STATE_UNKNOWN;
}

VmState FromWire(int s) {
  switch (s) {
    case wire::VM_STATE_RUNNING:
      return VmState::kRunning;
    case wire::VM_STATE_BLOCKED:
      return VmState::kBlocked;
    case wire::VM_STATE_PAUSED:
      return VmState::kPaused;
    case wire::VM_STATE_SHUTDOWN:
      return VmState::kShutdown;
    case wire::VM_STATE_SHUTOFF:
      return VmState::kShutoff;
    case wire::VM_STATE_CRASHED:
      return VmState::kCrashed;
    case wire::VM_STATE_PMSUSPENDED:
      return VmState::kPmSuspended;
    case wire::VM_STATE_DYING:
      return VmState::kDying;
    default:
      return VmState::kUnknown;  // a newer collector's state: not fatal
  }
}

// Set by the protobuf log handler when the parse running on this thread met a string field
// with invalid UTF-8; holds protobuf's own sentence (it names the field).
thread_local std::optional<std::string> t_invalid_utf8;

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  // The one a peer can trigger per message: no line here; the decoder returns kInvalidUtf8
  // and the receiver counts it and logs it rate-limited per sender.
  if (message.find("invalid UTF-8") != std::string::npos) {
    t_invalid_utf8 = message.substr(0, 200);
    return;
  }
  // Anything else protobuf says is rare and about us, not the peer; still bounded (10 s per
  // source line), since we cannot prove no peer can provoke it.
  static std::mutex mu;
  static LogLimiter limiter(std::chrono::seconds(10));
  const std::string where =
      std::string(filename != nullptr ? filename : "?") + ":" + std::to_string(line);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!limiter.ShouldLog(where, std::chrono::steady_clock::now())) return;
  }
  const std::string text = "libprotobuf (" + where + "): " + message.substr(0, 500);
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      BLOG(kInfo) << text;
      break;
    case google::protobuf::LOGLEVEL_WARNING:
      BLOG(kWarning) << text;
      break;
    default:  // ERROR, FATAL (protobuf aborts after a FATAL itself)
      BLOG(kError) << text;
      break;
  }
}

// Counts the top-level `vms` fields (number 9, length-delimited) without parsing anything,
// so a message with too many VMs costs a walk over its tags, not a parse that allocates one
// VmSample per entry. Returns the count, or nullopt when the bytes are not plain protobuf
// wire format (the real parser then decides what they are).
std::optional<std::size_t> CountVms(std::string_view b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  const auto* end = p + b.size();
  auto varint = [&](std::uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      const unsigned char c = *p++;
      *v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
      if ((c & 0x80) == 0) return true;
    }
    return false;
  };
  std::size_t vms = 0;
  while (p < end) {
    std::uint64_t tag = 0;
    if (!varint(&tag)) return std::nullopt;
    std::uint64_t skip = 0;
    switch (tag & 7) {
      case 0:
        if (!varint(&skip)) return std::nullopt;
        skip = 0;
        break;
      case 1:
        skip = 8;
        break;
      case 2:
        if (!varint(&skip)) return std::nullopt;
        if ((tag >> 3) == 9) ++vms;
        break;
      case 5:
        skip = 4;
        break;
      default:  // groups: legal for unknown fields; leave them to the parser
        return std::nullopt;
    }
    if (skip > static_cast<std::uint64_t>(end - p)) return std::nullopt;
    p += skip;
  }
  return vms;
}

// Checks the sense of a decoded sample; returns kCount when it is fine.
DecodeFailure Validate(const HostSample& s, std::string_view topic) {
  auto fail = [](DecodeError r, std::string d) { return DecodeFailure{r, std::move(d)}; };
  if (s.schema_version != HostSample::kSchemaVersion) {
    return fail(DecodeError::kBadVersion, "schema_version " + std::to_string(s.schema_version) +
                                              " (this build reads " +
                                              std::to_string(HostSample::kSchemaVersion) + ")");
  }
  if (!IsValidHostName(s.host.name)) {
    return fail(DecodeError::kBadHost, "host.name: missing or not [A-Za-z0-9._-]{1,255}");
  }
  // Bounded so the largest valid message has a size (kMaxMessageBytes) and no log line or
  // status file carries a peer's megabyte of text.
  if (s.host.uuid.size() > kMaxUuidBytes || s.host.libvirt_uri.size() > kMaxUriBytes ||
      s.host.migration_address.size() > kMaxAddressBytes ||
      s.host.source.size() > kMaxSourceBytes) {
    return fail(DecodeError::kBadHost,
                "host.uuid, libvirt_uri, migration_address or source longer than its limit "
                "(64, 1024, 255, 32 bytes)");
  }
  if (!topic.empty() && topic != s.host.name) {
    return fail(DecodeError::kBadHost, "host.name '" + s.host.name + "' does not match topic '" +
                                           std::string(topic) + "'");
  }
  if (s.boot_id == 0 || s.sequence == 0) {
    return fail(DecodeError::kBadSequence, s.boot_id == 0 ? "boot_id: zero" : "sequence: zero");
  }
  const double cores = s.capacity.cpu_cores;
  if (!std::isfinite(cores) || cores <= 0 || cores > kMaxCpuCores) {
    return fail(DecodeError::kBadCapacity,
                "capacity.cpu_cores: " + std::to_string(cores) + " (must be in (0, 65536])");
  }
  if (s.capacity.memory_bytes == 0 || s.capacity.memory_bytes > kMaxMemoryBytes) {
    return fail(DecodeError::kBadCapacity,
                "capacity.memory_bytes: " + std::to_string(s.capacity.memory_bytes));
  }
  if (s.vms.size() > kMaxVms) {
    return fail(DecodeError::kTooManyVms,
                std::to_string(s.vms.size()) + " VMs (at most " + std::to_string(kMaxVms) + ")");
  }
  // Fast path, no allocation per VM: the field checks, then duplicates by sorting the UUIDs.
  // Only when something is wrong does the exact per-VM walk below name the first culprit.
  bool suspect = false;
  for (const VmSample& vm : s.vms) {
    if (vm.uuid.empty() || vm.uuid.size() > kMaxUuidBytes || !IsValidVmName(vm.name) ||
        vm.vcpus == 0 || vm.vcpus > kMaxVcpus || vm.memory_current_bytes > kMaxMemoryBytes) {
      suspect = true;
      break;
    }
  }
  if (!suspect && s.vms.size() > 1) {
    // Open addressing over UUID hashes: slot holds index + 1 of the VM, 0 when free.
    std::size_t capacity = 16;
    while (capacity < 2 * s.vms.size()) capacity *= 2;
    std::vector<std::uint32_t> table(capacity, 0);
    const std::hash<std::string_view> hash;
    for (std::size_t i = 0; i < s.vms.size() && !suspect; ++i) {
      const std::string_view uuid = s.vms[i].uuid;
      for (std::size_t at = hash(uuid) & (capacity - 1);; at = (at + 1) & (capacity - 1)) {
        if (table[at] == 0) {
          table[at] = static_cast<std::uint32_t>(i + 1);
          break;
        }
        if (s.vms[table[at] - 1].uuid == uuid) {
          suspect = true;
          break;
        }
      }
    }
  }
  if (!suspect) return fail(DecodeError::kCount, {});
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 0; i < s.vms.size(); ++i) {
    const VmSample& vm = s.vms[i];
    const std::string where = "vms[" + std::to_string(i) + "]";
    if (vm.uuid.empty() || vm.uuid.size() > kMaxUuidBytes) {
      return fail(DecodeError::kBadVm, where + ".uuid: empty or longer than 64 bytes");
    }
    if (!IsValidVmName(vm.name)) {
      return fail(DecodeError::kBadVm, where + ".name: empty, too long or control characters");
    }
    if (vm.vcpus == 0 || vm.vcpus > kMaxVcpus) {
      return fail(DecodeError::kBadVm, where + ".vcpus: " + std::to_string(vm.vcpus));
    }
    if (vm.memory_current_bytes > kMaxMemoryBytes) {
      return fail(DecodeError::kBadVm,
                  where + ".memory_current_bytes: " + std::to_string(vm.memory_current_bytes));
    }
    if (!seen.insert(vm.uuid).second) {
      return fail(DecodeError::kDuplicateVm, where + ".uuid: " + vm.uuid + " appears twice");
    }
  }
  return fail(DecodeError::kCount, {});
}

}  // namespace

const char* VmStateName(VmState s) {
  switch (s) {
    case VmState::kUnknown:
      return "unknown";
    case VmState::kRunning:
      return "running";
    case VmState::kBlocked:
      return "blocked";
    case VmState::kPaused:
      return "paused";
    case VmState::kShutdown:
      return "shutdown";
    case VmState::kShutoff:
      return "shutoff";
    case VmState::kCrashed:
      return "crashed";
    case VmState::kPmSuspended:
      return "pmsuspended";
    case VmState::kDying:
      return "dying";
  }
  return "unknown";
}

const char* DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kEmpty:
      return "empty";
    case DecodeError::kOversized:
      return "oversized";
    case DecodeError::kMalformed:
      return "malformed";
    case DecodeError::kBadVersion:
      return "bad_version";
    case DecodeError::kBadHost:
      return "bad_host";
    case DecodeError::kBadCapacity:
      return "bad_capacity";
    case DecodeError::kBadSequence:
      return "bad_sequence";
    case DecodeError::kTooManyVms:
      return "too_many_vms";
    case DecodeError::kBadVm:
      return "bad_vm";
    case DecodeError::kDuplicateVm:
      return "duplicate_vm";
    case DecodeError::kInvalidUtf8:
      return "invalid_utf8";
    case DecodeError::kCount:
      break;
  }
  return "unknown";
}

void InstallProtobufLogHandler() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&ProtobufLogHandler); });
}

bool IsValidHostName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidVmName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Result<std::string> EncodeHostSample(const HostSample& s) {
  DecodeFailure f = Validate(s, {});
  if (f.reason != DecodeError::kCount) {
    return Status::InvalidArgument("refusing to encode an invalid sample: " + f.detail);
  }
  wire::HostSample m;
  m.set_schema_version(s.schema_version);
  auto* h = m.mutable_host();
  h->set_name(s.host.name);
  h->set_uuid(s.host.uuid);
  h->set_libvirt_uri(s.host.libvirt_uri);
  h->set_migration_address(s.host.migration_address);
  h->set_source(s.host.source);
  m.set_boot_id(s.boot_id);
  m.set_sequence(s.sequence);
  m.set_monotonic_ns(s.monotonic_ns);
  m.set_wall_unix_ns(s.wall_unix_ns);
  auto* c = m.mutable_capacity();
  c->set_cpu_cores(s.capacity.cpu_cores);
  c->set_memory_bytes(s.capacity.memory_bytes);
  c->set_nic_bits_per_second(s.capacity.nic_bits_per_second);
  c->set_cpu_hz(s.capacity.cpu_hz);
  auto* k = m.mutable_counters();
  k->set_cpu_busy_ns(s.counters.cpu_busy_ns);
  k->set_cpu_total_ns(s.counters.cpu_total_ns);
  k->set_memory_free_bytes(s.counters.memory_free_bytes);
  k->set_net_rx_bytes(s.counters.net_rx_bytes);
  k->set_net_tx_bytes(s.counters.net_tx_bytes);
  m.mutable_vms()->Reserve(static_cast<int>(s.vms.size()));
  for (const VmSample& vm : s.vms) {
    auto* v = m.add_vms();
    v->set_uuid(vm.uuid);
    v->set_name(vm.name);
    v->set_vcpus(vm.vcpus);
    v->set_state(ToWire(vm.state));
    v->set_cpu_ns(vm.cpu_ns);
    v->set_memory_current_bytes(vm.memory_current_bytes);
    v->set_memory_max_bytes(vm.memory_max_bytes);
    v->set_net_rx_bytes(vm.net_rx_bytes);
    v->set_net_tx_bytes(vm.net_tx_bytes);
    v->set_block_rd_bytes(vm.block_rd_bytes);
    v->set_block_wr_bytes(vm.block_wr_bytes);
    v->set_has_net(vm.has_net);
    v->set_has_block(vm.has_block);
  }
  std::string out;
  if (!m.SerializeToString(&out)) return Status::Internal("protobuf serialisation failed");
  if (out.size() > kMaxMessageBytes) {
    return Status::InvalidArgument("sample of " + std::to_string(out.size()) +
                                   " bytes exceeds the " + std::to_string(kMaxMessageBytes) +
                                   "-byte message limit");
  }
  return out;
}

std::optional<DecodeFailure> DecodeHostSampleInto(std::string_view bytes, std::string_view topic,
                                                  HostSample& s) {
  auto fail = [](DecodeError reason, std::string detail) {
    return std::optional<DecodeFailure>(DecodeFailure{reason, std::move(detail)});
  };
  if (bytes.empty()) return fail(DecodeError::kEmpty, "empty message");
  if (bytes.size() > kMaxMessageBytes) {
    return fail(DecodeError::kOversized, std::to_string(bytes.size()) + " bytes (limit " +
                                             std::to_string(kMaxMessageBytes) + ")");
  }
  InstallProtobufLogHandler();
  if (auto vms = CountVms(bytes); vms && *vms > kMaxVms) {
    return fail(DecodeError::kTooManyVms, std::to_string(*vms) + " VMs (at most " +
                                              std::to_string(kMaxVms) + "), before parsing");
  }
  // One parsed message per thread, reused: parsing clears it but keeps its VmSample objects
  // and its strings' storage, so a steady stream allocates nothing (an arena per message still
  // allocated every string longer than the short-string buffer, each UUID among them, and
  // the HostSample freed them again). It keeps what the largest message needed, at most
  // kMaxVms VmSamples. Heap-allocated once per thread, not a thread_local object: static TLS
  // is reserved in EVERY thread of the process, and libraries that start threads with small
  // stacks (civetweb, behind the metrics endpoint) then fail to start them.
  thread_local std::unique_ptr<wire::HostSample> parsed(new wire::HostSample);
  wire::HostSample& m = *parsed;
  // ParseFromArray reads within [data, data+size): lengths inside the message are checked
  // against the buffer by protobuf, never trusted.
  t_invalid_utf8.reset();
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    if (t_invalid_utf8) {
      std::string detail = std::move(*t_invalid_utf8);
      t_invalid_utf8.reset();
      return fail(DecodeError::kInvalidUtf8, detail);
    }
    return fail(DecodeError::kMalformed,
                "not a ballast.wire.HostSample (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (static_cast<std::size_t>(m.vms_size()) > kMaxVms) {
    return fail(DecodeError::kTooManyVms,
                std::to_string(m.vms_size()) + " VMs (at most " + std::to_string(kMaxVms) + ")");
  }
  // Copied, not moved: both sides keep their storage for the next message.
  s.schema_version = m.schema_version();
  const wire::HostIdentity& host = m.host();
  s.host.name = host.name();
  s.host.uuid = host.uuid();
  s.host.libvirt_uri = host.libvirt_uri();
  s.host.migration_address = host.migration_address();
  s.host.source = host.source();
  s.boot_id = m.boot_id();
  s.sequence = m.sequence();
  s.monotonic_ns = m.monotonic_ns();
  s.wall_unix_ns = m.wall_unix_ns();
  s.capacity.cpu_cores = m.capacity().cpu_cores();
  s.capacity.memory_bytes = m.capacity().memory_bytes();
  s.capacity.nic_bits_per_second = m.capacity().nic_bits_per_second();
  s.capacity.cpu_hz = m.capacity().cpu_hz();
  s.counters.cpu_busy_ns = m.counters().cpu_busy_ns();
  s.counters.cpu_total_ns = m.counters().cpu_total_ns();
  s.counters.memory_free_bytes = m.counters().memory_free_bytes();
  s.counters.net_rx_bytes = m.counters().net_rx_bytes();
  s.counters.net_tx_bytes = m.counters().net_tx_bytes();
  s.vms.resize(static_cast<std::size_t>(m.vms_size()));
  std::size_t i = 0;
  for (const wire::VmSample& v : m.vms()) {
    VmSample& vm = s.vms[i++];
    vm.uuid = v.uuid();
    vm.name = v.name();
    vm.vcpus = v.vcpus();
    vm.state = FromWire(v.state());
    vm.cpu_ns = v.cpu_ns();
    vm.memory_current_bytes = v.memory_current_bytes();
    vm.memory_max_bytes = v.memory_max_bytes();
    vm.net_rx_bytes = v.net_rx_bytes();
    vm.net_tx_bytes = v.net_tx_bytes();
    vm.block_rd_bytes = v.block_rd_bytes();
    vm.block_wr_bytes = v.block_wr_bytes();
    vm.has_net = v.has_net();
    vm.has_block = v.has_block();
  }
  DecodeFailure f = Validate(s, topic);
  if (f.reason != DecodeError::kCount) return f;
  return std::nullopt;
}

DecodeResult DecodeHostSample(std::string_view bytes, std::string_view topic) {
  HostSample s;
  if (auto f = DecodeHostSampleInto(bytes, topic, s)) return DecodeResult(std::move(*f));
  return DecodeResult(std::move(s));
}

DecodeResult DecodeHostSample(std::span<const std::byte> bytes, std::string_view topic) {
  return DecodeHostSample(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), topic);
}

}  // namespace ballast
