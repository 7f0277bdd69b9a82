#include "balancer/journal/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/file_sync.h"

namespace ballast {
namespace {

Status Errno(const std::string& what) {
  return Status::Unavailable(what + ": " + std::strerror(errno));
}

}  // namespace

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

Journal::Journal(JournalOptions options) : options_(std::move(options)) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Journal>> Journal::Open(JournalOptions options) {
  if (options.path.empty()) return Status::InvalidArgument("journal path is empty");
  std::unique_ptr<Journal> j(new Journal(std::move(options)));
  BALLAST_RETURN_IF_ERROR(j->OpenFile());
  // Continue the sequence of an existing journal: only its last record is read (the whole
  // journal can be journal_keep x max_bytes).
  j->seq_ = LastSeq(j->options_.path);
  if (j->seq_ == 0) j->seq_ = LastSeq(j->options_.path + ".1");
  return j;
}

std::uint64_t Journal::LastSeq(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return 0;
  const std::streamoff size = in.tellg();
  // Records are small; the last whole line lies in the last 64 KiB unless a record is huge,
  // in which case the window grows.
  for (std::streamoff window = 64 * 1024;; window *= 4) {
    const std::streamoff from = std::max<std::streamoff>(0, size - window);
    std::string tail(static_cast<std::size_t>(size - from), '\0');
    in.clear();
    in.seekg(from);
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    std::size_t end = tail.size();
    while (end > 0) {
      std::size_t start = tail.rfind('\n', end - 1);
      const bool whole = start != std::string::npos || from == 0;
      start = start == std::string::npos ? 0 : start + 1;
      if (!whole) break;  // the line begins before the window
      auto j = nlohmann::json::parse(tail.substr(start, end - start), nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.contains("seq") &&
          j["seq"].is_number_unsigned()) {
        return j["seq"].get<std::uint64_t>();
      }
      if (start == 0) break;
      end = start - 1;  // the line before (a torn or blank last line is skipped)
    }
    if (from == 0) return 0;
  }
}

Status Journal::OpenFile() {
  std::error_code ec;
  auto parent = std::filesystem::path(options_.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  fd_ = ::open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return Errno("cannot open journal " + options_.path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Errno("cannot stat journal " + options_.path);
  size_ = static_cast<std::uint64_t>(st.st_size);
  // A crash (or a full disk) can leave a torn last line: end it, so the next record starts on
  // a line of its own instead of being glued to the fragment and lost.
  if (size_ > 0) {
    char last = '\n';
    if (::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) == 1 && last != '\n') {
      if (::write(fd_, "\n", 1) != 1) return Errno("cannot repair journal " + options_.path);
      ++size_;
    }
  }
  // Best effort, as before: the journal is usable even where the directory cannot be synced.
  (void)SyncParentDirectory(options_.path);
  return Status::Ok();
}

Status Journal::Rotate() {
  ::close(fd_);
  fd_ = -1;
  const std::string& p = options_.path;
  std::error_code ec;
  std::filesystem::remove(p + "." + std::to_string(options_.keep), ec);
  for (int i = options_.keep - 1; i >= 1; --i) {
    std::filesystem::rename(p + "." + std::to_string(i), p + "." + std::to_string(i + 1), ec);
  }
  if (options_.keep > 0) {
    std::filesystem::rename(p, p + ".1", ec);
    if (ec) return Status::Unavailable("cannot rotate journal " + p + ": " + ec.message());
  } else {
    std::filesystem::remove(p, ec);
  }
  return OpenFile();
}

Status Journal::Append(nlohmann::json record, std::chrono::system_clock::time_point now) {
  if (!record.is_object()) return Status::InvalidArgument("a journal record must be a JSON object");
  if (fd_ < 0) BALLAST_RETURN_IF_ERROR(OpenFile());
  record["ts"] = Rfc3339(now);
  record["seq"] = ++seq_;
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  if (size_ > 0 && size_ + line.size() > options_.max_bytes) BALLAST_RETURN_IF_ERROR(Rotate());
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(fd_, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      Status st = Errno("cannot append to journal " + options_.path);
      CutBack();
      return st;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (options_.fsync && ::fdatasync(fd_) != 0) {
    // Not durable: the caller acts as if it was never written (a move does not start), so
    // the file must not keep it either.
    Status st = Errno("cannot sync journal " + options_.path);
    CutBack();
    return st;
  }
  size_ += line.size();
  return Status::Ok();
}

void Journal::CutBack() {
  // A partial write (a full disk, a file size limit) leaves a torn line that the next record
  // would be glued to; cut the file back to the last whole record at once. If even that
  // fails, the next OpenFile (after rotation or a restart) ends the torn line.
  --seq_;
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
    ::close(fd_);
    fd_ = -1;  // reopened (and repaired) by the next Append
  }
}

std::vector<std::string> Journal::Files(const std::string& path) {
  std::vector<std::string> files;
  for (int i = 64; i >= 1; --i) {
    std::string f = path + "." + std::to_string(i);
    if (std::filesystem::exists(f)) files.push_back(f);
  }
  files.push_back(path);
  return files;
}

void Journal::ForEachLine(const std::string& path,
                          const std::function<bool(std::string_view)>& fn) {
  for (const auto& f : Files(path)) {
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (!fn(line)) return;
    }
  }
}

void Journal::ForEachLineNewestFirst(const std::string& path,
                                     const std::function<bool(std::string_view)>& fn) {
  // Each file is read backwards in blocks: the newest few records cost a block, not a file.
  constexpr std::size_t kBlock = 1 << 20;
  const std::vector<std::string> files = Files(path);
  for (auto f = files.rbegin(); f != files.rend(); ++f) {
    const int fd = ::open(f->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) continue;
    auto pos = static_cast<std::uint64_t>(st.st_size);
    std::string carry;  // the head of a line whose start is in an earlier block
    std::string buf;
    bool read_error = false;
    while (pos > 0 && !read_error) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, pos));
      pos -= n;
      buf.resize(n);
      std::size_t got = 0;
      while (got < n) {
        const ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(pos + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          read_error = true;
          break;
        }
        got += static_cast<std::size_t>(r);
      }
      if (read_error) break;
      buf += carry;
      std::size_t end = buf.size();
      for (;;) {
        while (end > 0 && buf[end - 1] == '\n') --end;  // a line's end, or empty lines
        if (end == 0) break;
        const std::size_t nl = buf.rfind('\n', end - 1);
        if (nl == std::string::npos) break;  // its start is in an earlier block
        if (!fn(std::string_view(buf.data() + nl + 1, end - nl - 1))) return;
        end = nl;
      }
      carry.assign(buf, 0, end);
    }
    if (!carry.empty() && !fn(carry)) return;
  }
}

std::optional<nlohmann::json> Journal::ParseLine(std::string_view line) {
  auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::vector<nlohmann::json> Journal::ReadAll(const std::string& path,
                                             std::uint64_t* skipped_lines) {
  std::vector<nlohmann::json> out;
  std::uint64_t skipped = 0;
  ForEachLine(path, [&](std::string_view line) {
    auto j = ParseLine(line);
    if (j) {
      out.push_back(std::move(*j));
    } else {
      ++skipped;
    }
    return true;
  });
  if (skipped_lines != nullptr) *skipped_lines = skipped;
  return out;
}

}  // namespace ballast
