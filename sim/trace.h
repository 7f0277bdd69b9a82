#pragma once

// PlanetLab VM CPU traces (shared/traces/README.md): a `#` comment line, then one VM per
// line, `name,u0,u1,...`: integer percentages of the VM's own capacity, one per 300 s.
// Reading (gzip) is apart from parsing, which is pure and tested on strings.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ballast::sim {

inline constexpr double kPlanetLabStepSeconds = 300;

struct VmTrace {
  std::string name;
  std::vector<float> percent;  // 0..100, one per step
};

struct Trace {
  double step_seconds = kPlanetLabStepSeconds;
  std::vector<VmTrace> vms;  // sorted by name (the published model assigns VM types by it)
};

// Parses the CSV text. Every VM must have the same number (>= 2) of samples in [0, 100];
// names must be unique. Errors name the line.
Result<Trace> ParsePlanetLabCsv(std::string_view text);

// Reads a gzip-compressed (or plain) CSV file and parses it.
Result<Trace> ReadPlanetLabTrace(const std::string& path);

// Reads a whole file, gunzipping it if it is gzip-compressed (zlib reads plain files as is).
Result<std::string> ReadMaybeGzip(const std::string& path);

}  // namespace ballast::sim
