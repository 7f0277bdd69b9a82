#pragma once

// yaml-cpp keeps both entries of a mapping that repeats a key and a lookup
// returns the first, so `strategies:` given twice silently loses the second.
// Every YAML file we read (policies, daemon configs) is checked with this and a
// repeat is an error.
//
// Header-only so the policy loader can use it in core-only builds, which have
// no ballast_common.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace ballast {

struct DuplicateYamlKey {
  YAML::Mark mark;   // where the repeat is
  std::string path;  // dotted path of the key, e.g. "density.max_utilization"
  int first_line;    // 1-based line of the first occurrence
};

namespace yaml_duplicates_internal {

inline void Walk(const YAML::Node& node, const std::string& path,
                 std::vector<DuplicateYamlKey>& out) {
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      Walk(node[i], path + "[" + std::to_string(i) + "]", out);
    }
    return;
  }
  if (!node.IsMap()) return;
  std::vector<std::pair<std::string, int>> seen;  // key, first line (1-based)
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string child =
        it->first.IsScalar() ? (path.empty() ? "" : path + ".") + it->first.Scalar() : path;
    if (it->first.IsScalar()) {
      const std::string& key = it->first.Scalar();
      bool repeated = false;
      for (const auto& [k, line] : seen) {
        if (k == key) {
          out.push_back({it->first.Mark(), child, line});
          repeated = true;
          break;
        }
      }
      if (!repeated) seen.emplace_back(key, it->first.Mark().line + 1);
    }
    Walk(it->second, child, out);
  }
}

}  // namespace yaml_duplicates_internal

// Every key that repeats an earlier key of the same mapping, in document order.
inline std::vector<DuplicateYamlKey> FindDuplicateYamlKeys(const YAML::Node& root) {
  std::vector<DuplicateYamlKey> out;
  yaml_duplicates_internal::Walk(root, "", out);
  return out;
}

}  // namespace ballast
