#include "balancer/policy/policy_store.h"

#include <utility>

#include "balancer/policy/loader.h"

namespace ballast::policy {

PolicyStore::PolicyStore() : PolicyStore(core::Policy{}) {}

PolicyStore::PolicyStore(core::Policy initial)
    : policy_(std::make_shared<const core::Policy>(std::move(initial))) {}

Status PolicyStore::Reload(const std::string& path) { return Install(LoadPolicyFile(path)); }

Status PolicyStore::ReloadFromString(std::string_view text, std::string_view source_name) {
  return Install(LoadPolicyFromString(text, source_name));
}

Status PolicyStore::Install(Result<core::Policy> loaded) {
  if (!loaded.ok()) return loaded.status();
  auto next = std::make_shared<const core::Policy>(std::move(loaded).value());
  std::lock_guard<std::mutex> lock(mu_);
  policy_ = std::move(next);
  ++generation_;
  return Status::Ok();
}

std::shared_ptr<const core::Policy> PolicyStore::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return policy_;
}

std::uint64_t PolicyStore::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

}  // namespace ballast::policy
