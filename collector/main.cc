// ballast-collector: reads one host's hypervisor every interval and publishes the sample to
// the balancer over ZeroMQ (CURVE-authenticated unless configured plaintext).

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "collector/collector_config.h"
#include "collector/collector_metrics.h"
#include "collector/sample_builder.h"
#include "collector/source_registry.h"
#include "common/curve_keys.h"
#include "common/log.h"
#include "common/sample_json.h"
#include "common/service_notify.h"
#include "common/transport.h"
#include "common/wire.h"

namespace ballast {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

std::uint64_t NewBootId() {
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) id = (std::uint64_t{rd()} << 32) ^ rd();
  return id;
}

SampleStamp Stamp(std::uint64_t boot_id, std::uint64_t seq) {
  return {boot_id, seq,
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count()),
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count()};
}

int RunOnce(const CollectorConfig& config, StatsSource& source, bool json) {
  auto reading = source.Read();
  if (!reading.ok()) {
    std::cerr << "ballast-collector: " << reading.status().ToString() << "\n";
    return 1;
  }
  HostSample s = BuildHostSample(config, std::string(source.name()), std::move(*reading),
                                 Stamp(NewBootId(), 1));
  if (json) {
    std::cout << ToJson(s).dump(2) << "\n";
  } else {
    std::cout << "host " << s.host.name << " (" << s.host.source << ", uuid " << s.host.uuid
              << "): " << s.capacity.cpu_cores << " CPUs, "
              << s.capacity.memory_bytes / (1024 * 1024) << " MiB\n";
    for (const auto& vm : s.vms) {
      std::cout << "  " << vm.name << " " << vm.uuid << " " << VmStateName(vm.state)
                << " vcpus=" << vm.vcpus << " cpu_ns=" << vm.cpu_ns
                << " mem=" << vm.memory_current_bytes / (1024 * 1024) << "MiB\n";
    }
  }
  return 0;
}

