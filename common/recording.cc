#include "common/recording.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ballast {
namespace {

void PutLe(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t GetLe(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::Unavailable(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<SampleRecorder>> SampleRecorder::Open(const std::string& path) {
  // Owner read-write, group read, like the journal: a recording lists every host and VM.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot create", path);
  if (::fchmod(fd, 0640) != 0) {  // an older file may have been wider open
    Status st = Errno("cannot restrict the mode of", path);
    ::close(fd);
    return st;
  }
  internal::FileHandle f(::fdopen(fd, "wb"));
  if (!f) {
    Status st = Errno("cannot open", path);
    ::close(fd);
    return st;
  }
  if (std::fwrite(kRecordingMagic.data(), 1, kRecordingMagic.size(), f.get()) !=
      kRecordingMagic.size()) {
    return Errno("cannot write", path);
  }
  return std::unique_ptr<SampleRecorder>(new SampleRecorder(std::move(f), path));
}

Status SampleRecorder::Append(std::string_view encoded, std::int64_t arrival_unix_ns) {
  if (encoded.size() > kMaxRecordBytes) {
    return Status::InvalidArgument("record of " + std::to_string(encoded.size()) +
                                   " bytes is larger than the recording format allows");
  }
  std::string head;
  PutLe(head, static_cast<std::uint64_t>(arrival_unix_ns), 8);
  PutLe(head, encoded.size(), 4);
  if (std::fwrite(head.data(), 1, head.size(), file_.get()) != head.size() ||
      std::fwrite(encoded.data(), 1, encoded.size(), file_.get()) != encoded.size()) {
    return Errno("cannot write", path_);
  }
  ++records_;
  bytes_ += head.size() + encoded.size();
  return Status::Ok();
}

Status SampleRecorder::Flush() {
  if (std::fflush(file_.get()) != 0) return Errno("cannot flush", path_);
  return Status::Ok();
}

Result<std::unique_ptr<RecordingReader>> RecordingReader::Open(const std::string& path) {
  internal::FileHandle f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  char magic[8] = {};
  if (std::fread(magic, 1, sizeof(magic), f.get()) != sizeof(magic) ||
      std::string_view(magic, sizeof(magic)) != kRecordingMagic) {
    return Status::InvalidArgument(path + ": not a Ballast recording (bad header)");
  }
  auto r = std::unique_ptr<RecordingReader>(new RecordingReader(std::move(f), path));
  r->offset_ = sizeof(magic);
  return r;
}

Result<std::optional<RecordedSample>> RecordingReader::Next() {
  if (torn_tail_) return std::optional<RecordedSample>();
  unsigned char head[12];
  const std::size_t got = std::fread(head, 1, sizeof(head), file_.get());
  if (got == 0 && std::feof(file_.get())) return std::optional<RecordedSample>();
  if (std::ferror(file_.get())) return Errno("cannot read", path_);
  if (got < sizeof(head)) {
    torn_tail_ = true;
    return std::optional<RecordedSample>();
  }
  RecordedSample s;
  s.arrival_unix_ns = static_cast<std::int64_t>(GetLe(head, 8));
  const std::uint64_t length = GetLe(head + 8, 4);
  if (length > kMaxRecordBytes) {
    return Status::InvalidArgument(path_ + ": record at offset " + std::to_string(offset_) +
                                   " claims " + std::to_string(length) + " bytes: corrupt");
  }
  s.encoded.resize(length);
  if (length > 0 && std::fread(s.encoded.data(), 1, length, file_.get()) != length) {
    if (std::ferror(file_.get())) return Errno("cannot read", path_);
    torn_tail_ = true;
    return std::optional<RecordedSample>();
  }
  offset_ += sizeof(head) + length;
  return std::optional<RecordedSample>(std::move(s));
}

}  // namespace ballast
