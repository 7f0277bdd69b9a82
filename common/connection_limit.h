#pragma once

// How many connections one CURVE key may hold open on a receiving socket (issue 14).
//
// ZeroMQ bounds memory per connection (the receive high-water mark), not per peer: one
// allowlisted key that opens N connections could make the balancer hold N full queues. This
// class learns which connection each message came on (its file descriptor, ZMQ_SRCFD) and
// which key signed it, and hears from the socket monitor when a connection closes. Then:
//  - a key's messages on more than `per_key` connections at once are dropped unread (before
//    any copy or decode, so draining them is cheap and their queues stay empty);
//  - the ZAP handler refuses a key's new handshakes while it already holds `per_key` active
//    connections, so the extra queues are never opened at all. A handshake the gate lets
//    through holds its place at once (Admit), before its first message names its descriptor:
//    otherwise N connections of one key opened together would all pass the gate, since none
//    has been heard yet, and each would fill a queue before its first message is read and
//    turned away (flood_test.cc saw 4 extra queues, 350 MiB, that way).
// A connection that has sent nothing for `quiet_after` no longer counts: a collector whose host
// died and came back, or whose old connection the kernel has not closed yet, must not be locked
// out until the kernel's keepalive gives the dead connection up. Its place goes to the newcomer.
// Thread-safe: the receiving thread reports messages and closes, the ZAP thread asks Full().

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ballast {

class ConnectionLimit {
 public:
  using Clock = std::chrono::steady_clock;

  ConnectionLimit(std::size_t per_key, Clock::duration quiet_after)
      : per_key_(per_key), quiet_after_(quiet_after) {}

  // A message signed by `key` arrived on connection `fd` at `now`: true to accept it, false
  // when the key already has `per_key` other connections that are not quiet.
  bool OnMessage(std::string_view key, int fd, Clock::time_point now);
  // The connection on `fd` closed (socket monitor, ZMQ_EVENT_DISCONNECTED).
  void OnDisconnected(int fd);
  // Whether a new connection of `key` would be over the limit at `now`: its active
  // connections plus its admitted handshakes not yet heard from.
  bool Full(std::string_view key, Clock::time_point now) const;
  // The ZAP gate: when `key` is not Full at `now`, reserves a place for the handshake being
  // admitted and returns true. The place is taken over by the key's next new connection heard
  // (OnMessage), or given up once it has been `quiet_after` old, like a quiet connection: a
  // handshake whose connection closed before it sent anything cannot lock its key out.
  bool Admit(std::string_view key, Clock::time_point now);
  // Connections of `key` currently tracked (quiet ones included), and its admitted
  // handshakes not yet heard from (expired ones included until the key is next looked at).
  std::size_t TrackedConnections(std::string_view key) const;
  std::size_t PendingHandshakes(std::string_view key) const;

 private:
  struct Connection {
    std::string key;
    Clock::time_point last;
  };
  void ForgetLocked(int fd);
  std::size_t ActiveLocked(const std::vector<int>& fds, Clock::time_point now) const;
  std::size_t PendingLocked(std::string_view key, Clock::time_point now) const;
  void DropExpiredPendingLocked(std::string_view key, Clock::time_point now);

  const std::size_t per_key_;
  const Clock::duration quiet_after_;
  mutable std::mutex mu_;
  std::unordered_map<int, Connection> by_fd_;                 // guarded by mu_
  std::unordered_map<std::string, std::vector<int>> by_key_;  // guarded by mu_
  // Per key, when each admitted handshake not yet heard from passed the gate, oldest first.
  std::unordered_map<std::string, std::vector<Clock::time_point>> pending_;  // guarded by mu_
};

}  // namespace ballast
