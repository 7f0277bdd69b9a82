// Reaction time (issue 19, target 4), from what a run left behind: the balancer's recording
// of the samples it ingested and its journal. The recording is replayed through the model the
// daemon uses (ClusterModel, host load as the sum of the VMs, as on the lab's test hosts), so
// "over the hot mark" means what the balancer saw. Reaction = the journal's migration_started
// off HOST minus the collector's stamp of the first sample of that hot episode (the first
// sample over the mark after one under it). Target: <= K sampling intervals + 50 ms.
//
//   ballast_bench_reaction RECORDING JOURNAL HOST HOT_MARK K
// bench/reaction_time.sh runs the end-to-end scenario and calls this.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "balancer/model/cluster_model.h"
#include "common/recording.h"
#include "common/wire.h"

namespace {

// "2026-12-01T16:26:21.179Z" -> Unix milliseconds; -1 if it is not that shape.
std::int64_t ParseTimestampMs(const std::string& ts) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "ballast_bench_reaction: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s RECORDING JOURNAL HOST HOT_MARK K\n", argv[0]);
    return 2;
  }
  const std::string host = argv[3];
  const double mark = std::atof(argv[4]);
  const int k = std::atoi(argv[5]);

  // The first migration off HOST.
  std::int64_t started_ms = -1;
  std::string vm, to;
  std::ifstream journal(argv[2]);
  if (!journal) return Fail(std::string("cannot read the journal ") + argv[2]);
  for (std::string line; std::getline(journal, line);) {
    if (line.find("\"migration_started\"") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("event", "") != "migration_started" ||
        j.value("from", "") != host) {
      continue;
    }
    started_ms = ParseTimestampMs(j.value("ts", ""));
    vm = j.value("vm", "");
    to = j.value("to", "");
    break;
  }
  if (started_ms < 0) {
    return Fail("no migration_started off " + host + " (with a timestamp) in the journal");
  }

  auto reader = ballast::RecordingReader::Open(argv[1]);
  if (!reader.ok()) return Fail(reader.status().ToString());
  ballast::ClusterModel model(ballast::ModelOptions{.host_load = ballast::HostLoad::kVmSum});
  std::vector<std::int64_t> stamps;   // HOST's samples (collector stamps, ns)
  std::vector<std::int64_t> episode;  // stamps of the hot samples of the current episode
  std::vector<std::int64_t> last_episode_before_start;
  bool hot = false;
  while (true) {
    auto rec = (*reader)->Next();
    if (!rec.ok()) return Fail(rec.status().ToString());
    if (!rec->has_value()) break;
    ballast::DecodeResult d = ballast::DecodeHostSample((*rec)->encoded);
    if (!d.ok()) continue;
    const ballast::HostSample& s = d.sample();
    const ballast::SteadyTime now{std::chrono::nanoseconds((*rec)->arrival_unix_ns)};
    if (model.Ingest(s, now) != ballast::IngestResult::kAccepted || s.host.name != host) continue;
    if (s.wall_unix_ns / 1'000'000 > started_ms) break;
    stamps.push_back(s.wall_unix_ns);
    const auto& view = model.hosts().at(host);
    if (view.cpu_utilization > mark) {
      if (!hot) episode.clear();
      hot = true;
      episode.push_back(s.wall_unix_ns);
    } else {
      hot = false;
    }
    if (!episode.empty()) last_episode_before_start = episode;
  }
  if (last_episode_before_start.empty()) {
    return Fail(host + " was never over the hot mark before the migration started");
  }
  std::vector<std::int64_t> gaps;
  for (std::size_t i = 1; i < stamps.size(); ++i) gaps.push_back(stamps[i] - stamps[i - 1]);
  if (gaps.empty()) return Fail("too few samples of " + host);
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<long>(gaps.size() / 2), gaps.end());
  const double interval_ms = static_cast<double>(gaps[gaps.size() / 2]) / 1e6;

  const double first_ms = static_cast<double>(last_episode_before_start.front()) / 1e6;
  const double reaction_ms = static_cast<double>(started_ms) - first_ms;
  const double target_ms = k * interval_ms + 50;
  std::printf("host %s: first sample over the hot mark (%.2f) at collector stamp %.3f s\n",
              host.c_str(), mark, first_ms / 1e3);
  for (std::size_t i = 1; i < last_episode_before_start.size(); ++i) {
    std::printf("  hot sample %zu at +%.0f ms\n", i + 1,
                static_cast<double>(last_episode_before_start[i]) / 1e6 - first_ms);
  }
  std::printf("migration_started (%s, %s -> %s) at +%.0f ms: %.2f sampling intervals of %.0f ms\n",
              vm.c_str(), host.c_str(), to.c_str(), reaction_ms, reaction_ms / interval_ms,
              interval_ms);
  std::printf("reaction %.0f ms, target <= %d intervals + 50 ms = %.0f ms: %s\n", reaction_ms, k,
              target_ms, reaction_ms <= target_ms ? "met" : "NOT met");
  return 0;
}
