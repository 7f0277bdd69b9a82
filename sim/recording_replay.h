#pragma once

// Replays a balancer recording (common/recording.h) sample by sample through the balancer's
// controller, at the recorded arrival times, as the daemon's loop would have received them:
// decode, ingest, then the loop's passes (at most `tick` apart) until the next arrival. What
// the balancer would have planned under a policy had it received exactly this stream. The
// policy runs in recommend mode: the stream already shows what really moved.
//
// `ballast-sim whatif --recording FILE --replay` prints these plans; the equivalence test
// (tests/sim/recording_replay_test.cc) holds them against a daemon-style loop.

#include <chrono>
#include <string>
#include <vector>

#include "balancer/controller/controller.h"
#include "balancer/core/plan.h"
#include "balancer/core/policy.h"
#include "common/status.h"

namespace ballast::sim {

struct ReplayOptions {
  // The daemon's: balancer/daemon ControllerOptionsFor(config). By default the recorded
  // samples' endpoint claims are trusted: a replay connects to nothing and moves nothing.
  controller::ControllerOptions controller = [] {
    controller::ControllerOptions o;
    o.inventory = controller::HostInventory::TrustCollectorClaims();
    return o;
  }();
  // The daemon's loop waits at most 50 ms for a sample before its housekeeping runs.
  std::chrono::milliseconds tick{50};
};

struct ReplayedPlan {
  double seconds = 0;  // since the first recorded sample
  core::Plan plan;
};

struct ReplayResult {
  std::vector<ReplayedPlan> plans;
  long samples = 0;
  long rejected = 0;  // records that did not decode
};

Result<ReplayResult> ReplayRecording(const std::string& path, const core::Policy& policy,
                                     const ReplayOptions& options);

}  // namespace ballast::sim
