#include "collector/libvirt_stats_map.h"

#include <charconv>
#include <optional>
#include <string_view>

namespace ballast {
namespace {

std::optional<std::uint64_t> AsU64(const LibvirtParamValue& v) {
  if (auto* u = std::get_if<std::uint64_t>(&v)) return *u;
  if (auto* i = std::get_if<std::int64_t>(&v)) {
    if (*i >= 0) return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

// "net.3.rx.bytes" -> true with suffix "rx.bytes" when prefix is "net.".
bool IndexedField(std::string_view key, std::string_view prefix, std::string_view suffix) {
  if (key.substr(0, prefix.size()) != prefix) return false;
  std::string_view rest = key.substr(prefix.size());
  auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  unsigned idx = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + dot, idx);
  if (ec != std::errc() || p != rest.data() + dot) return false;
  return rest.substr(dot + 1) == suffix;
}

}  // namespace

VmState MapLibvirtState(std::int64_t state) {
  switch (state) {
    case 1:
      return VmState::kRunning;
    case 2:
      return VmState::kBlocked;
    case 3:
      return VmState::kPaused;
    case 4:
      return VmState::kShutdown;
    case 5:
      return VmState::kShutoff;
    case 6:
      return VmState::kCrashed;
    case 7:
      return VmState::kPmSuspended;
    default:
      return VmState::kUnknown;
  }
}

Result<VmSample> MapLibvirtDomainStats(const std::string& uuid, const std::string& name,
                                       const LibvirtParams& params) {
  VmSample vm;
  vm.uuid = uuid;
  vm.name = name;
  bool have_cpu = false;
  bool have_mem = false;
  for (const auto& [key, value] : params) {
    if (key == "state.state") {
      if (auto v = AsU64(value)) vm.state = MapLibvirtState(static_cast<std::int64_t>(*v));
    } else if (key == "cpu.time") {
      if (auto v = AsU64(value)) {
        vm.cpu_ns = *v;
        have_cpu = true;
      }
    } else if (key == "balloon.current") {
      if (auto v = AsU64(value)) {
        vm.memory_current_bytes = *v * 1024;
        have_mem = true;
      }
    } else if (key == "balloon.maximum") {
      if (auto v = AsU64(value)) vm.memory_max_bytes = *v * 1024;
    } else if (key == "vcpu.current") {
      if (auto v = AsU64(value)) vm.vcpus = static_cast<std::uint32_t>(*v);
    } else if (IndexedField(key, "net.", "rx.bytes")) {
      if (auto v = AsU64(value)) {
        vm.net_rx_bytes += *v;
        vm.has_net = true;
      }
    } else if (IndexedField(key, "net.", "tx.bytes")) {
      if (auto v = AsU64(value)) {
        vm.net_tx_bytes += *v;
        vm.has_net = true;
      }
    } else if (IndexedField(key, "block.", "rd.bytes")) {
      if (auto v = AsU64(value)) {
        vm.block_rd_bytes += *v;
        vm.has_block = true;
      }
    } else if (IndexedField(key, "block.", "wr.bytes")) {
      if (auto v = AsU64(value)) {
        vm.block_wr_bytes += *v;
        vm.has_block = true;
      }
    }
  }
  if (!have_cpu) return Status::Unavailable("domain " + name + ": no cpu.time in its stats");
  if (!have_mem) return Status::Unavailable("domain " + name + ": no balloon.current in its stats");
  if (vm.memory_max_bytes == 0) vm.memory_max_bytes = vm.memory_current_bytes;
  return vm;
}

std::string HostUuidFromCapabilities(const std::string& xml) {
  auto host = xml.find("<host>");
  if (host == std::string::npos) return "";
  auto open = xml.find("<uuid>", host);
  auto close = open == std::string::npos ? std::string::npos : xml.find("</uuid>", open);
  auto end_host = xml.find("</host>", host);
  if (close == std::string::npos || (end_host != std::string::npos && open > end_host)) return "";
  return xml.substr(open + 6, close - open - 6);
}

}  // namespace ballast
