#include "common/control_channel.h"

#include <array>
#include <cstring>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/log.h"
#include "common/proto/control.pb.h"
#include "common/wire.h"
#include "common/zap.h"

namespace ballast {
namespace {

constexpr char kAdminRole[] = "admin";
constexpr char kViewerRole[] = "viewer";
// A request is a verb and a few strings (a policy for diff): far below this.
constexpr std::int64_t kMaxControlMessageBytes = 1 << 20;

std::string ReplyBytes(const std::string& code, const std::string& message) {
  control::ControlReply r;
  r.set_api_version(kControlProtocolVersion);
  r.set_ok(false);
  r.set_error_code(code);
  r.set_error(message);
  return r.SerializeAsString();
}

}  // namespace

Result<ControlRequestInfo> DecodeControlRequest(std::string_view payload) {
  InstallProtobufLogHandler();
  if (payload.size() > static_cast<std::size_t>(kMaxControlMessageBytes)) {
    return Status::InvalidArgument("control request of " + std::to_string(payload.size()) +
                                   " bytes");
  }
  control::ControlRequest req;
  if (!req.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::InvalidArgument("not a ballast.control.ControlRequest (" +
                                   std::to_string(payload.size()) + " bytes)");
  }
  ControlRequestInfo info;
  // Listed one by one, with no default: a verb added to control.proto fails to compile here
  // (-Wswitch) until someone decides whether viewers may use it.
  switch (req.verb_case()) {
    case control::ControlRequest::kStatus:
      return ControlRequestInfo{"status", false};
    case control::ControlRequest::kPlan:
      return ControlRequestInfo{"plan", false};
    case control::ControlRequest::kExplain:
      return ControlRequestInfo{"explain", false};
    case control::ControlRequest::kHistory:
      return ControlRequestInfo{"history", false};
    case control::ControlRequest::kPolicyDiff:
      return ControlRequestInfo{"policy diff", false};
    case control::ControlRequest::kMigrate:
      return ControlRequestInfo{"migrate", true};
    case control::ControlRequest::kDrain:
      return ControlRequestInfo{"drain", true};
    case control::ControlRequest::kUndrain:
      return ControlRequestInfo{"undrain", true};
    case control::ControlRequest::kPause:
      return ControlRequestInfo{"pause", true};
    case control::ControlRequest::kResume:
      return ControlRequestInfo{"resume", true};
    case control::ControlRequest::VERB_NOT_SET:
      break;
  }
  return info;  // no verb (or one newer than this build): the balancer says bad_request
}

class ControlServer::Impl {
 public:
  Impl() : socket(ctx, zmq::socket_type::router) {}
  ~Impl() {
    socket.close();
    if (zap) zap->Stop();
  }
  // Answers a request the server refuses itself; logs at most once a minute per key.
  void Refuse(const std::string& peer, const MessageSender& who, const std::string& code,
              const std::string& message) {
    std::uint64_t more = 0;
    if (log_limiter.ShouldLog(who.key, std::chrono::steady_clock::now(), &more)) {
      BLOG(kWarning) << "control endpoint: refused " << (who.role.empty() ? "a" : who.role)
                     << " key '" << who.name.substr(0, 64) << "': " << message
                     << (more > 0 ? " (and " + std::to_string(more) + " more since)" : "");
    }
    const std::string reply = ReplyBytes(code, message);
    std::array<zmq::const_buffer, 3> parts{zmq::buffer(peer), zmq::str_buffer(""),
                                           zmq::buffer(reply)};
    try {
      (void)zmq::send_multipart(socket, parts, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      BLOG(kWarning) << "control refusal: " << e.what();
    }
  }

  zmq::context_t ctx;  // its own context: its own ZAP handler, on the admin allowlist
  std::unique_ptr<ZapAuthenticator> zap;
  std::unique_ptr<RevocationFilter> revocation;
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> forbidden{0};
  std::atomic<std::uint64_t> revoked{0};
  LogLimiter log_limiter{std::chrono::minutes(1)};
  zmq::socket_t socket;
  std::string endpoint;
};

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlServer::~ControlServer() = default;
const std::string& ControlServer::endpoint() const { return impl_->endpoint; }
std::uint64_t ControlServer::rejected() const { return impl_->rejected.load(); }
std::uint64_t ControlServer::forbidden() const { return impl_->forbidden.load(); }
std::uint64_t ControlServer::revoked() const { return impl_->revoked.load(); }

Result<std::unique_ptr<ControlServer>> ControlServer::Bind(const std::string& endpoint,
                                                           const CurveKeyPair& server_keys,
                                                           const std::filesystem::path& admin_dir) {
  return Bind(endpoint, server_keys, ControlAllowlists{admin_dir, {}});
}

Result<std::unique_ptr<ControlServer>> ControlServer::Bind(const std::string& endpoint,
                                                           const CurveKeyPair& server_keys,
                                                           const ControlAllowlists& allowlists) {
  // Admins first: a key in both directories is an admin.
  std::vector<AllowlistSource> sources;
  if (!allowlists.admin_dir.empty()) sources.push_back({allowlists.admin_dir, kAdminRole});
  if (!allowlists.viewer_dir.empty()) sources.push_back({allowlists.viewer_dir, kViewerRole});
  if (sources.empty()) {
    return Status::InvalidArgument("control endpoint: no admin or viewer allowlist directory");
  }
  auto impl = std::make_unique<Impl>();
  impl->zap = std::make_unique<ZapAuthenticator>(impl->ctx, std::move(sources), "control client",
                                                 &impl->accepted, &impl->rejected);
  Status st = impl->zap->Start();
  if (!st.ok()) return st.WithContext("control endpoint");
  impl->revocation = std::make_unique<RevocationFilter>(*impl->zap, "control client");
  try {
    auto& s = impl->socket;
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, kMaxControlMessageBytes + 64);
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
    const MessageSender who = SenderOf(parts[2]);
    m.admin = who.name;
    m.payload = parts[2].to_string();
    if (!impl_->revocation->Admits(who)) {
      impl_->revoked++;
      impl_->Refuse(m.peer, who, kUnauthenticatedCode,
                    "this key was removed from the balancer's allowlist");
      return std::nullopt;
    }
    // Roles are decided here, from the directory the key is in now (a key moved from the
    // admin to the viewer directory loses its rights on the next request).
    m.role = who.role == kAdminRole ? ControlRole::kAdmin : ControlRole::kViewer;
    if (m.role == ControlRole::kViewer) {
      auto info = DecodeControlRequest(m.payload);
      if (info.ok() && info->mutating) {
        impl_->forbidden++;
        impl_->Refuse(m.peer, who, kForbiddenCode,
                      "'" + info->verb + "' changes the cluster and needs an admin key; '" +
                          who.name.substr(0, 64) +
                          "' is a viewer key (status, plan, explain, history, policy diff)");
        return std::nullopt;
      }
      if (!info.ok() || info->verb.empty()) {
        // Undecodable or verbless: a viewer gets no benefit of the doubt.
        impl_->forbidden++;
        impl_->Refuse(m.peer, who, kForbiddenCode,
                      "a viewer key may send only read-only requests, and this one names none");
        return std::nullopt;
      }
    }
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
            " refused this key: is its .pub in the balancer's admin_allowlist_dir (or "
            "viewer_allowlist_dir), and is "
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
