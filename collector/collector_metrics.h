#pragma once

// The collector's Prometheus metrics (docs/metrics.md): served on a configurable address,
// loopback by default. Called from the collector's single loop.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace ballast {

class CollectorMetrics {
 public:
  // Every series carries `host` (this collector's host name) so dashboards need no
  // per-target relabelling.
  static Result<std::unique_ptr<CollectorMetrics>> Start(const std::string& listen,
                                                         const std::string& host,
                                                         const std::string& source);
  ~CollectorMetrics();
  CollectorMetrics(const CollectorMetrics&) = delete;
  CollectorMetrics& operator=(const CollectorMetrics&) = delete;

  std::uint16_t port() const;
  void OnRead(std::chrono::nanoseconds duration, bool ok, std::size_t vms);
  void OnPublish(bool sent);

  class Impl;

 private:
  explicit CollectorMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast
