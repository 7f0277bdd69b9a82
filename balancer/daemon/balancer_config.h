#pragma once

// ballast-balancer's configuration (YAML; balancer/README.md documents every option).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "balancer/controller/controller.h"
#include "balancer/model/cluster_model.h"
#include "common/status.h"

namespace ballast {

struct BalancerConfig {
  std::string listen = "tcp://127.0.0.1:7710";  // collectors connect here
  bool plaintext = false;                       // CURVE unless explicitly turned off
  std::string server_key_file;                  // the balancer's NAME.key
  std::string allowlist_dir;                    // collectors' *.pub files
  bool bind_key_to_host = true;                 // key NAME.pub may publish only host NAME
  // Host load from the host's own counters (dom0, hypervisor and host services count), or
  // only the sum of its VMs (test hosts sharing one machine).
  HostLoad host_load = HostLoad::kCounters;
  double stale_after_intervals = 3;
  // A host silent this long is forgotten with its VMs (journaled); 0: never.
  std::chrono::nanoseconds retire_hosts_after = std::chrono::hours(1);
  std::chrono::nanoseconds min_stale_after = std::chrono::seconds(2);
  std::chrono::nanoseconds table_interval = std::chrono::seconds(10);  // 0: only on SIGUSR1
  std::string status_file;  // when set: the cluster as JSON, rewritten atomically
  std::chrono::nanoseconds status_interval = std::chrono::seconds(1);
  // When set: every accepted sample, as received, for what-if replays (ballast-sim whatif
  // --recording). Truncated at start; recording stops at record_max_bytes.
  std::string record_file;
  std::uint64_t record_max_bytes = 1ull << 30;
  // Prometheus /metrics; empty: not served.
  std::string metrics_listen = "127.0.0.1:9470";
  // Control endpoint for ballastctl (always CURVE, admin keys only); empty: not served.
  std::string control_listen = "tcp://127.0.0.1:7711";
  std::string admin_allowlist_dir;  // admins' *.pub: every ballastctl verb
  // Viewers' *.pub: read-only verbs only (status, plan, explain, history, policy diff);
  // the control endpoint itself refuses them the others (common/control_channel.h).
  std::string viewer_allowlist_dir;
  // Drain and pause state, kept across restarts; default: journal_file + ".state".
  std::string state_file;
  // Balancing:
  std::string policy_file;   // required; reloaded when it changes and on SIGHUP
  std::string journal_file;  // required: every decision, fsync'd JSON lines
  std::uint64_t journal_max_bytes = 64ull << 20;
  int journal_keep = 5;
  std::string actuator = "libvirt";  // libvirt | dry-run (moves nothing; for trials)
  int migration_workers = 4;         // migrations that can run at once (the policy caps them too)
  // On SIGTERM: how long to wait for migrations in flight before leaving them to libvirt.
  std::chrono::nanoseconds shutdown_grace = std::chrono::seconds(30);
  // Wait this long after start for collectors to report before the first plan.
  std::chrono::nanoseconds startup_grace = std::chrono::seconds(3);
  // Required: the hosts the balancer may connect to and send migration traffic to (listed,
  // or a pattern), or trust_collector_claims: true (insecure; logged loudly at start).
  controller::HostInventory inventory;
  // High availability (balancer/README.md, "High availability"): on when etcd_endpoints is
  // set; off (one balancer, no etcd), the balancer works as without this section.
  struct Ha {
    std::vector<std::string> etcd_endpoints;  // http://HOST:PORT of etcd's client port
    std::string cluster = "default";          // keys under /ballast/<cluster>/
    std::string name;                         // this balancer; default: the host name
    std::chrono::nanoseconds lease_ttl = std::chrono::seconds(10);
    std::chrono::nanoseconds renew_interval{0};  // 0: lease_ttl / 3
    std::chrono::nanoseconds etcd_timeout = std::chrono::seconds(1);
    // Test-only: moves start without the conditional write (proves the fence matters), and a
    // delay before each fence request (a leader frozen between deciding and acting).
    bool test_unfenced = false;
    std::chrono::nanoseconds test_fence_delay{0};
    bool enabled() const { return !etcd_endpoints.empty(); }
  } ha;
};

Result<BalancerConfig> LoadBalancerConfig(const std::string& file);

// What the configuration says the controller does: the daemon's, and the simulator's when it
// replays a recording "as the daemon would have" (the equivalence test uses both).
controller::ControllerOptions ControllerOptionsFor(const BalancerConfig& config);

}  // namespace ballast
