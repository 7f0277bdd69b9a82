#pragma once

// Minimal line logger to stderr: `BLOG(kInfo) << "host " << name << " stale";`
// One line per statement, written atomically (one write call), prefixed with UTC time and
// level. Never log secrets: key files are logged by path, keys by their public half only.

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ballast {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

void SetLogLevel(LogLevel level);
// Sets the level from its name ("debug", "info", "warning", "error"; anything else: info),
// as the daemons' --log-level flag gives it.
void SetLogLevelByName(std::string_view name);
LogLevel GetLogLevel();
// Sets a program tag printed in each line ("collector", "balancer").
void SetLogTag(std::string_view tag);

class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream out_;
};

// Rate limit for log lines a remote peer can trigger at will (a rejected sample, a key
// publishing for another host): at most one line per `interval` per key, so one sender cannot
// flood the log. Remembers at most kMaxKeys keys; past that, unknown keys share one slot (a
// flood from many keys still yields a bounded number of lines). Not thread-safe.
class LogLimiter {
 public:
  static constexpr std::size_t kMaxKeys = 4096;
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  // True when a line for `key` may be written now; `*suppressed` (if not null) then gets the
  // number of lines for that key swallowed since the last one written.
  bool ShouldLog(std::string_view key, std::chrono::steady_clock::time_point now,
                 std::uint64_t* suppressed = nullptr);

 private:
  struct Slot {
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;
    bool used = false;
  };
  std::chrono::steady_clock::duration interval_;
  std::unordered_map<std::string, Slot> slots_;
  Slot overflow_;
};

}  // namespace ballast

namespace ballast {
// Lets BLOG be one expression (safe inside an unbraced if/else): `&` binds looser than `<<`.
struct LogVoidify {
  void operator&(const LogLine&) {}
};
}  // namespace ballast

#define BLOG(level)                                       \
  (::ballast::LogLevel::level < ::ballast::GetLogLevel()) \
      ? (void)0                                           \
      : ::ballast::LogVoidify() & ::ballast::LogLine(::ballast::LogLevel::level)
