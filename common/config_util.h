#pragma once

// Helpers for the daemons' YAML config files: errors that name file:line:column and the
// option path, unknown keys with a did-you-mean, durations ("500ms", "2s") and sizes ("4GiB").

#include <yaml-cpp/node/node.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ballast {

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);
Result<std::uint64_t> ParseBytes(std::string_view text);

// Reads one YAML mapping with a fixed set of keys, collecting every error as
// "FILE:LINE:COL: PATH: message".
class YamlMapReader {
 public:
  YamlMapReader(const YAML::Node& node, std::string file, std::string path,
                std::vector<std::string> known_keys, std::vector<std::string>* errors);
  ~YamlMapReader();
  YamlMapReader(const YamlMapReader&) = delete;
  YamlMapReader& operator=(const YamlMapReader&) = delete;

  bool Has(const std::string& key) const;
  YAML::Node Get(const std::string& key) const;
  // Each returns false (and records an error) when the key is present but invalid;
  // an absent key leaves `out` at its default.
  bool String(const std::string& key, std::string* out);
  bool Bool(const std::string& key, bool* out);
  bool Double(const std::string& key, double* out, double min, double max);
  bool UInt(const std::string& key, std::uint64_t* out, std::uint64_t min, std::uint64_t max);
  bool Duration(const std::string& key, std::chrono::nanoseconds* out, std::chrono::nanoseconds min,
                std::chrono::nanoseconds max);
  bool Bytes(const std::string& key, std::uint64_t* out);
  bool Enum(const std::string& key, std::string* out, const std::vector<std::string>& allowed);

  void Error(const YAML::Node& at, const std::string& key, const std::string& message);
  std::string PathOf(const std::string& key) const;
  const std::string& file() const { return file_; }

 private:
  // A copy, not a reference: a Node is a cheap handle onto the same document, and callers
  // pass temporaries such as `YamlMapReader cap(top.Get("capacity"), ...)`, which a
  // reference would outlive. Const, so lookups never insert keys into the document.
  const YAML::Node node_;
  std::string file_;
  std::string path_;
  std::vector<std::string>* errors_;
};

// Loads a YAML file; a syntax error names file:line:column.
Result<YAML::Node> LoadYamlFile(const std::string& file);
// Joins collected errors into one InvalidArgument status (or Ok when none).
Status ErrorsToStatus(const std::vector<std::string>& errors);

}  // namespace ballast
