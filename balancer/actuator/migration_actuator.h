#pragma once

// Carries out planned migrations. Start() returns at once; the migration runs on a worker
// and its result is collected with TakeFinished(). At most one migration per VM is in
// flight; the caller (the daemon, obeying the policy's caps) decides how many run at once.
//
// Implementations: libvirt_actuator.cc (real live migration), dry_run_actuator.cc (moves
// nothing; for recommend-only runs and tests of the loop).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ballast {

struct MigrationOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};  // then abort; VM stays put
  std::uint64_t bandwidth_mib_per_second = 0;                    // 0: unlimited
  std::chrono::milliseconds max_downtime{0};                     // 0: hypervisor default
};

struct MigrationRequest {
  std::string id;  // correlates journal records
  std::string vm_uuid;
  std::string vm_name;
  std::string strategy;  // why it moves (hotspot, balance, density, drain, manual)
  std::string from_host;
  std::string to_host;
  std::string from_uri;  // libvirt URI of the source hypervisor
  std::string to_uri;    // libvirt URI of the destination, as the SOURCE daemon reaches it
  std::string to_migration_address;  // data path: tcp://ADDR; empty: libvirt's default
  MigrationOptions options;
};

enum class MigrationOutcome {
  kSucceeded,  // running on the destination, gone from the source (verified)
  kFailed,     // refused or broke; the VM's location is in `vm_on`
  kAborted,    // timed out and aborted: the VM stays on the source
};
inline const char* MigrationOutcomeName(MigrationOutcome o) {
  switch (o) {
    case MigrationOutcome::kSucceeded:
      return "succeeded";
    case MigrationOutcome::kFailed:
      return "failed";
    case MigrationOutcome::kAborted:
      return "aborted";
  }
  return "unknown";
}

struct MigrationResult {
  MigrationRequest request;
  MigrationOutcome outcome = MigrationOutcome::kFailed;
  std::string error;  // empty on success
  std::string vm_on;  // host name where the VM runs afterwards ("" = not found running)
  std::chrono::milliseconds duration{0};
  std::optional<std::chrono::milliseconds> downtime;
  std::uint64_t bytes = 0;
  // How libvirt was asked: the flags and typed parameters of the last attempt (on success,
  // those the driver accepted; Xen's libxl refuses some, and the actuator retries without).
  std::vector<std::string> flags;   // e.g. "live", "peer2peer"
  std::vector<std::string> params;  // e.g. "migrate_uri=tcp://10.0.0.2"
  bool retried_minimal = false;     // the driver refused the optional parameters first
  bool resumed_on_source = false;   // the failed migration left it paused; it was resumed
};

struct MigrationProgress {
  MigrationRequest request;
  std::chrono::milliseconds elapsed{0};
  std::uint64_t data_processed = 0;
  std::uint64_t data_remaining = 0;
};

// A migration job found running on a hypervisor (after a balancer restart).
struct ActiveJob {
  std::string vm_uuid;
  std::string vm_name;
};

class MigrationActuator {
 public:
  virtual ~MigrationActuator() = default;
  // Queues a migration. Fails when one of the same VM is already in flight.
  virtual Status Start(MigrationRequest request) = 0;
  virtual std::vector<MigrationResult> TakeFinished() = 0;
  virtual std::vector<MigrationProgress> InFlight() const = 0;
  // Aborts every running migration (VMs stay on their sources).
  virtual void AbortAll() = 0;
  // Waits until nothing is in flight or `timeout` passes; true when idle.
  virtual bool WaitIdle(std::chrono::milliseconds timeout) = 0;

  // Reconciliation: the domains on `uri` with a migration job under way right now.
  virtual Result<std::vector<ActiveJob>> ActiveJobs(const std::string& uri) = 0;
  // Whether `vm_uuid` is running on the hypervisor at `uri`.
  virtual Result<bool> IsRunningOn(const std::string& uri, const std::string& vm_uuid) = 0;
};

std::unique_ptr<MigrationActuator> MakeLibvirtActuator(int workers);
std::unique_ptr<MigrationActuator> MakeDryRunActuator();

}  // namespace ballast
