// ballast-balancer: receives the collectors' samples, keeps the cluster model, plans under
// the policy and carries the plan out with live migrations (balancer/README.md).

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "balancer/daemon/balancer_config.h"
#include "balancer/daemon/daemon.h"
#include "common/log.h"

namespace {
ballast::DaemonSignals g_signals;
void OnStop(int) { g_signals.stop = true; }
void OnReload(int) { g_signals.reload = true; }
void OnTable(int) { g_signals.print_table = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace ballast;
  SetLogTag("balancer");
  CLI::App app{
      "ballast-balancer: receives host and VM stats from ballast-collectors over ZeroMQ "
      "(CURVE-authenticated), detects hotspots and imbalance under a YAML policy and relieves "
      "them with live migrations through libvirt; every decision goes to the journal.\n"
      "Signals: SIGHUP reloads the policy (it is also reloaded when its file changes), SIGUSR1 "
      "prints the cluster table, SIGTERM stops (waiting shutdown_grace for migrations).\n"
      "Configuration reference: balancer/README.md."};
  std::string config_file;
  std::string log_level = "info";
  app.add_option("-c,--config", config_file, "YAML configuration file")->required();
  app.add_option("--log-level", log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  app.set_version_flag("--version", "ballast-balancer 0.1.0");
  CLI11_PARSE(app, argc, argv);
  SetLogLevelByName(log_level);
  auto config = LoadBalancerConfig(config_file);
  if (!config.ok()) {
    std::cerr << "ballast-balancer: invalid configuration:\n" << config.status().message() << "\n";
    return 2;
  }
  // One descriptor per collector connection: the soft limit (often 1,024) up to the hard one,
  // so that a large cluster's collectors are not refused. The service unit sets both.
  if (struct rlimit nofile{};
      getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::signal(SIGINT, OnStop);
  std::signal(SIGTERM, OnStop);
  std::signal(SIGHUP, OnReload);
  std::signal(SIGUSR1, OnTable);
  return RunBalancer(*config, g_signals);
}