int Run(const CollectorConfig& config, StatsSource& source) {
  // Under systemd (Type=notify): READY once keys are loaded, the socket is set up and /metrics
  // serves; WATCHDOG=1 from this loop only, so a read stuck in the hypervisor gets the
  // collector restarted. A no-op when started by hand.
  ServiceNotifier notifier = ServiceNotifier::FromEnvironment();
  if (config.endpoint.empty()) {
    BLOG(kError) << "no balancer.endpoint configured (use --once to print a sample instead)";
    return 2;
  }
  std::optional<CurveClientOptions> curve;
  if (!config.plaintext) {
    auto keys = LoadCurveKeyPair(config.key_file);
    if (!keys.ok()) {
      BLOG(kError) << keys.status().message();
      return 2;
    }
    auto server = LoadCurvePublicKey(config.server_public_key_file);
    if (!server.ok()) {
      BLOG(kError) << server.status().message();
      return 2;
    }
    curve = CurveClientOptions{*keys, *server};
  } else {
    BLOG(kWarning) << "publishing in PLAINTEXT (balancer.plaintext: true): anyone on the path "
                      "can read and forge samples";
  }
  zmq::context_t ctx;
  // One publisher (socket and queue) per balancer: one that is away does not hold the others.
  std::vector<std::unique_ptr<SamplePublisher>> pubs;
  for (const std::string& endpoint : config.Endpoints()) {
    auto pub = SamplePublisher::Connect(ctx, endpoint, curve);
    if (!pub.ok()) {
      BLOG(kError) << pub.status().message();
      return 2;
    }
    pubs.push_back(std::move(*pub));
  }
  std::unique_ptr<CollectorMetrics> metrics;
  if (!config.metrics_listen.empty()) {
    auto m = CollectorMetrics::Start(config.metrics_listen, config.host_name,
                                     std::string(source.name()));
    if (!m.ok()) {
      BLOG(kError) << m.status().message();
      return 2;
    }
    metrics = std::move(*m);
    BLOG(kInfo) << "metrics on port " << metrics->port();
  }
  const std::uint64_t boot_id = NewBootId();
  std::string to = config.endpoint;
  for (const auto& e : config.more_endpoints) to += ", " + e;
  BLOG(kInfo) << "publishing host '" << config.host_name << "' from " << source.name() << " to "
              << to << " every "
              << std::chrono::duration_cast<std::chrono::milliseconds>(config.interval).count()
              << " ms" << (curve ? " (CURVE)" : "");
  notifier.Ready("publishing host " + config.host_name + " from " + std::string(source.name()) +
                 " to " + config.endpoint);
  std::uint64_t seq = 0;
  bool last_ok = true;
  auto next = std::chrono::steady_clock::now();
  while (!g_stop) {
    notifier.Watchdog(std::chrono::steady_clock::now());
    const auto read_start = std::chrono::steady_clock::now();
    // Stamped when the read starts: libvirt reads most counters at once, then may stall on
    // one domain's monitor (seen during live migrations); a stamp taken after a stall puts
    // the next sample's counters far more time apart than its stamps say (a rate spike).
    // Stamped early, a stall reads as a slightly low rate instead.
    const SampleStamp stamp = Stamp(boot_id, seq + 1);
    auto reading = source.Read();
    if (metrics) {
      metrics->OnRead(std::chrono::steady_clock::now() - read_start, reading.ok(),
                      reading.ok() ? reading->vms.size() : 0);
    }
    if (reading.ok()) {
      HostSample s =
          BuildHostSample(config, std::string(source.name()), std::move(*reading), stamp);
      ++seq;
      auto bytes = EncodeHostSample(s);
      if (!bytes.ok()) {
        BLOG(kError) << "not publishing: " << bytes.status().message();
      } else {
        for (auto& pub : pubs) {
          Status st = pub->Publish(config.host_name, *bytes);
          if (metrics) metrics->OnPublish(st.ok());
          if (!st.ok()) BLOG(kDebug) << st.message();
        }
      }
      if (!last_ok) BLOG(kInfo) << "source " << source.name() << " is back";
      last_ok = true;
      notifier.Status(config.host_name + ": " + std::to_string(s.vms.size()) + " VMs from " +
                      std::string(source.name()) + ", publishing to " + config.endpoint);
    } else {
      // Publish nothing rather than something false; say so once per outage.
      if (last_ok) BLOG(kWarning) << "not publishing: " << reading.status().message();
      last_ok = false;
      notifier.Status(config.host_name + ": not publishing, " + std::string(source.name()) +
                      " unavailable: " + reading.status().message());
    }
    // Drift-free schedule; after a long stall skip missed ticks instead of bursting.
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(config.interval);
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;
    while (!g_stop && std::chrono::steady_clock::now() < next) {
      notifier.Watchdog(std::chrono::steady_clock::now());
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
    }
  }
  notifier.Stopping();
  BLOG(kInfo) << "stopping after " << seq << " samples";
  return 0;
}

}  // namespace
}  // namespace ballast

int main(int argc, char** argv) {
  using namespace ballast;
  SetLogTag("collector");
  CLI::App app{
      "ballast-collector: publishes this host's CPU, memory and network stats and those of "
      "every VM to the Ballast balancer over ZeroMQ (CURVE-authenticated).\n"
      "Configuration reference: collector/README.md."};
  std::string config_file;
  bool once = false;
  bool json = false;
  std::string log_level = "info";
  app.add_option("-c,--config", config_file, "YAML configuration file")->required();
  app.add_flag("--once", once, "read one sample, print it and exit (nothing is published)");
  app.add_flag("--json", json, "with --once: print the sample as JSON");
  app.add_option("--log-level", log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  app.set_version_flag("--version", "ballast-collector 0.1.0");
  CLI11_PARSE(app, argc, argv);
  SetLogLevelByName(log_level);
  if (json && !once) {
    std::cerr << "ballast-collector: --json goes with --once\n";
    return 2;
  }
  auto config = LoadCollectorConfig(config_file);
  if (!config.ok()) {
    std::cerr << "ballast-collector: invalid configuration:\n" << config.status().message() << "\n";
    return 2;
  }
  auto source = MakeStatsSource(*config);
  if (!source.ok()) {
    std::cerr << "ballast-collector: " << source.status().message() << "\n";
    return 2;
  }
  if (once) return RunOnce(*config, **source, json);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  return Run(*config, **source);
}
