#pragma once

// Recordings of the sample stream the balancer ingests, for what-if replays (ballast-sim
// replays one through a candidate policy).
//
// File format (little-endian):
//   header: the 8 bytes "BALREC1\n"
//   records, repeated: u64 arrival_unix_ns, u32 length, then `length` bytes: one encoded
//   HostSample (common/wire.h) exactly as received, topic not included (it equals the host
//   name, which the sample carries).
// A record cut short at the end of the file (the writer died mid-write) is reported by the
// reader as a torn tail and ignored; everything before it stays readable.
//
// Thread-compatible: one writer or reader per object.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ballast {

inline constexpr std::string_view kRecordingMagic = "BALREC1\n";
// No HostSample is larger (wire.h's kMaxMessageBytes); a length above it means a corrupt file.
inline constexpr std::uint32_t kMaxRecordBytes = 4 * 1024 * 1024;

namespace internal {
struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;
}  // namespace internal

class SampleRecorder {
 public:
  // Creates (or truncates) `path` and writes the header. Appending to an existing
  // recording is not supported: each run starts a new file.
  static Result<std::unique_ptr<SampleRecorder>> Open(const std::string& path);

  // Buffered; Flush() or destruction writes it out. Fails if the record is too large or the
  // write fails (disk full): the caller should log it and may stop recording.
  Status Append(std::string_view encoded, std::int64_t arrival_unix_ns);
  Status Flush();

  std::uint64_t records() const { return records_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  SampleRecorder(internal::FileHandle f, std::string path)
      : file_(std::move(f)), path_(std::move(path)) {}
  internal::FileHandle file_;
  std::string path_;
  std::uint64_t records_ = 0;
  std::uint64_t bytes_ = 0;
};

struct RecordedSample {
  std::int64_t arrival_unix_ns = 0;
  std::string encoded;
};

class RecordingReader {
 public:
  // Opens and checks the header: NotFound, or InvalidArgument if it is not a recording.
  static Result<std::unique_ptr<RecordingReader>> Open(const std::string& path);

  // The next record, nullopt at the end (or at a torn tail, see torn_tail()); an error for
  // a corrupt record (length above kMaxRecordBytes) or a read error.
  Result<std::optional<RecordedSample>> Next();

  bool torn_tail() const { return torn_tail_; }

 private:
  RecordingReader(internal::FileHandle f, std::string path)
      : file_(std::move(f)), path_(std::move(path)) {}
  internal::FileHandle file_;
  std::string path_;
  bool torn_tail_ = false;
  std::uint64_t offset_ = 0;
};

}  // namespace ballast
