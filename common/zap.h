#pragma once

// A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients whose public key is in an
// allowlist directory of NAME.pub files, and gives each the user id NAME. One per ZeroMQ
// context (it binds inproc://zeromq.zap.01), started before any CURVE server socket of that
// context binds: without a handler libzmq would let every valid CURVE client in.
// Refusals are logged with the peer's address and public key (never a secret).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/status.h"

namespace zmq {
class context_t;
}

namespace ballast {

class ZapAuthenticator {
 public:
  // `what` names the clients in logs ("collector", "admin"). The counters may be null.
  ZapAuthenticator(zmq::context_t& ctx, std::filesystem::path allowlist_dir, std::string what,
                   std::atomic<std::uint64_t>* accepted, std::atomic<std::uint64_t>* rejected);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // Reads the allowlist (an unreadable or malformed one is an error) and starts answering.
  Status Start();
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast
