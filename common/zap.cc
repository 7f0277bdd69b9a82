#include "common/zap.h"

#include <array>
#include <mutex>
#include <set>
#include <thread>
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

// ZMTP property list (RFC 23): name length (1 byte), name, value length (4 bytes, network
// order), value. libzmq turns the ZAP reply's properties into message metadata.
void AppendProperty(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  const auto n = static_cast<std::uint32_t>(value.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(value);
}

std::filesystem::file_time_type MtimeOf(const std::filesystem::path& dir) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(dir, ec);
  return ec ? std::filesystem::file_time_type::min() : t;
}

}  // namespace

const AllowlistSnapshot::Entry* AllowlistSnapshot::Find(std::string_view public_z85) const {
  auto it = by_key_.find(std::string(public_z85));
  return it == by_key_.end() ? nullptr : &it->second;
}

bool AllowlistSnapshot::Admits(std::string_view name, std::string_view public_z85) const {
  const Entry* e = Find(public_z85);
  return e != nullptr && e->name == name;
}

MessageSender SenderOf(zmq::message_t& m) {
  // gets() returns null for a property the connection does not have (plaintext).
  auto get = [&](const char* p) {
    const char* v = m.gets(p);  // NOLINT(clang-analyzer-security.insecureAPI.gets): cppzmq
    return std::string(v != nullptr ? v : "");
  };
  return MessageSender{get("User-Id"), get(kKeyProperty), get(kRoleProperty)};
}

bool RevocationFilter::Admits(const MessageSender& sender) {
  const std::uint64_t g = zap_->generation();
  if (g != generation_ || !snapshot_) {
    snapshot_ = zap_->Current();
    generation_ = g;
  }
  if (snapshot_->Admits(sender.name, sender.key)) {
    logged_.erase(sender.key);
    return true;
  }
  // Bounded: only keys that were once admitted can be here, and they are in the allowlist.
  if (logged_.emplace(sender.key, true).second) {
    BLOG(kWarning) << "dropping messages from " << what_ << " '" << sender.name.substr(0, 64)
                   << "' (public key " << sender.key.substr(0, 40)
                   << "): its key was removed from the allowlist (revoked); its open connection "
                      "is ignored from now on";
  }
  return false;
}

class ZapAuthenticator::Impl {
 public:
  Impl(zmq::context_t& ctx, std::vector<AllowlistSource> sources, std::string what,
       std::atomic<std::uint64_t>* accepted, std::atomic<std::uint64_t>* rejected)
      : sources_(std::move(sources)),
        what_(std::move(what)),
        accepted_(accepted),
        rejected_(rejected),
        socket_(ctx, zmq::socket_type::rep),
        snapshot_(std::make_shared<AllowlistSnapshot>()) {
    socket_.set(zmq::sockopt::linger, 0);
    mtimes_.resize(sources_.size());
  }
  ~Impl() { Stop(); }

  void SetGate(ZapAuthenticator::Gate gate) { gate_ = std::move(gate); }

