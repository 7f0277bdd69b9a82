#include "common/config_util.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/edit_distance.h"
#include "common/yaml_duplicates.h"

namespace ballast {
namespace {

std::string Where(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

Result<double> ParseNumberPrefix(std::string_view text, std::string_view* unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' ||
                             text[i] == 'e' || text[i] == 'E' ||
                             ((text[i] == '+' || text[i] == '-') && i > 0 &&
                              (text[i - 1] == 'e' || text[i - 1] == 'E')))) {
    // Stop at a unit starting with 'e'? None of ours do except "EiB", which has
    // 'i' next.
    if ((text[i] == 'e' || text[i] == 'E') && i + 1 < text.size() && text[i + 1] == 'i') break;
    ++i;
  }
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + i, v);
  if (i == 0 || ec != std::errc() || p != text.data() + i || !std::isfinite(v) || v < 0) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a non-negative number");
  }
  std::string_view rest = text.substr(i);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  *unit = rest;
  return v;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  std::string_view unit;
  auto v = ParseNumberPrefix(text, &unit);
  if (!v.ok()) return v.status();
  double scale = 0;
  if (unit == "ns")
    scale = 1;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "s")
    scale = 1e9;
  else if (unit == "m")
    scale = 60e9;
  else if (unit == "h")
    scale = 3600e9;
  else {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' needs a unit: ns, us, ms, s, m or h (e.g. 500ms, 2s)");
  }
  double ns = *v * scale;
  if (ns > 1e18) return Status::InvalidArgument("'" + std::string(text) + "' is too long");
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

