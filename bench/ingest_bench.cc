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
//
// With --history-journal-mb N --ballastctl PATH it first fills the journal with N MiB of
// records (rotated as the balancer rotates it), and measures two windows back to back: one
// quiet, one while `ballastctl history` is asked again and again (issue 13 f: a control
// request must not stall ingest).

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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
  int history_journal_mb = 0;  // > 0: a second window with `ballastctl history` running
  std::string ballastctl = "build/bin/ballastctl";
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
                   "[--seconds S] [--warmup S] [--port P] [--status-interval DURATION]\n"
                   "                            [--history-journal-mb N [--ballastctl PATH]]\n"
                   "  --history-journal-mb N  fill the journal with N MiB of records first, then\n"
                   "                          measure a quiet window and a window during which\n"
                   "                          `ballastctl history` runs back to back\n";
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
    else if (k == "--history-journal-mb")
      a.history_journal_mb = std::stoi(next());
    else if (k == "--ballastctl")
      a.ballastctl = next();
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

// Fills the journal with `mib` MiB of `recommended` records about the benchmark's VMs, rotated
// as the balancer rotates it (FILE.5 oldest ... FILE.1, FILE newest; 64 MiB each by default).
void FillJournal(const std::filesystem::path& file, int mib, int hosts, int vms) {
  constexpr std::uint64_t kFileBytes = 64ull << 20;
  constexpr int kKeep = 5;
  const std::uint64_t total = static_cast<std::uint64_t>(mib) << 20;
  const int files =
      static_cast<int>(std::min<std::uint64_t>(kKeep + 1, (total + kFileBytes - 1) / kFileBytes));
  std::uint64_t seq = 0;
  std::uint64_t left = total;
  for (int f = files - 1; f >= 0; --f) {
    const std::string path = f == 0 ? file.string() : file.string() + "." + std::to_string(f);
    std::ofstream out(path, std::ios::trunc);
    std::uint64_t size = 0;
    while (size < kFileBytes && left > 0) {
      const std::uint64_t n = seq++;
      const int h = static_cast<int>(n % static_cast<std::uint64_t>(hosts));
      const int v = vms > 0 ? static_cast<int>((n / static_cast<std::uint64_t>(hosts)) %
                                               static_cast<std::uint64_t>(vms))
                            : 0;
      nlohmann::json r = {{"event", "recommended"},
                          {"vm", "bench-vm-" + std::to_string(h) + "-" + std::to_string(v)},
                          {"from", "bench-" + std::to_string(h)},
                          {"to", "bench-" + std::to_string((h + 1) % hosts)},
                          {"explanation", "bench-" + std::to_string(h) +
                                              " cpu above its hot mark; the benchmark's journal "
                                              "filler wrote this record"},
                          {"ts", "2026-11-30T00:00:00.000Z"},
                          {"seq", n + 1}};
      const std::string line = r.dump() + "\n";
      out << line;
      size += line.size();
      left -= std::min<std::uint64_t>(left, line.size());
    }
    if (!out) Die("cannot write " + path);
  }
}

