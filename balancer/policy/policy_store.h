#pragma once

// Holds the policy in force. A reload that fails keeps the last good policy and returns
// why (the caller decides how to signal it: log, metric, control reply); a successful one
// replaces it and bumps the generation.
//
// Thread-safe: the daemon's planner reads current() while a reload runs on another thread.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "balancer/core/policy.h"
#include "common/status.h"

namespace ballast::policy {

class PolicyStore {
 public:
  // Starts with the built-in defaults (core::Policy{}) at generation 0.
  PolicyStore();
  explicit PolicyStore(core::Policy initial);

  Status Reload(const std::string& path);
  Status ReloadFromString(std::string_view text, std::string_view source_name);

  // Never null. Holding the pointer keeps that version alive across reloads.
  std::shared_ptr<const core::Policy> current() const;
  // Bumped by each successful reload.
  std::uint64_t generation() const;

 private:
  Status Install(Result<core::Policy> loaded);

  mutable std::mutex mu_;
  std::shared_ptr<const core::Policy> policy_;  // guarded by mu_
  std::uint64_t generation_ = 0;                // guarded by mu_
};

}  // namespace ballast::policy
