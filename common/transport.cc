#include "common/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/connection_limit.h"
#include "common/log.h"
#include "common/wire.h"
#include "common/zap.h"

namespace ballast {
namespace {

constexpr char kZapDomain[] = "ballast";
// ZMQ_MAXMSGSIZE limits each frame as it arrives, and under CURVE that is the encrypted
// MESSAGE command: the payload plus its command name, nonce, flags and MAC (33 bytes).
constexpr std::size_t kCurveFrameOverhead = 64;

}  // namespace

class SampleSubscriber::Impl {
 public:
  explicit Impl(zmq::context_t& ctx) : socket(ctx, zmq::socket_type::sub) {}
  ~Impl() {
    if (monitor.handle() != nullptr) zmq_socket_monitor(socket.handle(), nullptr, 0);
    monitor.close();
    socket.close();
    if (zap) zap->Stop();
  }

  // The monitor reports closed connections (the connection limit forgets them) and handshakes
  // that fail before ZAP is asked (a plaintext peer on a CURVE socket, garbage on the port),
  // which only it sees: those are counted and logged as rejections too.
  void DrainMonitor() {
    while (true) {
      std::vector<zmq::message_t> ev;
      if (!zmq::recv_multipart(monitor, std::back_inserter(ev), zmq::recv_flags::dontwait)) {
        return;
      }
      if (ev.size() < 2 || ev[0].size() < 6) continue;
      std::uint16_t event = 0;
      std::uint32_t value = 0;
      std::memcpy(&event, ev[0].data(), sizeof event);
      std::memcpy(&value, static_cast<const char*>(ev[0].data()) + 2, sizeof value);
      if (event == ZMQ_EVENT_DISCONNECTED) {  // value: the connection's file descriptor
        if (limit) limit->OnDisconnected(static_cast<int>(value));
        continue;
      }
      stats.auth_rejected++;
      std::string why;
      if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
          value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        why = "it does not speak CURVE (plaintext collector?)";
      } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
                 (value == EPIPE || value == ECONNRESET)) {
        // A plaintext peer that saw our CURVE greeting first hangs up before we see its own:
        // which side notices the mismatch is a race.
        why =
            "it hung up during the handshake (plaintext collector, or one that does not speak "
            "CURVE with this balancer's key?)";
      } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        why = std::string("handshake failed (") + std::strerror(static_cast<int>(value)) + ")";
      } else {
        why = "handshake failed (protocol error " + std::to_string(value) + ")";
      }
      // Once per reason every 10 s: 10,000 collectors reconnecting at once must not flood
      // the log with one line per handshake the peer gave up.
      std::uint64_t suppressed = 0;
      if (log_limiter.ShouldLog("handshake: " + why, std::chrono::steady_clock::now(),
                                &suppressed)) {
        BLOG(kWarning) << "rejected a publisher on " << ev[1].to_string() << ": " << why
                       << (suppressed > 0 ? " (and " + std::to_string(suppressed) +
                                                " more like it since the last such line)"
                                          : std::string());
      }
    }
  }

  // Closes the connection a message over the key's limit came on: libzmq sees the socket shut,
  // ends that connection and frees its queue (dropping unread alone would not: fair queueing
  // reads each full queue only once per round, and the sender refills it), and the key's
  // reconnect meets the ZAP gate. Only while the descriptor still belongs to the sender's
  // address: one closed and reused meanwhile by another peer is left alone.
  static bool CutConnection(int fd, zmq::message_t& msg) {
    const char* sender =
        msg.gets("Peer-Address");  // NOLINT(clang-analyzer-security.insecureAPI.gets): cppzmq
    if (fd < 0 || sender == nullptr || *sender == '\0') return false;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* ip = nullptr;
    if (addr.ss_family == AF_INET) {
      ip = &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr;
    } else if (addr.ss_family == AF_INET6) {
      ip = &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr;
    }
    if (ip == nullptr || inet_ntop(addr.ss_family, ip, text.data(), text.size()) == nullptr ||
        std::strcmp(text.data(), sender) != 0) {
      return false;
    }
    return shutdown(fd, SHUT_RDWR) == 0;
  }

  // The ZAP handler's gate (its thread only): refuses a key already holding its limit, and
  // holds a place for the handshake it lets through.
  bool AdmitHandshake(std::string_view name) {
    const auto now = std::chrono::steady_clock::now();
    if (limit->Admit(name, now)) return true;
    stats.connection_limit_refused++;
    std::uint64_t more = 0;
    if (zap_log_limiter.ShouldLog(name, now, &more)) {
      BLOG(kWarning) << "refused a connection of collector key '" << name.substr(0, 64)
                     << "': it already holds " << kMaxConnectionsPerKey
                     << " active connections (kMaxConnectionsPerKey)"
                     << (more > 0 ? " (and " + std::to_string(more) + " more since)" : "");
    }
    return false;
  }

  TransportStats stats;
  std::unique_ptr<ZapAuthenticator> zap;
  zmq::socket_t socket;
  zmq::socket_t monitor;
  std::string endpoint;
  bool bind_key_to_topic = false;
  bool curve = false;
  std::unique_ptr<RevocationFilter> revocation;          // with curve
  std::unique_ptr<ConnectionLimit> limit;                // with curve
  LogLimiter log_limiter{std::chrono::seconds(10)};      // per key, receiving thread
  LogLimiter zap_log_limiter{std::chrono::seconds(10)};  // per key, ZAP thread
  std::vector<zmq::message_t> parts;                     // reused by Receive
  int since_monitor_drain = 0;
};

