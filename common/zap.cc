#include "common/zap.h"

#include <array>
#include <thread>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/curve_keys.h"
#include "common/log.h"

namespace ballast {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";

std::string Z85Encode(const std::string& raw32) {
  char out[41];
  if (raw32.size() != 32 ||
      zmq_z85_encode(out, reinterpret_cast<const std::uint8_t*>(raw32.data()), 32) == nullptr) {
    return "<invalid key>";
  }
  return out;
}

}  // namespace

class ZapAuthenticator::Impl {
 public:
  Impl(zmq::context_t& ctx, std::filesystem::path dir, std::string what,
       std::atomic<std::uint64_t>* accepted, std::atomic<std::uint64_t>* rejected)
      : dir_(std::move(dir)),
        what_(std::move(what)),
        accepted_(accepted),
        rejected_(rejected),
        socket_(ctx, zmq::socket_type::rep) {
    socket_.set(zmq::sockopt::linger, 0);
  }
  ~Impl() { Stop(); }

  Status Start() {
    BALLAST_RETURN_IF_ERROR(Reload());
    try {
      socket_.bind(kZapEndpoint);
    } catch (const zmq::error_t& e) {
      return Status::Internal(std::string("binding the ZAP handler: ") + e.what());
    }
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  Status Reload() {
    auto keys = LoadAllowlist(dir_);
    if (!keys.ok()) return keys.status();
    std::unordered_map<std::string, std::string> by_key;
    for (auto& k : *keys) by_key[k.public_z85] = k.name;
    allowed_ = std::move(by_key);
    std::error_code ec;
    dir_mtime_ = std::filesystem::last_write_time(dir_, ec);
    return Status::Ok();
  }

  // Adding or removing a file changes the directory's mtime: a cheap check per unknown key.
  bool AllowlistChanged() const {
    std::error_code ec;
    auto mtime = std::filesystem::last_write_time(dir_, ec);
    return !ec && mtime != dir_mtime_;
  }

  void Run() {
    while (!stop_) {
      std::array<zmq::pollitem_t, 1> items{{{socket_.handle(), 0, ZMQ_POLLIN, 0}}};
      try {
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
        if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
        std::vector<zmq::message_t> req;
        if (!zmq::recv_multipart(socket_, std::back_inserter(req))) continue;
        Answer(req);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) return;
        if (e.num() == EINTR) continue;
        BLOG(kError) << "ZAP handler: " << e.what();
      }
    }
  }

  void Answer(const std::vector<zmq::message_t>& req) {
    // version, request id, domain, address, identity, mechanism, credentials...
    auto frame = [&](std::size_t i) { return i < req.size() ? req[i].to_string() : std::string(); };
    const std::string request_id = frame(1);
    const std::string address = frame(3);
    const std::string mechanism = frame(5);
    std::string status = "400";
    std::string text = "denied";
    std::string user;
    if (frame(0) != "1.0") {
      text = "bad ZAP version";
    } else if (mechanism != "CURVE") {
      text = "CURVE required";
      BLOG(kWarning) << "rejected a " << mechanism << " " << what_ << " from " << address
                     << ": CURVE is required";
    } else {
      const std::string key = Z85Encode(frame(6));
      auto it = allowed_.find(key);
      if (it == allowed_.end() && AllowlistChanged()) {
        // A newly added key is picked up without a restart.
        Status st = Reload();
        if (!st.ok()) BLOG(kError) << "reloading the allowlist: " << st.ToString();
        it = allowed_.find(key);
      }
      if (it != allowed_.end()) {
        status = "200";
        text = "OK";
        user = it->second;
      } else {
        BLOG(kWarning) << "rejected " << what_ << " from " << address << ": public key " << key
                       << " is not in the allowlist " << dir_.string();
      }
    }
    std::atomic<std::uint64_t>* counter = status == "200" ? accepted_ : rejected_;
    if (counter != nullptr) ++*counter;
    std::array<zmq::const_buffer, 6> reply{zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                           zmq::buffer(status),    zmq::buffer(text),
                                           zmq::buffer(user),      zmq::str_buffer("")};
    zmq::send_multipart(socket_, reply);
  }

  std::filesystem::path dir_;
  std::string what_;
  std::atomic<std::uint64_t>* accepted_;
  std::atomic<std::uint64_t>* rejected_;
  zmq::socket_t socket_;
  std::unordered_map<std::string, std::string> allowed_;  // public key -> name
  std::filesystem::file_time_type dir_mtime_{};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, std::filesystem::path allowlist_dir,
                                   std::string what, std::atomic<std::uint64_t>* accepted,
                                   std::atomic<std::uint64_t>* rejected)
    : impl_(std::make_unique<Impl>(ctx, std::move(allowlist_dir), std::move(what), accepted,
                                   rejected)) {}
ZapAuthenticator::~ZapAuthenticator() = default;
Status ZapAuthenticator::Start() { return impl_->Start(); }
void ZapAuthenticator::Stop() { impl_->Stop(); }

}  // namespace ballast
