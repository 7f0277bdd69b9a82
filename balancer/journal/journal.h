#pragma once

// The decision journal: every decision the balancer takes (planned, skipped with its reason,
// started, finished, failed, aborted; policy reloads; start and stop) appended as one JSON
// object per line, fsync'd before Append returns, so an admin can always find why a VM moved
// — also after a crash. Rotated by size: FILE, FILE.1, ... FILE.<keep>.
//
// Each record gets "ts" (RFC 3339 UTC, from the caller's clock) and "seq" (per journal).
// Not thread-safe: owned by the daemon's loop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ballast {

struct JournalOptions {
  std::string path;
  std::uint64_t max_bytes = 64ull << 20;  // rotate when the file would exceed this
  int keep = 5;                           // rotated files kept
  bool fsync = true;                      // off only in benchmarks
};

class Journal {
 public:
  static Result<std::unique_ptr<Journal>> Open(JournalOptions options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Durable when it returns Ok. On an error nothing of the record stays in the file (a torn
  // line is cut back at once), so a record either is in the journal whole or not at all.
  Status Append(nlohmann::json record, std::chrono::system_clock::time_point now);

  // Reads records oldest first from the rotated files and the current one; lines that do
  // not parse (a torn last line after a crash) are skipped and counted.
  static std::vector<nlohmann::json> ReadAll(const std::string& path,
                                             std::uint64_t* skipped_lines = nullptr);

  // The files behind `path`, oldest first: FILE.N ... FILE.1, FILE (those that exist).
  static std::vector<std::string> Files(const std::string& path);

  // Streams the journal's lines (without their newline, empty ones skipped) to `fn`, oldest
  // first, one line in memory at a time; `fn` returns false to stop. Readers that need only
  // some records look at the text first and parse only what they keep: a full journal is
  // hundreds of MiB, and every record parsed at once costs gigabytes.
  static void ForEachLine(const std::string& path, const std::function<bool(std::string_view)>& fn);
  // The same, newest first (each file read backwards in 1 MiB blocks): for readers that want
  // the newest few records.
  static void ForEachLineNewestFirst(const std::string& path,
                                     const std::function<bool(std::string_view)>& fn);
  // A line as a record: an object, or nullopt (a torn line after a crash, or not JSON).
  static std::optional<nlohmann::json> ParseLine(std::string_view line);

 private:
  explicit Journal(JournalOptions options);
  Status OpenFile();
  Status Rotate();
  // After a failed append: the file back to its last whole record, the sequence number back.
  void CutBack();
  // The "seq" of the last whole record of `path`, read from its end; 0 if none.
  static std::uint64_t LastSeq(const std::string& path);

  JournalOptions options_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t seq_ = 0;
};

std::string Rfc3339(std::chrono::system_clock::time_point t);

}  // namespace ballast