// `ballastctl history` asked back to back from a thread, each answer timed.
class HistoryLoad {
 public:
  void Start(const std::string& ballastctl, std::vector<std::string> env) {
    thread_ = std::thread([this, ballastctl, env = std::move(env)] {
      while (!stop_.load()) {
        const auto t0 = Clock::now();
        std::cout.flush();
        std::fflush(stdout);
        const pid_t child = fork();
        if (child == 0) {
          for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
          if (std::freopen("/dev/null", "w", stdout) == nullptr) std::_Exit(126);
          execl(ballastctl.c_str(), ballastctl.c_str(), "history", "--limit", "20",
                static_cast<char*>(nullptr));
          std::_Exit(127);
        }
        int st = 0;
        if (child < 0 || waitpid(child, &st, 0) != child) {
          ++failed;
          continue;
        }
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
          ++answered;
          total_ += secs;
          longest = std::max(longest, secs);
        } else {
          ++failed;
        }
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] double MeanSeconds() const { return answered > 0 ? total_ / answered : 0; }

  int answered = 0;
  int failed = 0;
  double longest = 0;

 private:
  std::thread thread_;
  std::atomic<bool> stop_{false};
  double total_ = 0;
};

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
  const bool with_history = a.history_journal_mb > 0;
  std::string control_endpoint;
  std::vector<std::string> control_env;
  if (with_history) {
    if (!std::filesystem::exists(a.ballastctl)) Die(a.ballastctl + " not found (build it first)");
    auto admin = ballast::GenerateCurveKeyPair();
    if (!admin.ok() || !ballast::WriteCurveKeyPair(dir / "keys", "admin", *admin).ok()) {
      Die("cannot write the admin key");
    }
    std::filesystem::create_directories(dir / "admins");
    std::filesystem::copy_file(dir / "keys" / "admin.pub", dir / "admins" / "admin.pub");
    const int control_port = (a.port > 0 ? a.port : 20000 + static_cast<int>(getpid() % 20000)) + 1;
    control_endpoint = "tcp://127.0.0.1:" + std::to_string(control_port);
    control_env = {"BALLAST_ENDPOINT=" + control_endpoint,
                   "BALLAST_ADMIN_KEY=" + (dir / "keys" / "admin.key").string(),
                   "BALLAST_SERVER_KEY=" + (dir / "keys" / "balancer.pub").string()};
    std::cout << "filling the journal with " << a.history_journal_mb << " MiB of records\n";
    FillJournal(dir / "journal.jsonl", a.history_journal_mb, a.hosts, a.vms);
  }
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
      << "control_listen: \"" << control_endpoint << "\"\n"
      << (with_history ? "admin_allowlist_dir: " + (dir / "admins").string() + "\n" : "")
      << "actuator: dry-run\n"
      // Simulated hosts with a dry-run actuator: nothing is connected to, no inventory needed.
      << "inventory: {trust_collector_claims: true}\n"
      << "stale_after_intervals: 1000\n"
      << "min_stale_after: 1h\n";
  }
  const std::string status_path = (dir / "status.json").string();