SampleSubscriber::SampleSubscriber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SampleSubscriber::~SampleSubscriber() = default;
const std::string& SampleSubscriber::endpoint() const { return impl_->endpoint; }
const TransportStats& SampleSubscriber::stats() const { return impl_->stats; }

Result<std::unique_ptr<SampleSubscriber>> SampleSubscriber::Bind(
    zmq::context_t& ctx, const std::string& endpoint, std::optional<CurveServerOptions> curve) {
  auto impl = std::make_unique<Impl>(ctx);
  try {
    auto& s = impl->socket;
    s.set(zmq::sockopt::linger, 0);
    // Both bounds are set before bind: ZeroMQ sizes each connection's queue when it opens.
    // See kReceiveQueueMessages for the choice; kMaxMessageBytes follows from kMaxVms.
    s.set(zmq::sockopt::rcvhwm, kReceiveQueueMessages);
    // The transport drops anything larger before it is buffered (topic frame included), and
    // drops that connection: a peer sending oversized frames is not a collector.
    s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxMessageBytes + kCurveFrameOverhead));
    s.set(zmq::sockopt::tcp_keepalive, 1);
    s.set(zmq::sockopt::tcp_keepalive_idle, static_cast<int>(kKeepaliveIdle.count()));
    s.set(zmq::sockopt::tcp_keepalive_intvl, static_cast<int>(kKeepaliveInterval.count()));
    s.set(zmq::sockopt::tcp_keepalive_cnt, kKeepaliveCount);
    if (curve) {
      if (!IsValidZ85Key(curve->server_keys.secret_z85)) {
        return Status::InvalidArgument("the balancer's CURVE secret key is not 40 Z85 characters");
      }
      impl->zap = std::make_unique<ZapAuthenticator>(ctx, curve->allowlist_dir, "collector",
                                                     &impl->stats.auth_accepted,
                                                     &impl->stats.auth_rejected);
      impl->limit = std::make_unique<ConnectionLimit>(kMaxConnectionsPerKey, kQuietConnectionAfter);
      Impl* raw = impl.get();
      impl->zap->SetGate(
          [raw](std::string_view, std::string_view name) { return raw->AdmitHandshake(name); });
      Status st = impl->zap->Start();
      if (!st.ok()) return st;
      impl->revocation = std::make_unique<RevocationFilter>(*impl->zap, "collector");
      s.set(zmq::sockopt::curve_server, 1);
      s.set(zmq::sockopt::curve_secretkey, curve->server_keys.secret_z85);
      s.set(zmq::sockopt::zap_domain, kZapDomain);
      impl->bind_key_to_topic = curve->bind_key_to_topic;
      impl->curve = true;
      static std::atomic<int> counter{0};
      const std::string mon = "inproc://ballast-subscriber-monitor-" + std::to_string(counter++);
      if (zmq_socket_monitor(s.handle(), mon.c_str(),
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED) !=
          0) {
        return Status::Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
      }
      impl->monitor = zmq::socket_t(ctx, zmq::socket_type::pair);
      impl->monitor.set(zmq::sockopt::linger, 0);
      impl->monitor.connect(mon);
    }
    s.set(zmq::sockopt::subscribe, "");
    s.bind(endpoint);
    impl->endpoint = s.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("binding " + endpoint + ": " + e.what());
  }
  return std::unique_ptr<SampleSubscriber>(new SampleSubscriber(std::move(impl)));
}

