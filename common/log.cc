#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace ballast {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::string g_tag = "ballast";  // set once at start-up, before threads

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
void SetLogLevelByName(std::string_view name) {
  SetLogLevel(name == "debug"     ? LogLevel::kDebug
              : name == "warning" ? LogLevel::kWarning
              : name == "error"   ? LogLevel::kError
                                  : LogLevel::kInfo);
}
LogLevel GetLogLevel() { return g_level; }
void SetLogTag(std::string_view tag) { g_tag = std::string(tag); }

LogLine::~LogLine() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
  std::string line =
      std::string(stamp) + frac + " " + LevelName(level_) + " " + g_tag + ": " + out_.str() + "\n";
  // One write: lines from several threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

bool LogLimiter::ShouldLog(std::string_view key, std::chrono::steady_clock::time_point now,
                           std::uint64_t* suppressed) {
  Slot* slot = &overflow_;
  if (auto it = slots_.find(std::string(key)); it != slots_.end()) {
    slot = &it->second;
  } else if (slots_.size() < kMaxKeys) {
    slot = &slots_[std::string(key)];
  }
  if (slot->used && now - slot->last < interval_) {
    ++slot->suppressed;
    return false;
  }
  if (suppressed != nullptr) *suppressed = slot->suppressed;
  slot->used = true;
  slot->last = now;
  slot->suppressed = 0;
  return true;
}

}  // namespace ballast
