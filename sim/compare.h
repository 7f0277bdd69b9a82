#pragma once

// `ballast-sim compare`: every shipped day, every strategy, one table, targets judged.

#include <string>
#include <vector>

namespace ballast::sim {

struct CompareOptions {
  std::vector<std::string> days;  // e.g. {"20110303"}; empty: every *.csv.gz in traces_dir
  std::string traces_dir;
  std::string policies_dir;  // holds sim-hotspot.yaml, sim-balance.yaml, sim-density.yaml
  std::string out_dir;       // compare.json, compare.txt and the plots land here
  int tight_hosts = 0;       // 0: search per day for the largest count where none >= 5 %
  bool plots = true;
};

// Prints the table to stdout; returns the process exit code.
int RunCompare(const CompareOptions& options);

}  // namespace ballast::sim
