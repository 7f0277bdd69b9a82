#pragma once

// Pure conversion of libvirt's per-domain typed parameters (virConnectGetAllDomainStats) into
// a VmSample. Kept apart from libvirt_source.cc so it is tested on captured values without a
// libvirt daemon.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/sample.h"
#include "common/status.h"

namespace ballast {

using LibvirtParamValue = std::variant<std::int64_t, std::uint64_t, double, bool, std::string>;
using LibvirtParams = std::vector<std::pair<std::string, LibvirtParamValue>>;

// Maps one domain's stats. Units: cpu.time ns; balloon.* KiB (converted to bytes);
// net.N.{rx,tx}.bytes are from the guest's side (libvirt swaps tap counters); summed over
// all interfaces and disks. Fails (naming the field) when a required field is missing.
Result<VmSample> MapLibvirtDomainStats(const std::string& uuid, const std::string& name,
                                       const LibvirtParams& params);

// libvirt's virDomainState numbering.
VmState MapLibvirtState(std::int64_t state);

// Extracts <host><uuid>…</uuid> from virConnectGetCapabilities XML ("" if absent).
std::string HostUuidFromCapabilities(const std::string& xml);

}  // namespace ballast
