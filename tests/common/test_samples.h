#pragma once

// Sample builders shared by tests.

#include "common/sample.h"

namespace ballast::testing {

inline VmSample MakeVm(std::string uuid, std::string name, std::uint64_t cpu_ns = 0) {
  VmSample vm;
  vm.uuid = std::move(uuid);
  vm.name = std::move(name);
  vm.vcpus = 1;
  vm.state = VmState::kRunning;
  vm.cpu_ns = cpu_ns;
  vm.memory_current_bytes = 256ull << 20;
  vm.memory_max_bytes = 256ull << 20;
  return vm;
}

inline HostSample MakeHost(std::string name, std::uint64_t seq = 1,
                           std::uint64_t monotonic_ns = 1'000'000'000) {
  HostSample s;
  s.host.name = std::move(name);
  s.host.uuid = "00000000-0000-0000-0000-00000000000a";
  s.host.libvirt_uri = "qemu+unix:///session?socket=/tmp/a/libvirt-sock";
  s.host.migration_address = "127.0.0.1";
  s.host.source = "libvirt";
  s.boot_id = 42;
  s.sequence = seq;
  s.monotonic_ns = monotonic_ns;
  s.wall_unix_ns = 1'700'000'000'000'000'000;
  s.capacity.cpu_cores = 2;
  s.capacity.memory_bytes = 4ull << 30;
  s.capacity.nic_bits_per_second = 1'000'000'000;
  return s;
}

}  // namespace ballast::testing
