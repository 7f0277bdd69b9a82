#include "sim/trace.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <memory>

namespace ballast::sim {
namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

std::string LineError(std::size_t line, const std::string& what) {
  return "line " + std::to_string(line) + ": " + what;
}

}  // namespace

Result<std::string> ReadMaybeGzip(const std::string& path) {
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) return Status::NotFound("cannot open " + path);
  std::string out;
  std::vector<char> buf(1 << 16);
  while (true) {
    const int n = gzread(f.get(), buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(f.get(), &err);
      return Status::InvalidArgument(path + ": " + (msg ? msg : "gzip read error"));
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

Result<Trace> ParsePlanetLabCsv(std::string_view text) {
  Trace trace;
  std::size_t line_no = 0;
  std::size_t samples = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t comma = line.find(',');
    if (comma == 0 || comma == std::string_view::npos) {
      return Status::InvalidArgument(LineError(line_no, "expected name,u0,u1,..."));
    }
    VmTrace vm;
    vm.name = std::string(line.substr(0, comma));
    std::string_view rest = line.substr(comma + 1);
    while (true) {
      const std::size_t c = rest.find(',');
      std::string_view field = rest.substr(0, c);
      int value = -1;
      auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (ec != std::errc() || ptr != field.data() + field.size() || value < 0 || value > 100) {
        return Status::InvalidArgument(LineError(
            line_no, "sample " + std::to_string(vm.percent.size()) + " of " + vm.name + ": '" +
                         std::string(field.substr(0, 16)) + "' is not an integer in [0, 100]"));
      }
      vm.percent.push_back(static_cast<float>(value));
      if (c == std::string_view::npos) break;
      rest = rest.substr(c + 1);
    }
    if (vm.percent.size() < 2) {
      return Status::InvalidArgument(LineError(line_no, vm.name + ": needs at least 2 samples"));
    }
    if (samples == 0) samples = vm.percent.size();
    if (vm.percent.size() != samples) {
      return Status::InvalidArgument(LineError(
          line_no, vm.name + ": " + std::to_string(vm.percent.size()) + " samples, expected " +
                       std::to_string(samples) + " like the first VM"));
    }
    trace.vms.push_back(std::move(vm));
  }
  if (trace.vms.empty()) return Status::InvalidArgument("no VM in the trace");
  std::sort(trace.vms.begin(), trace.vms.end(),
            [](const VmTrace& a, const VmTrace& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < trace.vms.size(); ++i) {
    if (trace.vms[i].name == trace.vms[i - 1].name) {
      return Status::InvalidArgument("VM '" + trace.vms[i].name + "' appears twice");
    }
  }
  return trace;
}

Result<Trace> ReadPlanetLabTrace(const std::string& path) {
  auto text = ReadMaybeGzip(path);
  if (!text.ok()) return text.status();
  auto trace = ParsePlanetLabCsv(*text);
  if (!trace.ok()) return trace.status().WithContext(path);
  return trace;
}

}  // namespace ballast::sim
