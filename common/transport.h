#pragma once

// The stats stream: collectors PUB (connect), the balancer SUB (bind); topic = host name.
//
// Security: with CURVE (the default everywhere, tests and demo included) the stream is
// encrypted and every collector authenticated by a ZAP handler against the balancer's
// allowlist directory of public keys. A key may publish only for the host it is named after
// (allowlist file NAME.pub -> topic NAME), so a stolen collector key cannot forge another
// host's hotspot. Plaintext only when explicitly configured.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/curve_keys.h"
#include "common/status.h"

namespace zmq {
class context_t;
}

namespace ballast {

struct CurveServerOptions {
  CurveKeyPair server_keys;
  std::filesystem::path allowlist_dir;  // *.pub files; watched live (common/zap.h)
  bool bind_key_to_topic = true;        // key NAME may only publish topic NAME
};

// Receive queue bound, in messages, per connected publisher (ZeroMQ keeps one queue per
// connection, and a collector has one connection carrying one host): 5 s of samples at the
// shortest interval a collector allows (100 ms), 50 s at the default 1 s. A balancer that
// lags longer than that is better served by fresh samples than by old ones, and since samples
// carry cumulative counters a dropped one costs resolution, never correctness. It bounds what
// one connection can make the balancer hold to kReceiveQueueMessages x kMaxMessageBytes
// (about 100 MiB), where it used to be 20,000 x 4 MiB.
inline constexpr int kReceiveQueueMessages = 50;

// ...and since that bound is per connection, the connections one key may hold at once
// (common/connection_limit.h): one for the collector, one more so that a restarted collector
// is heard before the kernel reports its old connection closed. The first message on a key's
// further connection is dropped unread and that connection closed, and its further handshakes
// are refused, so one key can make the balancer hold at most kMaxConnectionsPerKey full queues. A
// connection silent for kQuietConnectionAfter gives its place to a newcomer of the same key.
inline constexpr std::size_t kMaxConnectionsPerKey = 2;
inline constexpr auto kQuietConnectionAfter = std::chrono::seconds(10);
// TCP keepalive on the balancer's side: a collector whose host vanished without closing its
// TCP connection is disconnected after about kKeepaliveIdle + kKeepaliveCount x
// kKeepaliveInterval (11 s) of silence, not after the kernel's two hours. The kernel does the
// probing. Not ZMTP heartbeats: libzmq (4.3) keeps every connection's heartbeat timers in one
// ordered map per I/O thread and cancels one by a linear scan on each pong, which at 10,000
// collectors cost more CPU than the samples themselves (bench/README, ingest).
inline constexpr auto kKeepaliveIdle = std::chrono::seconds(5);
inline constexpr auto kKeepaliveInterval = std::chrono::seconds(2);
inline constexpr int kKeepaliveCount = 3;

struct CurveClientOptions {
  CurveKeyPair client_keys;
  std::string server_public_z85;
};

struct ReceivedMessage {
  std::string topic;
  std::string payload;
  std::string key_name;  // allowlist name of the sender's key ("" in plaintext)
};

// Counters, readable from any thread.
struct TransportStats {
  std::atomic<std::uint64_t> auth_accepted{0};
  std::atomic<std::uint64_t> auth_rejected{0};     // unknown key or wrong mechanism
  std::atomic<std::uint64_t> topic_mismatch{0};    // a key publishing for another host
  std::atomic<std::uint64_t> malformed_frames{0};  // not [topic, payload]
  // Sent on a connection opened before the key was removed from the allowlist: dropped.
  std::atomic<std::uint64_t> revoked{0};
  // A key over kMaxConnectionsPerKey: its samples on the extra connections (dropped unread),
  // those extra connections closed, and its handshakes refused while it held that many
  // active connections.
  std::atomic<std::uint64_t> connection_limit_dropped{0};
  std::atomic<std::uint64_t> connection_limit_cut{0};
  std::atomic<std::uint64_t> connection_limit_refused{0};
};

class SampleSubscriber {
 public:
  // Binds `endpoint` (e.g. "tcp://127.0.0.1:5555"; port 0 or "*" picks a free one, see
  // endpoint()). Without `curve` the socket is plaintext: only when configured so.
  static Result<std::unique_ptr<SampleSubscriber>> Bind(zmq::context_t& ctx,
                                                        const std::string& endpoint,
                                                        std::optional<CurveServerOptions> curve);
  ~SampleSubscriber();
  SampleSubscriber(const SampleSubscriber&) = delete;
  SampleSubscriber& operator=(const SampleSubscriber&) = delete;

  // Waits up to `timeout` for a message. nullopt on timeout. Messages that fail the transport
  // checks (a key revoked since it connected, a key over its connection limit, a key publishing
  // for another host) are dropped and counted, never returned.
  Result<std::optional<ReceivedMessage>> Receive(std::chrono::milliseconds timeout);
  // The same into `out`, reusing its strings' storage (the balancer's loop keeps one): true
  // when a message arrived, false on timeout; `out` is meaningful only after true.
  Result<bool> ReceiveInto(std::chrono::milliseconds timeout, ReceivedMessage& out);

  const std::string& endpoint() const;  // the bound endpoint, port resolved
  const TransportStats& stats() const;

  class Impl;

 private:
  explicit SampleSubscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class SamplePublisher {
 public:
  static Result<std::unique_ptr<SamplePublisher>> Connect(zmq::context_t& ctx,
                                                          const std::string& endpoint,
                                                          std::optional<CurveClientOptions> curve);
  ~SamplePublisher();
  SamplePublisher(const SamplePublisher&) = delete;
  SamplePublisher& operator=(const SamplePublisher&) = delete;

  // Queues one message; never blocks. When the queue is full (balancer away) the message is
  // dropped: counters are cumulative, so the next one carries the information.
  Status Publish(const std::string& topic, const std::string& payload);

  class Impl;

 private:
  explicit SamplePublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast
