#pragma once

// Minimal line logger to stderr: `BLOG(kInfo) << "host " << name << " stale";`
// One line per statement, written atomically (one write call), prefixed with UTC time and
// level. Never log secrets: key files are logged by path, keys by their public half only.

#include <sstream>
#include <string_view>

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
