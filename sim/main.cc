// ballast-sim: trace-driven simulator for Ballast's decision core.
//
//   ballast-sim run --trace DAY.csv.gz --policy policies/sim-density.yaml [--out DIR]
//   ballast-sim whatif --recording FILE --policy candidate.yaml
//   ballast-sim compare --days all --out DIR
//
// See sim/README.md.

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "balancer/policy/loader.h"
#include "common/log.h"
#include "sim/cluster_sim.h"
#include "sim/compare.h"
#include "sim/plot.h"
#include "sim/recording_replay.h"
#include "sim/recording_workload.h"
#include "sim/report.h"
#include "sim/trace.h"
#include "sim/workload.h"

namespace {

using namespace ballast;       // NOLINT
using namespace ballast::sim;  // NOLINT

struct RunArgs {
  std::string trace;
  std::string recording;
  std::string policy;
  int hosts = 800;
  double step = 60;
  double interval = 0;
  bool drop_idle = false;
  bool enforce_memory = false;
  bool off_hosts_available = false;
  std::string placement = "first-fit";
  double first_fit_level = 1.0;
  std::string out;
  std::size_t explain = 0;
  bool what_if = false;
};

void AddRunOptions(CLI::App* cmd, RunArgs& a) {
  auto* src = cmd->add_option_group("source", "what to replay")->require_option(1);
  src->add_option("--trace", a.trace, "PlanetLab day (DAY.csv.gz), with the host/VM model");
  src->add_option("--recording", a.recording, "a recording the balancer wrote");
  cmd->add_option("--policy", a.policy, "policy YAML; omit for no balancing (\"none\")");
  cmd->add_option("--hosts", a.hosts, "trace: number of hosts (half G4, half G5)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--step", a.step, "accounting and sampling step, seconds")
      ->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--interval", a.interval, "planning interval, seconds (default: the policy's)");
  cmd->add_flag("--drop-idle", a.drop_idle,
                "CloudSim compatibility: a VM whose demand reaches 0 is gone for good");
  cmd->add_flag("--enforce-memory", a.enforce_memory,
                "the core sees VM RAM and never overcommits host memory (CloudSim does not)");
  cmd->add_flag("--off-hosts-available", a.off_hosts_available,
                "offer switched-off (empty) hosts to the core as targets");
  cmd->add_option("--placement", a.placement,
                  "initial placement: round-robin, or first-fit by decreasing demand within "
                  "RAM and --first-fit-level of CPU")
      ->check(CLI::IsMember({"round-robin", "first-fit"}));
  cmd->add_option("--first-fit-level", a.first_fit_level, "first-fit: fill hosts up to this");
  cmd->add_option("--out", a.out, "directory for result.json and the PNG plots");
  cmd->add_option("--explain", a.explain, "print the first N moves with their explanations");
}

int Run(const RunArgs& a) {
  Result<Workload> w = Status::Internal("no source");
  if (!a.trace.empty()) {
    auto trace = ReadPlanetLabTrace(a.trace);
    if (!trace.ok()) {
      std::cerr << "ballast-sim: " << trace.status().message() << "\n";
      return 1;
    }
    ModelSpec spec = CloudSimModel();
    spec.hosts = a.hosts;
    std::string label = std::filesystem::path(a.trace).filename().string();
    label = label.substr(0, label.find('.'));
    w = BuildPlanetLabWorkload(*trace, spec, label);
  } else {
    RecordingStats stats;
    w = LoadRecordingWorkload(a.recording, &HpMl110G5(), &stats);
    if (w.ok()) {
      std::cout << "recording: " << stats.records << " samples, " << stats.decode_errors
                << " undecodable" << (stats.torn_tail ? ", torn tail ignored" : "") << "; "
                << w->hosts.size() << " hosts, " << w->vms.size() << " VMs, " << w->duration_seconds
                << " s\n";
    }
  }
  if (!w.ok()) {
    std::cerr << "ballast-sim: " << w.status().message() << "\n";
    return 1;
  }
  std::optional<core::Policy> policy;
  if (!a.policy.empty()) {
    auto p = policy::LoadPolicyFile(a.policy);
    if (!p.ok()) {
      std::cerr << "ballast-sim: " << p.status().message() << "\n";
      return 1;
    }
    policy = std::move(*p);
  }
  SimOptions o;
  o.step_seconds = a.step;
  o.plan_interval_seconds = a.interval;
  o.drop_idle_vms = a.drop_idle;
  o.enforce_memory = a.enforce_memory;
  o.off_hosts_available = a.off_hosts_available;
  o.placement = a.placement == "first-fit" ? Placement::kFirstFit : Placement::kRoundRobin;
  o.first_fit_level = a.first_fit_level;
  o.keep_host_utilization = !a.out.empty();
  o.keep_moves = a.explain > 0 || a.what_if || !a.out.empty();
  o.keep_unrelieved = a.what_if ? 20 : 0;
  if (!a.recording.empty() && a.step == 60) o.step_seconds = 1;  // recordings are fine-grained
  auto r = RunSimulation(*w, policy ? &*policy : nullptr, o);
  if (!r.ok()) {
    std::cerr << "ballast-sim: " << r.status().message() << "\n";
    return 1;
  }
  if (a.what_if || a.explain > 0) {
    std::cout << "What policy '" << r->policy << "' would have done:\n"
              << FormatMoves(*r, a.explain > 0 ? a.explain : 50) << "\n";
  }
  if (a.what_if && !a.recording.empty() && policy) {
    // The recorded samples themselves, at their arrival times, through the controller with
    // the balancer's default configuration: what it would have planned (moving nothing).
    auto replay = ReplayRecording(a.recording, *policy, ReplayOptions{});
    if (!replay.ok()) {
      std::cerr << "ballast-sim: " << replay.status().message() << "\n";
      return 1;
    }
    long moves = 0;
    for (const auto& p : replay->plans) moves += static_cast<long>(p.plan.moves.size());
    std::cout << "Replayed sample by sample at the recorded times (the balancer's own "
                 "controller, default configuration): "
              << replay->plans.size() << " plans, " << moves << " planned moves\n";
    int shown = 0;
    for (const auto& p : replay->plans) {
      for (const auto& m : p.plan.moves) {
        if (shown++ >= 20) break;
        std::cout << "  t=" << static_cast<long>(p.seconds) << "s  " << m.explanation << "\n";
      }
    }
  }
  std::cout << FormatTable({*r}) << "\n" << FormatSlaTable({SlaRowOf(*r)});
  if (!a.out.empty()) {
    std::filesystem::create_directories(a.out);
    std::ofstream(a.out + "/result.json") << ResultJson(*r, true).dump(1) << "\n";
    Status st = WritePlots(*r, a.out, "");
    if (!st.ok()) {
      std::cerr << "ballast-sim: " << st.message() << "\n";
      return 1;
    }
    std::cout << "wrote " << a.out << "/result.json, heatmap.png, migrations.png, "
              << "active_hosts.png\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ballast-sim: replays VM CPU traces or balancer recordings through Ballast's "
      "controller and decision core (the balancer's own code) on a simulated cluster "
      "(sim/README.md)"};
  app.require_subcommand(1);
  // The controller logs every move and situation as the daemon does; a simulated day has
  // thousands. Errors only, unless asked.
  std::string log_level = "error";
  app.add_option("--log-level", log_level,
                 "the controller's log on stderr: debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "simulate one trace or recording under one policy");
  AddRunOptions(run, run_args);
  RunArgs whatif_args;
  whatif_args.what_if = true;
  CLI::App* whatif = app.add_subcommand(
      "whatif", "what a candidate policy would have done: every move explained, and the outcome");
  AddRunOptions(whatif, whatif_args);

  CompareOptions cmp;
  std::string days = "all";
  cmp.traces_dir = BALLAST_SIM_TRACES_DIR;
  cmp.policies_dir = BALLAST_SIM_POLICIES_DIR;
  cmp.out_dir = "/tmp/ballast-sim-compare";
  bool no_plots = false;
  CLI::App* compare =
      app.add_subcommand("compare", "every strategy on every shipped day, one table");
  compare->add_option("--days", days, "'all' or a comma-separated list like 20110303,20110306");
  compare->add_option("--traces-dir", cmp.traces_dir, "directory of DAY.csv.gz")
      ->capture_default_str();
  compare->add_option("--policies-dir", cmp.policies_dir, "directory of sim-*.yaml")
      ->capture_default_str();
  compare->add_option("--out", cmp.out_dir, "output directory");
  compare->add_option("--tight-hosts", cmp.tight_hosts,
                      "host count of the tight cluster (default: searched per day)");
  compare->add_flag("--no-plots", no_plots, "skip the PNG plots");
  CLI11_PARSE(app, argc, argv);
  ballast::SetLogLevelByName(log_level);
  ballast::SetLogTag("sim");

  if (*run) return Run(run_args);
  if (*whatif) return Run(whatif_args);
  if (days != "all") {
    std::string d;
    for (char c : days + ",") {
      if (c == ',') {
        if (!d.empty()) cmp.days.push_back(d);
        d.clear();
      } else {
        d.push_back(c);
      }
    }
  }
  cmp.plots = !no_plots;
  return RunCompare(cmp);
}