Result<std::uint64_t> ParseBytes(std::string_view text) {
  std::string_view unit;
  auto v = ParseNumberPrefix(text, &unit);
  if (!v.ok()) return v.status();
  static const std::pair<std::string_view, double> kUnits[] = {
      {"", 1},         {"B", 1},    {"KiB", 0x1p10}, {"MiB", 0x1p20}, {"GiB", 0x1p30},
      {"TiB", 0x1p40}, {"KB", 1e3}, {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) {
      double b = *v * scale;
      if (b >= 0x1p63) return Status::InvalidArgument("'" + std::string(text) + "' is too large");
      return static_cast<std::uint64_t>(std::llround(b));
    }
  }
  return Status::InvalidArgument("'" + std::string(text) +
                                 "': unknown unit (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

YamlMapReader::YamlMapReader(const YAML::Node& node, std::string file, std::string path,
                             std::vector<std::string> known_keys, std::vector<std::string>* errors)
    : node_(node), file_(std::move(file)), path_(std::move(path)), errors_(errors) {
  if (!node_ || node_.IsNull()) return;
  if (!node_.IsMap()) {
    errors_->push_back(Where(file_, node_.Mark()) + ": " + (path_.empty() ? "<top>" : path_) +
                       ": expected a mapping of keys to values");
    return;
  }
  for (const auto& kv : node_) {
    const std::string key = kv.first.as<std::string>("");
    if (std::find(known_keys.begin(), known_keys.end(), key) != known_keys.end()) continue;
    std::string best;
    std::size_t best_d = 3;  // suggest only close matches
    for (const auto& k : known_keys) {
      std::size_t d = EditDistance(key, k);
      if (d < best_d) {
        best_d = d;
        best = k;
      }
    }
    std::string msg = "unknown key '" + PathOf(key) + "'";
    if (!best.empty()) msg += "; did you mean '" + best + "'?";
    errors_->push_back(Where(file_, kv.first.Mark()) + ": " + msg);
  }
}

// Out of line: YAML::Node's destructor is defined in yaml-cpp's impl headers,
// which this header's includers need not pull in.
YamlMapReader::~YamlMapReader() = default;

std::string YamlMapReader::PathOf(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool YamlMapReader::Has(const std::string& key) const {
  return node_ && node_.IsMap() && node_[key];
}

YAML::Node YamlMapReader::Get(const std::string& key) const {
  if (!Has(key)) return YAML::Node();
  return node_[key];
}

void YamlMapReader::Error(const YAML::Node& at, const std::string& key,
                          const std::string& message) {
  errors_->push_back(Where(file_, at.Mark()) + ": " + PathOf(key) + ": " + message);
}

bool YamlMapReader::String(const std::string& key, std::string* out) {
  if (!Has(key)) return true;
  YAML::Node n = node_[key];
  if (!n.IsScalar()) {
    Error(n, key, "expected a string");
    return false;
  }
  *out = n.Scalar();
  return true;
}

bool YamlMapReader::Bool(const std::string& key, bool* out) {
  if (!Has(key)) return true;
  YAML::Node n = node_[key];
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    Error(n, key, "expected true or false, got '" + (n.IsScalar() ? n.Scalar() : "") + "'");
    return false;
  }
  *out = v;
  return true;
}

bool YamlMapReader::Double(const std::string& key, double* out, double min, double max) {
  if (!Has(key)) return true;
  YAML::Node n = node_[key];
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
    Error(n, key, "expected a number, got '" + (n.IsScalar() ? n.Scalar() : "") + "'");
    return false;
  }
  if (v < min || v > max) {
    std::ostringstream m;
    m << n.Scalar() << " is out of range [" << min << ", " << max << "]";
    Error(n, key, m.str());
    return false;
  }
  *out = v;
  return true;
}

bool YamlMapReader::UInt(const std::string& key, std::uint64_t* out, std::uint64_t min,
                         std::uint64_t max) {
  if (!Has(key)) return true;
  YAML::Node n = node_[key];
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || v != std::floor(v) || v < 0) {
    Error(n, key, "expected a whole number, got '" + (n.IsScalar() ? n.Scalar() : "") + "'");
    return false;
  }
  if (v < static_cast<double>(min) || v > static_cast<double>(max)) {
    Error(
        n, key,
        n.Scalar() + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return false;
  }
  *out = static_cast<std::uint64_t>(v);
  return true;
}

bool YamlMapReader::Duration(const std::string& key, std::chrono::nanoseconds* out,
                             std::chrono::nanoseconds min, std::chrono::nanoseconds max) {
  if (!Has(key)) return true;
  YAML::Node n = node_[key];
  if (!n.IsScalar()) {
    Error(n, key, "expected a duration such as 500ms or 2s");
    return false;
  }
  auto d = ParseDuration(n.Scalar());
  if (!d.ok()) {
    Error(n, key, d.status().message());
    return false;
  }
  if (*d < min || *d > max) {
    auto ms = [](std::chrono::nanoseconds x) { return std::to_string(x.count() / 1000000) + "ms"; };
    Error(n, key, n.Scalar() + " is out of range [" + ms(min) + ", " + ms(max) + "]");
    return false;
  }
  *out = *d;
  return true;
}

bool YamlMapReader::Bytes(const std::string& key, std::uint64_t* out) {
  if (!Has(key)) return true;
  YAML::Node n = node_[key];
  if (!n.IsScalar()) {
    Error(n, key, "expected a size such as 4GiB");
    return false;
  }
  auto b = ParseBytes(n.Scalar());
  if (!b.ok()) {
    Error(n, key, b.status().message());
    return false;
  }
  *out = *b;
  return true;
}

bool YamlMapReader::Enum(const std::string& key, std::string* out,
                         const std::vector<std::string>& allowed) {
  std::string v = *out;
  if (!String(key, &v)) return false;
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    Error(node_[key], key, "'" + v + "' is not one of: " + list);
    return false;
  }
  *out = v;
  return true;
}

Result<YAML::Node> LoadYamlFile(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Status::NotFound("cannot read " + file + ": " + std::strerror(errno));
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(Where(file, e.mark) + ": " + e.msg);
  }
  std::vector<std::string> errors;
  for (const DuplicateYamlKey& d : FindDuplicateYamlKeys(root)) {
    errors.push_back(Where(file, d.mark) + ": " + d.path + ": key given twice (first on line " +
                     std::to_string(d.first_line) + ")");
  }
  if (!errors.empty()) return ErrorsToStatus(errors);
  return root;
}

Status ErrorsToStatus(const std::vector<std::string>& errors) {
  if (errors.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(msg);
}

}  // namespace ballast
