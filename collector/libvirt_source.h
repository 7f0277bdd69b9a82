#pragma once

// The libvirt stats source: one connection to one hypervisor URI. Per read: one
// virConnectGetAllDomainStats (active domains; state and interface groups only), per domain
// virDomainGetInfo and virDomainGetCPUStats, and virNodeGetCPUStats / virNodeGetFreeMemory.
// None of them reaches a guest's QEMU monitor (unless block stats are asked for).
// Connects lazily; when libvirtd goes away it drops the connection and reconnects on later
// reads with exponential backoff (0.5 s doubling to 30 s), returning kUnavailable meanwhile.

#include <memory>
#include <string>

#include "collector/stats_source.h"

namespace ballast {

struct LibvirtSourceOptions {
  // Also read per-disk byte counters (the block group: query-blockstats twice and
  // query-named-block-nodes on every guest's monitor per read). The balancer does not use
  // them; off by default.
  bool block_stats = false;
};

std::unique_ptr<StatsSource> MakeLibvirtSource(std::string uri, LibvirtSourceOptions options = {});

}  // namespace ballast
