// The dry-run actuator: accepts migrations and reports them succeeded without touching any
// hypervisor. For exercising the daemon loop without libvirt; never used in automatic mode
// against real hosts.

#include <mutex>

#include "balancer/actuator/migration_actuator.h"

namespace ballast {
namespace {

class DryRunActuator final : public MigrationActuator {
 public:
  Status Start(MigrationRequest request) override {
    std::lock_guard<std::mutex> lock(mu_);
    MigrationResult r;
    r.request = std::move(request);
    r.outcome = MigrationOutcome::kSucceeded;
    r.vm_on = r.request.to_host;
    finished_.push_back(std::move(r));
    return Status::Ok();
  }
  std::vector<MigrationResult> TakeFinished() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(finished_, {});
  }
  std::vector<MigrationProgress> InFlight() const override { return {}; }
  void AbortAll() override {}
  bool WaitIdle(std::chrono::milliseconds) override { return true; }
  Result<std::vector<ActiveJob>> ActiveJobs(const std::string&) override {
    return std::vector<ActiveJob>{};
  }
  Result<bool> IsRunningOn(const std::string&, const std::string&) override { return false; }

 private:
  std::mutex mu_;
  std::vector<MigrationResult> finished_;
};

}  // namespace

std::unique_ptr<MigrationActuator> MakeDryRunActuator() {
  return std::make_unique<DryRunActuator>();
}

}  // namespace ballast
