#include "common/service_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace ballast {
namespace {

// One assignment per line is the protocol: a newline in a status (an error message quoting a
// file) would otherwise start a bogus assignment.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

ServiceNotifier ServiceNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  const bool enabled = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process: a child
  // that inherited the environment must not ping for its parent.
  if (!enabled || sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0) usec = 0;
  return ServiceNotifier(enabled, std::chrono::microseconds(usec / 2));
}

void ServiceNotifier::Send(const std::string& message) {
  if (!enabled_) return;
  const int r = sd_notify(/*unset_environment=*/0, message.c_str());
  // A notification that cannot be delivered is not a reason to stop balancing, but systemd
  // will then time the service out or restart it: say why once.
  if (r < 0 && !warned_) {
    warned_ = true;
    BLOG(kWarning) << "sd_notify failed: " << std::strerror(-r)
                   << " (systemd may consider this service not ready or hung)";
  }
}

void ServiceNotifier::Ready(std::string_view status) {
  last_status_ = OneLine(status);
  Send("READY=1\nSTATUS=" + last_status_);
}

void ServiceNotifier::Status(std::string_view status) {
  std::string line = OneLine(status);
  if (line == last_status_) return;
  last_status_ = std::move(line);
  Send("STATUS=" + last_status_);
}

void ServiceNotifier::Stopping() { Send("STOPPING=1"); }

void ServiceNotifier::Watchdog(std::chrono::steady_clock::time_point now) {
  if (!watchdog_enabled()) return;
  if (last_ping_ && now - *last_ping_ < watchdog_interval_) return;
  last_ping_ = now;
  Send("WATCHDOG=1");
}

}  // namespace ballast