Result<std::optional<ReceivedMessage>> SampleSubscriber::Receive(
    std::chrono::milliseconds timeout) {
  ReceivedMessage m;
  Result<bool> got = ReceiveInto(timeout, m);
  if (!got.ok()) return got.status();
  if (!*got) return std::optional<ReceivedMessage>();
  return std::optional<ReceivedMessage>(std::move(m));
}

Result<bool> SampleSubscriber::ReceiveInto(std::chrono::milliseconds timeout, ReceivedMessage& m) {
  auto& s = impl_->socket;
  auto& parts = impl_->parts;
  // One message from the queue into `m`, if one is there; false otherwise (and for dropped
  // ones).
  auto take = [&]() -> bool {
    parts.clear();
    if (!zmq::recv_multipart(s, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
      return false;
    }
    if (parts.size() != 2) {
      impl_->stats.malformed_frames++;
      return false;
    }
    m.key_name.clear();
    if (impl_->curve) {
      // Every check runs before the payload is copied: what is dropped costs next to nothing.
      const MessageSender sender = SenderOf(parts[1]);
      // libzmq never closes a connection because its key left the allowlist: every message
      // is checked against the live allowlist instead (an atomic load when nothing changed).
      if (!impl_->revocation->Admits(sender)) {
        impl_->stats.revoked++;
        return false;
      }
      // ZMQ_SRCFD: the connection's descriptor, which identifies it until it closes.
      const int fd = zmq_msg_get(parts[1].handle(), ZMQ_SRCFD);
      if (!impl_->limit->OnMessage(sender.name, fd, std::chrono::steady_clock::now())) {
        impl_->stats.connection_limit_dropped++;
        if (Impl::CutConnection(fd, parts[1])) impl_->stats.connection_limit_cut++;
        std::uint64_t more = 0;
        if (impl_->log_limiter.ShouldLog("connections:" + sender.name,
                                         std::chrono::steady_clock::now(), &more)) {
          BLOG(kWarning) << "dropped a sample of collector key '" << sender.name.substr(0, 64)
                         << "' on its connection number " << kMaxConnectionsPerKey + 1
                         << " or later, and closed that connection: a key may hold "
                         << kMaxConnectionsPerKey << " active connections"
                         << (more > 0 ? " (and " + std::to_string(more) + " more since)" : "");
        }
        return false;
      }
      m.key_name = sender.name;
      const std::string_view topic(static_cast<const char*>(parts[0].data()), parts[0].size());
      if (impl_->bind_key_to_topic && m.key_name != topic) {
        impl_->stats.topic_mismatch++;
        std::uint64_t more = 0;
        if (impl_->log_limiter.ShouldLog(m.key_name, std::chrono::steady_clock::now(), &more)) {
          BLOG(kWarning) << "dropped a sample for host '" << topic.substr(0, 64)
                         << "' signed by the key of '" << m.key_name
                         << "': a collector key may publish only for its own host"
                         << (more > 0 ? " (and " + std::to_string(more) + " more since)" : "");
        }
        return false;
      }
    }
    m.topic.assign(static_cast<const char*>(parts[0].data()), parts[0].size());
    m.payload.assign(static_cast<const char*>(parts[1].data()), parts[1].size());
    return true;
  };
  try {
    // Fast path while messages are queued: no poll (a system call) per message. The monitor
    // is still drained regularly, so refused handshakes are counted under load too.
    if (impl_->monitor.handle() != nullptr && ++impl_->since_monitor_drain >= 64) {
      impl_->since_monitor_drain = 0;
      impl_->DrainMonitor();
    }
    if (take()) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) left = std::chrono::milliseconds(0);
      std::array<zmq::pollitem_t, 2> items{
          {{s.handle(), 0, ZMQ_POLLIN, 0}, {impl_->monitor.handle(), 0, ZMQ_POLLIN, 0}}};
      zmq::poll(items.data(), impl_->monitor.handle() != nullptr ? 2 : 1, left);
      if ((items[1].revents & ZMQ_POLLIN) != 0) impl_->DrainMonitor();
      if ((items[0].revents & ZMQ_POLLIN) == 0) {
        if (std::chrono::steady_clock::now() < deadline) continue;
        return false;
      }
      if (take()) return true;
    }
  } catch (const zmq::error_t& e) {
    // A signal (SIGHUP, SIGUSR1) interrupting the wait is not an error: the caller's loop
    // handles the signal and calls again.
    if (e.num() == EINTR) return false;
    return Status::Unavailable(std::string("receiving samples: ") + e.what());
  }
}

