#pragma once

// The balancer loop: ingest -> model -> detect/plan at the policy's interval -> actuate.
// Single-threaded apart from the actuator's workers. Obeys the policy's mode (off,
// recommend, automatic); reloads the policy when its file changes and on SIGHUP, keeping the
// last good one; reconciles with libvirt and the journal before its first plan; on SIGTERM
// stops planning, waits a bounded time for migrations in flight and says what it left.

#include <atomic>

#include "balancer/daemon/balancer_config.h"

namespace ballast {

struct DaemonSignals {
  std::atomic<bool> stop{false};
  std::atomic<bool> reload{false};
  std::atomic<bool> print_table{false};
};

// Returns the process exit code.
int RunBalancer(const BalancerConfig& config, DaemonSignals& signals);

}  // namespace ballast
