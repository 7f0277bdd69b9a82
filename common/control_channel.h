#pragma once

// The control channel between ballastctl and the balancer: ZeroMQ REQ (client) / ROUTER
// (balancer), always CURVE-encrypted and authenticated. The balancer admits only keys from
// its admin and viewer allowlist directories (ZAP, common/zap.h); there is no plaintext mode,
// so the endpoint is never served unauthenticated, on loopback or elsewhere.
// Payloads are serialised ballast.control.ControlRequest / ControlReply messages.
//
// Roles are enforced here, before a request reaches the balancer: a viewer key may only ask
// read-only verbs (status, plan, explain, history, policy diff); anything else it sends is
// answered "forbidden" by the server itself. A key removed from its directory is refused on
// its next connection and, on a connection it still holds open, answered "unauthenticated".

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/curve_keys.h"
#include "common/status.h"

namespace ballast {

inline constexpr std::uint32_t kControlProtocolVersion = 1;  // ControlRequest.api_version

// Error codes the server answers itself (ControlReply.error_code).
inline constexpr char kForbiddenCode[] = "forbidden";              // a viewer asked to change
inline constexpr char kUnauthenticatedCode[] = "unauthenticated";  // the key was revoked

enum class ControlRole : std::uint8_t { kViewer, kAdmin };

struct ControlMessage {
  std::string peer;   // opaque routing id; pass back to Reply()
  std::string admin;  // the key's allowlist name (who asked; a viewer's name for a viewer)
  ControlRole role = ControlRole::kAdmin;
  std::string payload;
};

struct ControlAllowlists {
  std::filesystem::path admin_dir;   // *.pub of keys allowed every verb; may be empty
  std::filesystem::path viewer_dir;  // *.pub of keys allowed read-only verbs; may be empty
};

// What a request asks, decoded without trusting it. `verb` is the ballastctl verb name.
struct ControlRequestInfo {
  std::string verb;      // "status", "migrate", ...; "" when the request names none
  bool mutating = true;  // unknown verbs count as mutating: a viewer is refused them
};
Result<ControlRequestInfo> DecodeControlRequest(std::string_view payload);

class ControlServer {
 public:
  // Binds `endpoint` (e.g. tcp://127.0.0.1:7711; port 0 picks one, see endpoint()). At least
  // one directory must be given; a key in both is an admin.
  static Result<std::unique_ptr<ControlServer>> Bind(const std::string& endpoint,
                                                     const CurveKeyPair& server_keys,
                                                     const ControlAllowlists& allowlists);
  // Admin keys only (no viewers).
  static Result<std::unique_ptr<ControlServer>> Bind(const std::string& endpoint,
                                                     const CurveKeyPair& server_keys,
                                                     const std::filesystem::path& admin_dir);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // A request if one is waiting (waits at most `timeout`). Requests the server refuses
  // itself (a viewer's mutating verb, a revoked key's) are answered here and not returned.
  std::optional<ControlMessage> Poll(std::chrono::milliseconds timeout);
  Status Reply(const std::string& peer, const std::string& payload);
  const std::string& endpoint() const;
  std::uint64_t rejected() const;   // handshakes refused (unknown key, not CURVE)
  std::uint64_t forbidden() const;  // mutating requests refused to viewer keys
  std::uint64_t revoked() const;    // requests on connections of keys since removed

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