// libzmq 4.3 does not reconnect after the server refused the handshake (unknown key), so the
// publisher watches its socket's monitor and, after a refusal, re-creates the socket a little
// later: a collector started before its key was allowed recovers without a restart.
class SamplePublisher::Impl {
 public:
  static constexpr auto kRetryAfterRefusal = std::chrono::seconds(3);

  Impl(zmq::context_t& c, std::string ep, std::optional<CurveClientOptions> cv)
      : ctx(c), endpoint(std::move(ep)), curve(std::move(cv)) {}
  ~Impl() { Close(); }

  Status Open() {
    static std::atomic<int> counter{0};
    try {
      socket = zmq::socket_t(ctx, zmq::socket_type::pub);
      socket.set(zmq::sockopt::linger, 500);  // flush the last sample on exit, never hang
      socket.set(zmq::sockopt::sndhwm, 64);
      if (curve) {
        socket.set(zmq::sockopt::curve_serverkey, curve->server_public_z85);
        socket.set(zmq::sockopt::curve_publickey, curve->client_keys.public_z85);
        socket.set(zmq::sockopt::curve_secretkey, curve->client_keys.secret_z85);
      }
      const std::string mon = "inproc://ballast-publisher-monitor-" + std::to_string(counter++);
      if (zmq_socket_monitor(socket.handle(), mon.c_str(),
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) {
        return Status::Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
      }
      monitor = zmq::socket_t(ctx, zmq::socket_type::pair);
      monitor.set(zmq::sockopt::linger, 0);
      monitor.connect(mon);
      socket.connect(endpoint);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable("connecting to " + endpoint + ": " + e.what());
    }
    return Status::Ok();
  }

  void Close() {
    if (socket.handle() != nullptr) zmq_socket_monitor(socket.handle(), nullptr, 0);
    monitor.close();
    socket.close();
  }

  // Reads pending monitor events; after a refused handshake schedules a fresh socket.
  void Watch() {
    const auto now = std::chrono::steady_clock::now();
    if (retry_at && now >= *retry_at) {
      retry_at.reset();
      Close();
      Status st = Open();
      if (!st.ok()) BLOG(kError) << st.message();
      return;
    }
    while (monitor.handle() != nullptr) {
      std::vector<zmq::message_t> ev;
      try {
        if (!zmq::recv_multipart(monitor, std::back_inserter(ev), zmq::recv_flags::dontwait)) {
          return;
        }
      } catch (const zmq::error_t&) {
        return;
      }
      if (ev.empty() || ev[0].size() < 2) continue;
      std::uint16_t event = 0;
      std::memcpy(&event, ev[0].data(), sizeof event);
      if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        if (refused) BLOG(kInfo) << "the balancer at " << endpoint << " accepts us now";
        refused = false;
      } else if (!retry_at) {
        if (!refused) {
          BLOG(kError) << "the balancer at " << endpoint << " refused this collector's "
                       << (curve ? "CURVE key (is its .pub in the balancer's allowlist_dir, "
                                   "named after this host? is server_public_key_file the "
                                   "balancer's key?)"
                                 : "plaintext connection (the balancer requires CURVE)")
                       << "; retrying every " << kRetryAfterRefusal.count() << " s";
        }
        refused = true;
        retry_at = now + kRetryAfterRefusal;
      }
    }
  }

  zmq::context_t& ctx;
  std::string endpoint;
  std::optional<CurveClientOptions> curve;
  zmq::socket_t socket;
  zmq::socket_t monitor;
  bool refused = false;
  std::optional<std::chrono::steady_clock::time_point> retry_at;
};

SamplePublisher::SamplePublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SamplePublisher::~SamplePublisher() = default;

Result<std::unique_ptr<SamplePublisher>> SamplePublisher::Connect(
    zmq::context_t& ctx, const std::string& endpoint, std::optional<CurveClientOptions> curve) {
  if (curve && !IsValidZ85Key(curve->server_public_z85)) {
    return Status::InvalidArgument("the balancer's public key is not 40 Z85 characters");
  }
  auto impl = std::make_unique<Impl>(ctx, endpoint, std::move(curve));
  BALLAST_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<SamplePublisher>(new SamplePublisher(std::move(impl)));
}

Status SamplePublisher::Publish(const std::string& topic, const std::string& payload) {
  impl_->Watch();
  try {
    std::array<zmq::const_buffer, 2> parts{zmq::buffer(topic), zmq::buffer(payload)};
    if (!zmq::send_multipart(impl_->socket, parts, zmq::send_flags::dontwait)) {
      return Status::Unavailable("send queue full: sample dropped");
    }
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("publishing: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace ballast
