#pragma once

// Levenshtein distance, for did-you-mean suggestions on unknown config and policy keys.
// Header-only so that the policy loader (built in BALLAST_CORE_ONLY mode, without
// ballast_common's protobuf and ZeroMQ) and the daemons' config helpers share one copy.

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

namespace ballast {

// Insertions, deletions and substitutions each cost 1. O(|a|·|b|) time, O(|b|) space:
// meant for short keys.
inline std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];  // row[i-1][j-1]
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];  // row[i-1][j]
      row[j] = std::min({up + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace ballast
