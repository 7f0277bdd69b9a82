#pragma once

// A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is in one of its
// allowlist directories of NAME.pub files, and gives each the user id NAME. One per ZeroMQ
// context (it binds inproc://zeromq.zap.01), started before any CURVE server socket of that
// context binds: without a handler libzmq would let every valid CURVE client in.
// Refusals are logged with the peer's address and public key (never a secret).
//
// Revocation: the handler keeps a snapshot of the allowlists fresh on its own thread (the
// directories' mtimes are checked every kRecheckInterval, everything re-read every
// kFullReloadInterval to catch a .pub overwritten in place), and answers every handshake from
// the current snapshot, so a removed key's reconnects are refused. Connections already open
// are not cut by libzmq: the receiving side checks each message's metadata (kKeyProperty,
// kRoleProperty, set here) against Current() and drops what a revoked key sent.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace zmq {
class context_t;
class message_t;
}  // namespace zmq

namespace ballast {

// Message metadata names this handler sets on every admitted connection (zmq_msg_gets).
inline constexpr char kKeyProperty[] = "Ballast-Key";    // the peer's public key, Z85
inline constexpr char kRoleProperty[] = "Ballast-Role";  // the role of the directory it is in

// One allowlist directory and the role its keys get ("collector", "admin", "viewer").
struct AllowlistSource {
  std::filesystem::path dir;
  std::string role;
};

// An immutable view of the allowlists at one moment.
class AllowlistSnapshot {
 public:
  struct Entry {
    std::string name;
    std::string role;
  };
  // The entry of `public_z85`, or null. Sources listed first win for a key in several.
  const Entry* Find(std::string_view public_z85) const;
  // Whether a message signed by (name, key) would be admitted now.
  bool Admits(std::string_view name, std::string_view public_z85) const;
  std::size_t size() const { return by_key_.size(); }

 private:
  friend class ZapAuthenticator;
  std::unordered_map<std::string, Entry> by_key_;  // Z85 public key -> entry
};

// The sender of one received message, from its metadata; empty fields in plaintext.
// (Not const: cppzmq declares message_t::gets non-const.)
struct MessageSender {
  std::string name;  // User-Id: the allowlist name
  std::string key;   // kKeyProperty
  std::string role;  // kRoleProperty
};
MessageSender SenderOf(zmq::message_t& m);

class ZapAuthenticator {
 public:
  static constexpr auto kRecheckInterval = std::chrono::milliseconds(100);
  static constexpr auto kFullReloadInterval = std::chrono::seconds(5);

  // `what` names the clients in logs ("collector", "control client"). Sources listed first
  // win when a key is in several. The counters may be null.
  ZapAuthenticator(zmq::context_t& ctx, std::vector<AllowlistSource> sources, std::string what,
                   std::atomic<std::uint64_t>* accepted, std::atomic<std::uint64_t>* rejected);
  // One directory whose keys get the role `what`.
  ZapAuthenticator(zmq::context_t& ctx, std::filesystem::path allowlist_dir, std::string what,
                   std::atomic<std::uint64_t>* accepted, std::atomic<std::uint64_t>* rejected);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // A further check every allowlisted key must pass at its handshake (the stats stream's
  // per-key connection limit, common/connection_limit.h). Set before Start; it runs on the
  // handler's thread. A key it turns away is refused ("400") and counted by the gate's owner,
  // not as a rejected key.
  using Gate = std::function<bool(std::string_view public_z85, std::string_view name)>;
  void SetGate(Gate gate);

  // Reads the allowlists (an unreadable or malformed one is an error) and starts answering.
  Status Start();
  void Stop();

  // The current allowlists. Thread-safe; cheap (a mutex and a shared_ptr copy): callers that
  // check every message compare generation() first and fetch only when it moved.
  std::shared_ptr<const AllowlistSnapshot> Current() const;
  // Increases with every snapshot that differs from the previous one.
  std::uint64_t generation() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Checks received messages against the live allowlist: drops (and logs once per key) what a
// key that has since been removed sent on a connection it opened while it was allowed.
// Not thread-safe: one per receiving thread.
class RevocationFilter {
 public:
  RevocationFilter(const ZapAuthenticator& zap, std::string what)
      : zap_(&zap), what_(std::move(what)) {}
  // True when `sender` is still allowed; false (logged the first time per key) when revoked.
  bool Admits(const MessageSender& sender);

 private:
  const ZapAuthenticator* zap_;
  std::string what_;
  std::uint64_t generation_ = ~std::uint64_t{0};
  std::shared_ptr<const AllowlistSnapshot> snapshot_;
  std::unordered_map<std::string, bool> logged_;  // revoked keys already logged
};

}  // namespace ballast
