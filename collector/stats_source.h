#pragma once

// A stats source reads one host's hypervisor: host capacity, host counters and every VM's
// cumulative counters. One implementation per file (libvirt_source.cc, xenstat_source.cc),
// listed explicitly in source_registry.cc.
//
// Contract: Read() is called from one thread, once per interval. It returns either a full,
// true reading or an error; never a partial or invented one (the collector then publishes
// nothing for that interval). Transient failures (hypervisor away) return kUnavailable and
// the source reconnects by itself on a later call, with backoff. A host with no VMs is a
// successful reading with an empty list.

#include <memory>
#include <string>
#include <string_view>

#include "common/sample.h"
#include "common/status.h"

namespace ballast {

class StatsSource {
 public:
  virtual ~StatsSource() = default;
  virtual std::string_view name() const = 0;  // "libvirt", "xenstat"
  virtual Result<SourceReading> Read() = 0;
};

}  // namespace ballast
