#pragma once

// systemd's service notification protocol (sd_notify(3)), so a unit with Type=notify learns
// when a daemon is really ready and WatchdogSec= restarts a daemon whose loop hangs.
//
// Every call is a no-op when the process was not started with NOTIFY_SOCKET (run by hand, by
// the tests, by the demo), so daemons call it unconditionally. Not thread-safe: call it from
// the main loop only, which is the point of the watchdog (a ping from a helper thread would
// keep a hung loop alive).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ballast {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET and, through sd_watchdog_enabled(), WATCHDOG_USEC/WATCHDOG_PID.
  static ServiceNotifier FromEnvironment();

  // READY=1 with a STATUS= line: call once sockets are bound, keys and policy loaded and
  // /metrics is serving; systemd holds back units ordered after this one until then.
  void Ready(std::string_view status);
  // STATUS= line shown by `systemctl status`: hosts, VMs, last plan. Newlines become spaces
  // (the protocol is one assignment per line). Repeating the last status sends nothing.
  void Status(std::string_view status);
  // STOPPING=1: shutdown has begun (systemd then shows "deactivating" rather than a hang).
  void Stopping();
  // Sends WATCHDOG=1 when at least half of WATCHDOG_USEC has passed since the last ping (as
  // sd_watchdog_enabled(3) advises); otherwise does nothing, so it is cheap enough to call on
  // every loop pass.
  void Watchdog(std::chrono::steady_clock::time_point now);

  bool enabled() const { return enabled_; }
  bool watchdog_enabled() const { return watchdog_interval_.count() > 0; }
  // Half of WATCHDOG_USEC; zero when the watchdog is off.
  std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

 private:
  ServiceNotifier(bool enabled, std::chrono::microseconds watchdog_interval)
      : enabled_(enabled), watchdog_interval_(watchdog_interval) {}
  void Send(const std::string& message);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_interval_{0};
  std::optional<std::chrono::steady_clock::time_point> last_ping_;
  std::string last_status_;
  bool warned_ = false;
};

}  // namespace ballast
