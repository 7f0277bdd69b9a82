#pragma once

// The loaders under test read files by path. Each input is written to an anonymous in-memory
// file (memfd) and handed over as /proc/self/fd/N: no disk, nothing left behind, and one
// write per execution instead of a create/unlink pair.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace ballast::fuzz {

class MemFile {
 public:
  MemFile(const std::uint8_t* data, std::size_t size) {
    fd_ = ::memfd_create("ballast-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();  // the harness itself is broken: not a finding
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace ballast::fuzz
