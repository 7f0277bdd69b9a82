#pragma once

// The libxenstat stats source, for a collector running as root in a Xen dom0 (config
// `source: xenstat`). One xenstat handle and one xenstore connection, opened lazily and
// reopened with exponential backoff (0.5 s doubling to 30 s) while Xen is not reachable,
// returning kUnavailable meanwhile. Each Read() takes one xenstat_get_node(XENSTAT_ALL),
// falling back to fewer sub-collectors when one of them fails (see docs/xen.md for each
// libxenstat trap and what this source does about it).
//
// Not thread-safe (libxenstat is not): one source, one thread, as StatsSource requires.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "collector/stats_source.h"

namespace ballast {

struct XenstatSourceOptions {
  // Checked before xenstat_init so that a machine without Xen gets one clear error instead of
  // libxenstat's own stderr lines. Empty: no check.
  std::string privcmd_path = "/dev/xen/privcmd";
  // The collector's and dom0's network namespaces; network counters are only trusted when
  // they are the same. Empty: no check.
  std::string self_netns_path = "/proc/self/ns/net";
  std::string init_netns_path = "/proc/1/ns/net";
  // After falling back to fewer sub-collectors, try them all again every this many reads
  // (a bridge or a backend directory may appear later).
  int reprobe_every_reads = 60;
  // First reconnect delay after a failure; it doubles up to 30 s. Tests use 0.
  std::chrono::milliseconds min_retry{500};
  // Monotonic clock in ns for the host CPU counters; default steady_clock.
  std::function<std::uint64_t()> monotonic_ns;
};

std::unique_ptr<StatsSource> MakeXenstatSource(XenstatSourceOptions options = {});

}  // namespace ballast
