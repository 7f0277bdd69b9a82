// Ingest benchmark: how many VM samples per second the REAL ballast-balancer absorbs.
//
// This process generates CURVE keys, writes a balancer config, starts build/bin/
// ballast-balancer (policy mode off, dry-run actuator, loopback only), then publishes real
// encoded HostSamples over CURVE-authenticated ZeroMQ as fast as it can: `--hosts` hosts of
// `--vms` VMs each, round robin, every sample with a new sequence number and advancing
// counters. It reads the balancer's status file for samples_accepted and decode_errors and
// /proc for the balancer's RSS and CPU time, and prints the figures. Target: >= 1,000,000
// VM samples/s (10,000 hosts x 100 VMs at 1 Hz with headroom) on one core, no decode error,
// no memory growth. Results: bench/README.md.
//
//   ballast_bench_ingest --balancer build/bin/ballast-balancer [--hosts 1000] [--vms 100]
//                        [--seconds 20] [--warmup 5]

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/transport.h"
#include "common/wire.h"

namespace {

using ballast::HostSample;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string balancer = "build/bin/ballast-balancer";
  int hosts = 1000;
  int vms = 100;
  double seconds = 20;
  double warmup = 5;
  int port = 0;
  std::string status_interval = "5s";
};

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "ballast_bench_ingest: " << msg << "\n";
  std::exit(1);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value after " + k);
      return argv[++i];
    };
    if (k == "--help" || k == "-h") {
      std::cout << "usage: ballast_bench_ingest [--balancer PATH] [--hosts N] [--vms N] "
                   "[--seconds S] [--warmup S] [--port P] [--status-interval DURATION]\n";
      std::exit(0);
    }
    if (k == "--balancer")
      a.balancer = next();
    else if (k == "--hosts")
      a.hosts = std::stoi(next());
    else if (k == "--vms")
      a.vms = std::stoi(next());
    else if (k == "--seconds")
      a.seconds = std::stod(next());
    else if (k == "--warmup")
      a.warmup = std::stod(next());
    else if (k == "--port")
      a.port = std::stoi(next());
    else if (k == "--status-interval")
      a.status_interval = next();
    else
      Die("unknown option " + k);
  }
  if (a.hosts < 1 || a.vms < 0 || a.vms > static_cast<int>(ballast::kMaxVms)) Die("bad sizes");
  return a;
}

std::string ProcField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

// Modification time of `path` in ns since the epoch; 0 when it does not exist.
std::int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

double RssMiB(pid_t pid) { return std::atof(ProcField(pid, "VmRSS").c_str()) / 1024.0; }

