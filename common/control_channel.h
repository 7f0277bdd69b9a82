#pragma once

// The control channel between ballastctl and the balancer: ZeroMQ REQ (client) / ROUTER
// (balancer), always CURVE-encrypted and authenticated. The balancer admits only admin keys
// from its admin allowlist directory (ZAP, common/zap.h); there is no plaintext mode, so the
// endpoint is never served unauthenticated, on loopback or elsewhere.
// Payloads are serialised ballast.control.ControlRequest / ControlReply messages.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/curve_keys.h"
#include "common/status.h"

namespace ballast {

struct ControlMessage {
  std::string peer;   // opaque routing id; pass back to Reply()
  std::string admin;  // the admin key's allowlist name (who asked)
  std::string payload;
};

class ControlServer {
 public:
  // Binds `endpoint` (e.g. tcp://127.0.0.1:7711; port 0 picks one, see endpoint()).
  static Result<std::unique_ptr<ControlServer>> Bind(const std::string& endpoint,
                                                     const CurveKeyPair& server_keys,
                                                     const std::filesystem::path& admin_dir);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // A request if one is waiting (waits at most `timeout`).
  std::optional<ControlMessage> Poll(std::chrono::milliseconds timeout);
  Status Reply(const std::string& peer, const std::string& payload);
  const std::string& endpoint() const;
  std::uint64_t rejected() const;  // handshakes refused (unknown key, not CURVE)

  class Impl;

 private:
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request, one reply. kPermissionDenied when the balancer refuses this key;
// kDeadlineExceeded when no reply came in time (balancer down or busy).
Result<std::string> ControlCall(const std::string& endpoint, const CurveKeyPair& client_keys,
                                const std::string& server_public_z85, const std::string& request,
                                std::chrono::milliseconds timeout);

}  // namespace ballast