  std::cout.flush();  // a forked child must not print what is still buffered here again
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
  std::uint64_t published = 0;
  std::uint64_t encode_failures = 0;
  std::size_t next = 0;
  // A batch of samples between clock reads.
  auto publish_batch = [&]() {
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
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      Die("the balancer exited; see its log in " + dir.string());
    }
  };
  // Publishes until the status file is rewritten (its mtime changes), at most `limit`.
  auto publish_until_rewrite = [&](std::chrono::seconds limit) {
    const std::int64_t m = MtimeNs(status_path);
    const auto deadline = Clock::now() + limit;
    while (MtimeNs(status_path) == m) {
      if (Clock::now() >= deadline) {
        stop_balancer();
        Die("the balancer did not rewrite its status file within " + std::to_string(limit.count()) +
            " s");
      }
      publish_batch();
    }
  };

  // A measured window runs between two rewrites of the status file (seen by its mtime, polled
  // between publish batches), so that the counters read and the time they cover match: a
  // rewrite opens it, the first rewrite after `--seconds` closes it. With `keep_publishing`
  // the generator goes on until that rewrite (windows back to back); without, it stops at
  // `--seconds` and the balancer drains its queue until the rewrite, work done in that time.
  struct Window {
    Clock::time_point t0, t1;
    Status s0, s1;
    double rss0 = 0, rss1 = 0, cpu0 = 0, cpu1 = 0;
    double offered = 0;  // host samples/s the generator published in the window
    [[nodiscard]] double Seconds() const { return std::chrono::duration<double>(t1 - t0).count(); }
    [[nodiscard]] double HostRate() const {
      return static_cast<double>(s1.accepted - s0.accepted) / Seconds();
    }
    [[nodiscard]] double CpuPercent() const { return 100 * (cpu1 - cpu0) / Seconds(); }
  };
  auto open_window = [&](Window& w) {
    w.t0 = Clock::now();
    w.rss0 = RssMiB(pid);
    w.cpu0 = CpuSeconds(pid);
    w.s0 = ReadStatus(status_path);
  };
  auto close_window = [&](Window& w) {
    w.t1 = Clock::now();
    w.rss1 = RssMiB(pid);
    w.cpu1 = CpuSeconds(pid);
    w.s1 = ReadStatus(status_path);
  };
  auto measure = [&](Window& w, bool keep_publishing) {
    const std::uint64_t published0 = published;
    const auto end = w.t0 + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(a.seconds));
    while (Clock::now() < end) publish_batch();
    w.offered = static_cast<double>(published - published0) /
                std::chrono::duration<double>(Clock::now() - w.t0).count();
    if (keep_publishing) {
      publish_until_rewrite(std::chrono::seconds(30));
    } else {
      const std::int64_t m_end = MtimeNs(status_path);
      const auto close_deadline = Clock::now() + std::chrono::seconds(15);
      while (MtimeNs(status_path) == m_end && Clock::now() < close_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    close_window(w);
  };
  auto print_window = [&](const char* label, const Window& w) {
    std::printf(
        "%sabsorbed: %.0f host samples/s = %.0f VM samples/s over %.1f s (%.0f host "
        "samples/s offered)\n",
        label, w.HostRate(), w.HostRate() * a.vms, w.Seconds(), w.offered);
    std::printf("%sbalancer CPU: %.0f %% of one core; RSS %.1f MiB -> %.1f MiB (%.1f KiB per VM)\n",
                label, w.CpuPercent(), w.rss0, w.rss1,
                w.rss1 * 1024 / std::max(1.0, static_cast<double>(a.hosts) * a.vms));
  };

  const auto warm_end = Clock::now() + std::chrono::duration<double>(a.warmup);
  while (Clock::now() < warm_end) publish_batch();
  // Start-up reads the whole journal (reconciliation): a full one takes a while.
  publish_until_rewrite(std::chrono::seconds(180));
  Window quiet;
  open_window(quiet);
  measure(quiet, /*keep_publishing=*/with_history);
  Window busy;
  HistoryLoad history;
  if (with_history) {
    busy.t0 = quiet.t1;
    busy.s0 = quiet.s1;
    busy.rss0 = quiet.rss1;
    busy.cpu0 = quiet.cpu1;
    history.Start(a.ballastctl, control_env);
    measure(busy, /*keep_publishing=*/false);
    history.Stop();
  }
  stop_balancer();

  const Window& last = with_history ? busy : quiet;
  std::printf("published %llu host samples (encode failures %llu)\n",
              static_cast<unsigned long long>(published),
              static_cast<unsigned long long>(encode_failures));
  if (with_history) {
    print_window("quiet window:   ", quiet);
    print_window("during history: ", busy);
    std::printf(
        "history requests: %d answered, %d failed, mean %.2f s, longest %.2f s, over a "
        "%d MiB journal; ingest during history = %.0f %% of the quiet window's\n",
        history.answered, history.failed, history.MeanSeconds(), history.longest,
        a.history_journal_mb, 100 * busy.HostRate() / std::max(1.0, quiet.HostRate()));
  } else {
    print_window("", quiet);
  }
  std::printf("decode errors: %llu, auth rejected: %llu\n",
              static_cast<unsigned long long>(last.s1.decode_errors),
              static_cast<unsigned long long>(last.s1.auth_rejected));
  std::filesystem::remove_all(dir);
  const bool history_ok = !with_history || (history.answered > 0 && history.failed == 0);
  return last.s1.decode_errors == 0 && history_ok ? 0 : 1;
}
