#pragma once

// The resident set size of a process, from /proc/PID/status (for tests and benchmarks that
// measure memory).

#include <sys/types.h>

#include <fstream>
#include <string>

namespace ballast {

// VmRSS of `pid` (0: this process) in MiB; 0 if it cannot be read.
inline double RssMiB(pid_t pid = 0) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

}  // namespace ballast
