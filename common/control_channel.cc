#include "common/control_channel.h"

#include <array>
#include <cstring>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/log.h"
#include "common/zap.h"

namespace ballast {

class ControlServer::Impl {
 public:
  Impl() : socket(ctx, zmq::socket_type::router) {}
  ~Impl() {
    socket.close();
    if (zap) zap->Stop();
  }
  zmq::context_t ctx;  // its own context: its own ZAP handler, on the admin allowlist
  std::unique_ptr<ZapAuthenticator> zap;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> rejected{0};
  zmq::socket_t socket;
  std::string endpoint;
};

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlServer::~ControlServer() = default;
const std::string& ControlServer::endpoint() const { return impl_->endpoint; }
std::uint64_t ControlServer::rejected() const { return impl_->rejected.load(); }

Result<std::unique_ptr<ControlServer>> ControlServer::Bind(const std::string& endpoint,
                                                           const CurveKeyPair& server_keys,
                                                           const std::filesystem::path& admin_dir) {
  auto impl = std::make_unique<Impl>();
  impl->zap = std::make_unique<ZapAuthenticator>(impl->ctx, admin_dir, "admin", &impl->accepted,
                                                 &impl->rejected);
  Status st = impl->zap->Start();
  if (!st.ok()) return st.WithContext("control endpoint");
  try {
    auto& s = impl->socket;
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(4 << 20));
    s.set(zmq::sockopt::curve_server, 1);
    s.set(zmq::sockopt::curve_secretkey, server_keys.secret_z85);
    s.set(zmq::sockopt::zap_domain, "ballast-control");
    s.bind(endpoint);
    impl->endpoint = s.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("binding the control endpoint " + endpoint + ": " + e.what());
  }
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

std::optional<ControlMessage> ControlServer::Poll(std::chrono::milliseconds timeout) {
  try {
    std::array<zmq::pollitem_t, 1> items{{{impl_->socket.handle(), 0, ZMQ_POLLIN, 0}}};
    zmq::poll(items.data(), items.size(), timeout);
    if ((items[0].revents & ZMQ_POLLIN) == 0) return std::nullopt;
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(impl_->socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
      return std::nullopt;
    }
    // REQ envelope: [routing id, empty delimiter, payload].
    if (parts.size() != 3 || parts[1].size() != 0) return std::nullopt;
    ControlMessage m;
    m.peer = parts[0].to_string();
    const char* user = parts[2].gets("User-Id");
    m.admin = user ? user : "";
    m.payload = parts[2].to_string();
    return m;
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) BLOG(kError) << "control endpoint: " << e.what();
    return std::nullopt;
  }
}

Status ControlServer::Reply(const std::string& peer, const std::string& payload) {
  try {
    std::array<zmq::const_buffer, 3> parts{zmq::buffer(peer), zmq::str_buffer(""),
                                           zmq::buffer(payload)};
    if (!zmq::send_multipart(impl_->socket, parts, zmq::send_flags::dontwait)) {
      return Status::Unavailable("control reply could not be queued");
    }
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("control reply: ") + e.what());
  }
  return Status::Ok();
}

Result<std::string> ControlCall(const std::string& endpoint, const CurveKeyPair& client_keys,
                                const std::string& server_public_z85, const std::string& request,
                                std::chrono::milliseconds timeout) {
  if (!IsValidZ85Key(server_public_z85)) {
    return Status::InvalidArgument("the balancer's public key is not 40 Z85 characters");
  }
  zmq::context_t ctx;
  try {
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::curve_serverkey, server_public_z85);
    s.set(zmq::sockopt::curve_publickey, client_keys.public_z85);
    s.set(zmq::sockopt::curve_secretkey, client_keys.secret_z85);
    if (zmq_socket_monitor(s.handle(), "inproc://ballastctl-monitor",
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
      return Status::Internal("zmq_socket_monitor failed");
    }
    zmq::socket_t mon(ctx, zmq::socket_type::pair);
    mon.set(zmq::sockopt::linger, 0);
    mon.connect("inproc://ballastctl-monitor");
    s.connect(endpoint);
    s.send(zmq::buffer(request), zmq::send_flags::none);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::array<zmq::pollitem_t, 2> items{
          {{s.handle(), 0, ZMQ_POLLIN, 0}, {mon.handle(), 0, ZMQ_POLLIN, 0}}};
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
      if ((items[1].revents & ZMQ_POLLIN) != 0) {
        zmq_socket_monitor(s.handle(), nullptr, 0);
        return Status::PermissionDenied(
            "the balancer at " + endpoint +
            " refused this key: is its .pub in the balancer's admin_allowlist_dir, and is "
            "--server-key the balancer's public key?");
      }
      if ((items[0].revents & ZMQ_POLLIN) != 0) {
        zmq::message_t reply;
        (void)s.recv(reply);
        zmq_socket_monitor(s.handle(), nullptr, 0);
        return reply.to_string();
      }
    }
    zmq_socket_monitor(s.handle(), nullptr, 0);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("control call to " + endpoint + ": " + e.what());
  }
  return Status::DeadlineExceeded("no answer from the balancer at " + endpoint + " within " +
                                  std::to_string(timeout.count()) + " ms (is it running?)");
}

}  // namespace ballast