// utime + stime of the whole process (all threads), seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(s.substr(close + 2));
  std::string f;
  std::vector<std::string> fields;
  while (rest >> f) fields.push_back(f);
  if (fields.size() < 13) return 0;
  return (std::stod(fields[11]) + std::stod(fields[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Status {
  bool ok = false;
  std::uint64_t accepted = 0;
  std::uint64_t decode_errors = 0;
  std::uint64_t auth_rejected = 0;
};

Status ReadStatus(const std::string& path) {
  Status s;
  std::ifstream in(path);
  if (!in) return s;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    s.accepted = j.value("samples_accepted", 0ull);
    s.decode_errors = j.value("decode_errors", 0ull);
    s.auth_rejected = j.value("auth_rejected", 0ull);
    s.ok = true;
  } catch (const std::exception&) {
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = ParseArgs(argc, argv);
  if (!std::filesystem::exists(a.balancer)) Die(a.balancer + " not found (build it first)");
  char tmpl[] = "/tmp/ballast-ingest-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::filesystem::path dir = tmpl;
  std::filesystem::create_directories(dir / "allow");
  std::filesystem::create_directories(dir / "keys");
  auto server = ballast::GenerateCurveKeyPair();
  auto client = ballast::GenerateCurveKeyPair();
  if (!server.ok() || !client.ok()) Die("cannot generate CURVE keys");
  if (!ballast::WriteCurveKeyPair(dir / "keys", "balancer", *server).ok() ||
      !ballast::WriteCurveKeyPair(dir / "keys", "generator", *client).ok()) {
    Die("cannot write keys");
  }
  std::filesystem::copy_file(dir / "keys" / "generator.pub", dir / "allow" / "generator.pub");
  // One generator key publishes for every simulated host.
  const int port = a.port > 0 ? a.port : 20000 + static_cast<int>(getpid() % 20000);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  {
    std::ofstream p(dir / "policy.yaml");
    p << "apiVersion: ballast/v1\nname: ingest-bench\nmode: off\ninterval_seconds: 3600\n";
    std::ofstream c(dir / "balancer.yaml");
    c << "listen: " << endpoint << "\n"
      << "server_key_file: " << (dir / "keys" / "balancer.key").string() << "\n"
      << "allowlist_dir: " << (dir / "allow").string() << "\n"
      << "bind_key_to_host: false\n"
      << "policy_file: " << (dir / "policy.yaml").string() << "\n"
      << "journal_file: " << (dir / "journal.jsonl").string() << "\n"
      << "status_file: " << (dir / "status.json").string() << "\n"
      << "status_interval: " << a.status_interval << "\n"
      << "table_interval: 0s\n"
      << "metrics_listen: \"\"\n"
      << "control_listen: \"\"\n"
      << "actuator: dry-run\n"
      << "stale_after_intervals: 1000\n"
      << "min_stale_after: 1h\n";
  }
  const std::string status_path = (dir / "status.json").string();

  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    const std::string log = (dir / "balancer.log").string();
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (f) std::freopen(log.c_str(), "a", stderr);
    const std::string cfg = (dir / "balancer.yaml").string();
    execl(a.balancer.c_str(), a.balancer.c_str(), "--config", cfg.c_str(),
          static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  auto stop_balancer = [&]() {
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  };

  zmq::context_t ctx(1);
  auto pub = ballast::SamplePublisher::Connect(
      ctx, endpoint, ballast::CurveClientOptions{*client, server->public_z85});
  if (!pub.ok()) {
    stop_balancer();
    Die(pub.status().message());
  }

  // Templates: one per host, VMs with fixed identities; counters advance per publish.
  std::vector<HostSample> hosts(static_cast<std::size_t>(a.hosts));
  for (int h = 0; h < a.hosts; ++h) {
    HostSample& s = hosts[static_cast<std::size_t>(h)];
    s.host.name = "bench-" + std::to_string(h);
    s.host.uuid = "00000000-0000-0000-0000-" + std::to_string(100000000000 + h);
    s.host.libvirt_uri = "test:///default";
    s.host.migration_address = "127.0.0.1";
    s.host.source = "libvirt";
    s.boot_id = 1;
    s.capacity.cpu_cores = 64;
    s.capacity.memory_bytes = 512ull << 30;
    s.capacity.nic_bits_per_second = 10'000'000'000ull;
    for (int v = 0; v < a.vms; ++v) {
      ballast::VmSample vm;
      vm.uuid = "vm-" + std::to_string(h) + "-" + std::to_string(v);
      vm.name = "bench-vm-" + std::to_string(h) + "-" + std::to_string(v);
      vm.vcpus = 2;
      vm.state = ballast::VmState::kRunning;
      vm.memory_current_bytes = 4ull << 30;
      vm.memory_max_bytes = 4ull << 30;
      vm.has_net = true;
      s.vms.push_back(std::move(vm));
    }
  }

  std::cout << "ingest benchmark: " << a.hosts << " hosts x " << a.vms << " VMs, CURVE over "
            << endpoint << ", balancer pid " << pid << ", work dir " << dir.string() << "\n";
  // The measured window runs between two rewrites of the status file (seen by its mtime, polled
  // between publish batches), so that the counters read and the time they cover match: the
  // first rewrite after the warm-up opens it, the first rewrite after `--seconds` closes it.
  const auto start = Clock::now();
  const auto warm_end = start + std::chrono::duration<double>(a.warmup);
  auto end = Clock::time_point::max();
  std::uint64_t published = 0;
  std::uint64_t published0 = 0;
  std::uint64_t encode_failures = 0;
  Status s0;
  double rss0 = 0;
  double cpu0 = 0;
  Clock::time_point t0;
  std::int64_t mtime_at_warm_end = -1;
  bool measuring = false;
  std::size_t next = 0;
  while (Clock::now() < end) {
    const auto now = Clock::now();
    if (!measuring && now >= warm_end) {
      if (mtime_at_warm_end < 0) {
        mtime_at_warm_end = MtimeNs(status_path);
      } else if (MtimeNs(status_path) != mtime_at_warm_end) {
        t0 = Clock::now();
        rss0 = RssMiB(pid);
        cpu0 = CpuSeconds(pid);
        s0 = ReadStatus(status_path);
        published0 = published;
        end = t0 +
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
        measuring = true;
      } else if (now >= warm_end + std::chrono::seconds(30)) {
        stop_balancer();
        Die("the balancer did not rewrite its status file within 30 s");
      }
    }
    // A batch between clock reads.
    for (int b = 0; b < 64; ++b) {
      HostSample& s = hosts[next];
      next = (next + 1) % hosts.size();
      const auto mono = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count());
      ++s.sequence;
      s.monotonic_ns = mono;
      s.wall_unix_ns = static_cast<std::int64_t>(mono);
      s.counters.cpu_total_ns = mono * 64;
      s.counters.cpu_busy_ns = mono * 16;
      for (auto& vm : s.vms) {
        vm.cpu_ns = mono / 4;
        vm.net_rx_bytes += 1000;
        vm.net_tx_bytes += 1000;
      }
      auto enc = ballast::EncodeHostSample(s);
      if (!enc.ok()) {
        ++encode_failures;
        continue;
      }
      if ((*pub)->Publish(s.host.name, *enc).ok()) ++published;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid)
      Die("the balancer exited; see its log in " + dir.string());
  }
  const auto published_end = Clock::now();
  const std::uint64_t published_window = published - published0;
  // Close the window at the next rewrite (bounded wait); the balancer keeps draining its queue
  // meanwhile, which is work done in that time.
  const std::int64_t m_end = MtimeNs(status_path);
  const auto close_deadline = Clock::now() + std::chrono::seconds(15);
  while (MtimeNs(status_path) == m_end && Clock::now() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto t1 = Clock::now();
  const double rss1 = RssMiB(pid);
  const double cpu1 = CpuSeconds(pid);
  const Status s1 = ReadStatus(status_path);
  stop_balancer();

  const double secs = std::chrono::duration<double>(t1 - t0).count();
  const double host_rate = static_cast<double>(s1.accepted - s0.accepted) / secs;
  std::printf(
      "published %llu host samples (encode failures %llu); %.0f host samples/s offered "
      "in the window\n",
      static_cast<unsigned long long>(published), static_cast<unsigned long long>(encode_failures),
      static_cast<double>(published_window) /
          std::chrono::duration<double>(published_end - t0).count());
  std::printf("absorbed: %.0f host samples/s = %.0f VM samples/s over %.1f s\n", host_rate,
              host_rate * a.vms, secs);
  std::printf("decode errors: %llu, auth rejected: %llu\n",
              static_cast<unsigned long long>(s1.decode_errors),
              static_cast<unsigned long long>(s1.auth_rejected));
  std::printf("balancer CPU: %.0f %% of one core; RSS %.1f MiB -> %.1f MiB (%.1f KiB per VM)\n",
              100 * (cpu1 - cpu0) / secs, rss0, rss1,
              rss1 * 1024 / std::max(1.0, static_cast<double>(a.hosts) * a.vms));
  std::filesystem::remove_all(dir);
  return s1.decode_errors == 0 ? 0 : 1;
}