  Status Start() {
    // Strict at start: a typo in a directory name must stop the daemon, not admit nobody.
    for (const auto& s : sources_) {
      auto keys = LoadAllowlist(s.dir);
      if (!keys.ok()) return keys.status();
    }
    Reload();
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

  std::shared_ptr<const AllowlistSnapshot> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshot_;
  }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  // Re-reads every directory. Lenient, unlike Start: a file being copied in (half written)
  // or one bad file must not stop the others; an unreadable directory admits nobody (a
  // revocation by chmod or rm -r works, and failing closed is the safe side).
  void Reload() {
    auto next = std::make_shared<AllowlistSnapshot>();
    for (std::size_t i = 0; i < sources_.size(); ++i) {
      const auto& src = sources_[i];
      mtimes_[i] = MtimeOf(src.dir);
      std::error_code ec;
      std::filesystem::directory_iterator it(src.dir, ec);
      if (ec) {
        LogOnce("cannot read allowlist directory " + src.dir.string() + ": " + ec.message() +
                "; admitting none of its keys");
        continue;
      }
      for (const auto& entry : it) {
        if (entry.path().extension() != ".pub") continue;
        auto key = LoadCurvePublicKey(entry.path());
        if (!key.ok()) {
          LogOnce("ignoring allowlist file: " + key.status().message());
          continue;
        }
        // emplace: a key already admitted by an earlier source keeps that source's role.
        next->by_key_.emplace(*key,
                              AllowlistSnapshot::Entry{entry.path().stem().string(), src.role});
      }
    }
    last_full_reload_ = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ && SameEntries(*snapshot_, *next)) return;
    snapshot_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_release);
  }

  static bool SameEntries(const AllowlistSnapshot& a, const AllowlistSnapshot& b) {
    if (a.by_key_.size() != b.by_key_.size()) return false;
    for (const auto& [key, e] : a.by_key_) {
      auto it = b.by_key_.find(key);
      if (it == b.by_key_.end() || it->second.name != e.name || it->second.role != e.role) {
        return false;
      }
    }
    return true;
  }

  void LogOnce(const std::string& message) {
    if (logged_.insert(message).second) BLOG(kError) << message;
  }

  // Adding, removing or renaming a file changes its directory's mtime: a stat per directory
  // finds it; the periodic full reload catches a file overwritten in place.
  void RefreshIfChanged(bool force_stat) {
    const auto now = std::chrono::steady_clock::now();
    if (!force_stat && now - last_check_ < kRecheckInterval) return;
    last_check_ = now;
    bool changed = now - last_full_reload_ >= kFullReloadInterval;
    for (std::size_t i = 0; i < sources_.size() && !changed; ++i) {
      changed = MtimeOf(sources_[i].dir) != mtimes_[i];
    }
    if (changed) Reload();
  }

  void Run() {
    while (!stop_) {
      std::array<zmq::pollitem_t, 1> items{{{socket_.handle(), 0, ZMQ_POLLIN, 0}}};
      try {
        zmq::poll(items.data(), items.size(), kRecheckInterval);
        RefreshIfChanged(false);
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
    std::string metadata;
    bool gated = false;
    if (frame(0) != "1.0") {
      text = "bad ZAP version";
    } else if (mechanism != "CURVE") {
      text = "CURVE required";
      BLOG(kWarning) << "rejected a " << mechanism.substr(0, 16) << " " << what_ << " from "
                     << address << ": CURVE is required";
    } else {
      const std::string key = Z85Encode(frame(6));
      // Every handshake sees the directories as they are now: a removed key is refused on
      // its very next reconnect, a new one admitted without a restart.
      RefreshIfChanged(true);
      const auto snapshot = Current();
      const AllowlistSnapshot::Entry* e = snapshot->Find(key);
      if (e != nullptr && gate_ && !gate_(key, e->name)) {
        gated = true;
        text = "too many connections for this key";
      } else if (e != nullptr) {
        status = "200";
        text = "OK";
        user = e->name;
        AppendProperty(metadata, kKeyProperty, key);
        AppendProperty(metadata, kRoleProperty, e->role);
      } else {
        std::string dirs;
        for (const auto& s : sources_) dirs += (dirs.empty() ? "" : ", ") + s.dir.string();
        BLOG(kWarning) << "rejected " << what_ << " from " << address << ": public key " << key
                       << " is not in the allowlist " << dirs;
      }
    }
    std::atomic<std::uint64_t>* counter = status == "200" ? accepted_ : rejected_;
    if (counter != nullptr && !gated) ++*counter;
    std::array<zmq::const_buffer, 6> reply{zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                           zmq::buffer(status),    zmq::buffer(text),
                                           zmq::buffer(user),      zmq::buffer(metadata)};
    zmq::send_multipart(socket_, reply);
  }

  std::vector<AllowlistSource> sources_;
  std::string what_;
  std::atomic<std::uint64_t>* accepted_;
  std::atomic<std::uint64_t>* rejected_;
  ZapAuthenticator::Gate gate_;  // set before Start, then read by the handler thread only
  zmq::socket_t socket_;
  // Touched by the handler thread only (and by Start before it runs):
  std::vector<std::filesystem::file_time_type> mtimes_;
  std::chrono::steady_clock::time_point last_check_{};
  std::chrono::steady_clock::time_point last_full_reload_{};
  std::set<std::string> logged_;  // reload problems already logged
  // Read by receiving threads:
  mutable std::mutex mu_;
  std::shared_ptr<const AllowlistSnapshot> snapshot_;  // guarded by mu_
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, std::vector<AllowlistSource> sources,
                                   std::string what, std::atomic<std::uint64_t>* accepted,
                                   std::atomic<std::uint64_t>* rejected)
    : impl_(std::make_unique<Impl>(ctx, std::move(sources), std::move(what), accepted, rejected)) {}
ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, std::filesystem::path allowlist_dir,
                                   std::string what, std::atomic<std::uint64_t>* accepted,
                                   std::atomic<std::uint64_t>* rejected)
    : ZapAuthenticator(ctx, {AllowlistSource{std::move(allowlist_dir), what}}, what, accepted,
                       rejected) {}
ZapAuthenticator::~ZapAuthenticator() = default;
void ZapAuthenticator::SetGate(Gate gate) { impl_->SetGate(std::move(gate)); }
Status ZapAuthenticator::Start() { return impl_->Start(); }
void ZapAuthenticator::Stop() { impl_->Stop(); }
std::shared_ptr<const AllowlistSnapshot> ZapAuthenticator::Current() const {
  return impl_->Current();
}
std::uint64_t ZapAuthenticator::generation() const { return impl_->generation(); }

}  // namespace ballast
