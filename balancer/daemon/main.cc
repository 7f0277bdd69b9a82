// ballast-balancer: receives the collectors' samples, keeps the cluster model and shows it.
// (Planning and live migration build on this loop.)

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <zmq.hpp>

#include "balancer/daemon/balancer_config.h"
#include "balancer/model/cluster_model.h"
#include "balancer/model/cluster_table.h"
#include "common/curve_keys.h"
#include "common/log.h"
#include "common/transport.h"
#include "common/wire.h"

namespace ballast {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_print_table = 0;
void OnStop(int) { g_stop = 1; }
void OnTable(int) { g_print_table = 1; }

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return Status::Unavailable("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot rename " + tmp + " to " + path);
  }
  return Status::Ok();
}

int Run(const BalancerConfig& config) {
  std::optional<CurveServerOptions> curve;
  if (!config.plaintext) {
    auto keys = LoadCurveKeyPair(config.server_key_file);
    if (!keys.ok()) {
      BLOG(kError) << keys.status().message();
      return 2;
    }
    curve = CurveServerOptions{*keys, config.allowlist_dir, config.bind_key_to_host};
  } else {
    BLOG(kWarning) << "accepting PLAINTEXT samples (plaintext: true): anyone who can reach "
                   << config.listen << " can forge a hotspot";
  }
  zmq::context_t ctx;
  auto sub = SampleSubscriber::Bind(ctx, config.listen, curve);
  if (!sub.ok()) {
    BLOG(kError) << sub.status().message();
    return 2;
  }
  BLOG(kInfo) << "listening for collectors on " << (*sub)->endpoint()
              << (curve ? " (CURVE, allowlist " + config.allowlist_dir + ")" : " (plaintext)");

  ModelOptions mo;
  mo.stale_after_intervals = config.stale_after_intervals;
  mo.min_stale_after = config.min_stale_after;
  ClusterModel model(mo);
  DecodeStats decode_stats;
  auto next_table = std::chrono::steady_clock::now() + config.table_interval;
  auto next_status = std::chrono::steady_clock::now();

  while (!g_stop) {
    auto msg = (*sub)->Receive(std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    if (!msg.ok()) {
      BLOG(kError) << msg.status().message();
    } else if (msg->has_value()) {
      const ReceivedMessage& m = **msg;
      DecodeResult d = DecodeHostSample(m.payload, m.topic);
      decode_stats.Count(d);
      if (!d.ok()) {
        BLOG(kWarning) << "rejected a sample on topic '" << m.topic.substr(0, 64) << "': "
                       << DecodeErrorName(d.failure().reason) << ": " << d.failure().detail;
      } else {
        const bool known = model.host(d.sample().host.name) != nullptr;
        model.Ingest(d.sample(), now);
        if (!known) {
          BLOG(kInfo) << "host '" << d.sample().host.name << "' joined ("
                      << d.sample().host.libvirt_uri << ", " << d.sample().vms.size() << " VMs)";
        }
      }
    }
    for (const auto& name : model.UpdateStaleness(now)) {
      const HostView* h = model.host(name);
      BLOG(kWarning) << "host '" << name << "' is " << (h->stale ? "STALE" : "fresh again")
                     << (h->stale ? ": no sample recently; it will not be chosen as a target"
                                  : "");
    }
    const bool table_due = config.table_interval.count() > 0 && now >= next_table;
    if (g_print_table || table_due) {
      g_print_table = 0;
      std::cout << FormatClusterTable(model, now) << std::flush;
      next_table = now + config.table_interval;
    }
    if (!config.status_file.empty() && now >= next_status) {
      auto j = ClusterToJson(model, now);
      j["decode_errors"] = decode_stats.TotalRejected();
      j["samples_accepted"] = decode_stats.accepted;
      j["auth_rejected"] = (*sub)->stats().auth_rejected.load();
      j["topic_mismatch"] = (*sub)->stats().topic_mismatch.load();
      Status st = WriteFileAtomically(config.status_file, j.dump(2));
      if (!st.ok()) BLOG(kWarning) << st.message();
      next_status = now + config.status_interval;
    }
  }
  BLOG(kInfo) << "stopping (" << decode_stats.accepted << " samples accepted, "
              << decode_stats.TotalRejected() << " rejected)";
  return 0;
}

}  // namespace
}  // namespace ballast

int main(int argc, char** argv) {
  using namespace ballast;
  SetLogTag("balancer");
  CLI::App app{
      "ballast-balancer: receives host and VM stats from ballast-collectors over ZeroMQ "
      "(CURVE-authenticated) and keeps the live cluster model.\n"
      "Prints the cluster table every table_interval and on SIGUSR1.\n"
      "Configuration reference: balancer/README.md."};
  std::string config_file;
  std::string log_level = "info";
  app.add_option("-c,--config", config_file, "YAML configuration file")->required();
  app.add_option("--log-level", log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  app.set_version_flag("--version", "ballast-balancer 0.1.0");
  CLI11_PARSE(app, argc, argv);
  SetLogLevel(log_level == "debug"     ? LogLevel::kDebug
              : log_level == "warning" ? LogLevel::kWarning
              : log_level == "error"   ? LogLevel::kError
                                       : LogLevel::kInfo);
  auto config = LoadBalancerConfig(config_file);
  if (!config.ok()) {
    std::cerr << "ballast-balancer: invalid configuration:\n" << config.status().message() << "\n";
    return 2;
  }
  std::signal(SIGINT, OnStop);
  std::signal(SIGTERM, OnStop);
  std::signal(SIGUSR1, OnTable);
  return Run(*config);
}
