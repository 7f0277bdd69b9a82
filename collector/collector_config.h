#pragma once

// ballast-collector's configuration (YAML; see collector/README.md for every option).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ballast {

struct CollectorConfig {
  // host:
  std::string host_name;                       // default: this machine's short hostname
  std::string libvirt_uri = "qemu:///system";  // the source reads this hypervisor
  std::string advertised_uri;                  // what the balancer should use; default libvirt_uri
  std::string migration_address;  // where migration traffic to this host goes; may be empty
  // source:
  std::string source = "libvirt";  // libvirt | xenstat
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  // libvirt: (the libvirt source only)
  bool libvirt_block_stats = false;  // per-disk byte counters; costs QEMU monitor queries
  // capacity overrides (test hosts share one machine's cores; reserve capacity for dom0):
  std::optional<double> cpu_cores;
  std::optional<std::uint64_t> memory_bytes;
  std::uint64_t nic_bits_per_second = 0;
  // balancer:
  std::string endpoint;  // e.g. tcp://balancer.example:7710
  // More balancers to publish the same samples to (high availability: every balancer of a
  // pair ingests the stream, so a standby keeps a warm model). They share one server key.
  std::vector<std::string> more_endpoints;
  // endpoint, then more_endpoints.
  std::vector<std::string> Endpoints() const {
    std::vector<std::string> all;
    if (!endpoint.empty()) all.push_back(endpoint);
    all.insert(all.end(), more_endpoints.begin(), more_endpoints.end());
    return all;
  }
  bool plaintext = false;              // CURVE unless explicitly turned off
  std::string key_file;                // this collector's NAME.key
  std::string server_public_key_file;  // the balancer's .pub
  // Prometheus /metrics; empty: not served.
  std::string metrics_listen = "127.0.0.1:9471";
};

Result<CollectorConfig> LoadCollectorConfig(const std::string& file);

}  // namespace ballast
