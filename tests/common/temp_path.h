#pragma once

// A per-process path in the temp directory for tests: TEMP/ballast_<name>_<pid>. The caller
// creates and removes it.

#include <unistd.h>

#include <filesystem>
#include <string>

namespace ballast::testing {

inline std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("ballast_" + name + "_" + std::to_string(::getpid())))
      .string();
}

}  // namespace ballast::testing
