#pragma once

// The libvirt stats source: one connection to one hypervisor URI, read with
// virConnectGetAllDomainStats (active domains), virNodeGetInfo and virNodeGetCPUStats.
// Connects lazily; when libvirtd goes away it drops the connection and reconnects on later
// reads with exponential backoff (0.5 s doubling to 30 s), returning kUnavailable meanwhile.

#include <memory>
#include <string>

#include "collector/stats_source.h"

namespace ballast {

std::unique_ptr<StatsSource> MakeLibvirtSource(std::string uri);

}  // namespace ballast
