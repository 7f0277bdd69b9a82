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
//
// With --key-per-host every host gets its own CURVE key, named after it and bound to it
// (`bind_key_to_host: true`, as in production), and --procs generator processes publish, each
// over one connection per host it owns. Their payloads are encoded once per host; each send
// only appends the fields that change (sequence and clocks: protobuf keeps the last value of a
// repeated scalar field), so the generator's cost is ZeroMQ's and CURVE's, not protobuf's
// (issue 19 target 2: 10,000 keys, >= 5 M VM samples per CPU-second of the balancer).

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

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
  bool key_per_host = false;  // one CURVE key per host, bound to it; --procs generators
  int procs = 2;
  double rate_per_host = 0;  // --key-per-host: samples per second per host; 0 = flat out
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
      std::cout
          << "usage: ballast_bench_ingest [--balancer PATH] [--hosts N] [--vms N] "
             "[--seconds S] [--warmup S] [--port P] [--status-interval DURATION]\n"
             "                            [--history-journal-mb N [--ballastctl PATH]]\n"
             "                            [--key-per-host [--procs N] [--rate-per-host HZ]]\n"
             "  --hosts N               simulated hosts (default 1000)\n"
             "  --vms N                 VMs per host (default 100)\n"
             "  --seconds S             measured window (default 20)\n"
             "  --warmup S              publishing before the window opens (default 5)\n"
             "  --key-per-host          every host its own CURVE key, bound to the host as\n"
             "                          in production (default: one key for all hosts)\n"
             "  --procs N               generator processes with --key-per-host (default 2),\n"
             "                          each with one connection per host it owns\n"
             "  --rate-per-host HZ      with --key-per-host: each host publishes HZ samples\n"
             "                          a second, as collectors do (default 0: flat out)\n"
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
    else if (k == "--key-per-host")
      a.key_per_host = true;
    else if (k == "--procs")
      a.procs = std::stoi(next());
    else if (k == "--rate-per-host")
      a.rate_per_host = std::stod(next());
    else
      Die("unknown option " + k);
  }
  if (a.hosts < 1 || a.vms < 0 || a.vms > static_cast<int>(ballast::kMaxVms)) Die("bad sizes");
  if (a.procs < 1 || a.procs > 64) Die("--procs must be 1..64");
  if (a.rate_per_host < 0) Die("--rate-per-host must be >= 0");
  if (a.key_per_host && a.history_journal_mb > 0) {
    Die("--history-journal-mb goes with the one-key generator only");
  }
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

// Templates: one per host, VMs with fixed identities.
std::vector<HostSample> MakeHostTemplates(const Args& a) {
  std::vector<HostSample> hosts(static_cast<std::size_t>(a.hosts));
  for (int h = 0; h < a.hosts; ++h) {
    HostSample& s = hosts[static_cast<std::size_t>(h)];
    s.host.name = "bench-" + std::to_string(h);
    s.host.uuid = "00000000-0000-0000-0000-" + std::to_string(100000000000 + h);
    s.host.libvirt_uri = "test:///default";
    s.host.migration_address = "127.0.0.1";
    s.host.source = "libvirt";
    s.boot_id = 1;
    s.sequence = 1;
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
  return hosts;
}

// What the generator processes of --key-per-host share with the measuring process.
struct SharedCounters {
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};  // generators that could not start
  std::array<std::atomic<std::uint64_t>, 64> published{};
};

void AppendVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// A --key-per-host generator (a child process): publishes for hosts index, index + procs, ...
// each over its own CURVE connection with that host's key, round robin, until told to stop.
// The payload is the host's sample encoded once, followed by sequence (field 4), monotonic_ns
// (5) and wall_unix_ns (6) encoded anew: the decoder keeps the last occurrence of each.
[[noreturn]] void RunKeyedGenerator(int index, int procs, double rate_per_host,
                                    const std::vector<HostSample>& templates,
                                    const std::vector<ballast::CurveKeyPair>& keys,
                                    const std::string& server_public, const std::string& endpoint,
                                    SharedCounters* shared) {
  try {
    std::vector<std::size_t> owned;
    for (std::size_t h = static_cast<std::size_t>(index); h < templates.size();
         h += static_cast<std::size_t>(procs)) {
      owned.push_back(h);
    }
    zmq::context_t ctx(1);
    ctx.set(zmq::ctxopt::max_sockets, static_cast<int>(owned.size()) + 64);
    std::vector<zmq::socket_t> sockets;
    std::vector<std::string> bodies;
    sockets.reserve(owned.size());
    for (std::size_t h : owned) {
      auto body = ballast::EncodeHostSample(templates[h]);
      if (!body.ok()) throw std::runtime_error(body.status().message());
      bodies.push_back(std::move(*body));
      // XPUB with nodrop: a full queue says EAGAIN instead of dropping in silence, so the
      // generator skips that host this round rather than spinning on sends that go nowhere.
      zmq::socket_t& s = sockets.emplace_back(ctx, zmq::socket_type::xpub);
      s.set(zmq::sockopt::xpub_nodrop, 1);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::sndhwm, 4);  // the balancer's queue (rcvhwm 50) is the one measured
      s.set(zmq::sockopt::curve_serverkey, server_public);
      s.set(zmq::sockopt::curve_publickey, keys[h].public_z85);
      s.set(zmq::sockopt::curve_secretkey, keys[h].secret_z85);
      s.connect(endpoint);
    }
    // A host is published for once the balancer's subscription has come back on its
    // connection (handshake done): before that XPUB would drop the sample in silence and the
    // offered rate would count samples that never left.
    std::vector<char> subscribed(owned.size(), 0);
    std::size_t subscribed_count = 0;
    std::uint64_t sequence = 1;
    std::string payload;
    auto next_round = Clock::now();
    while (!shared->stop.load(std::memory_order_relaxed)) {
      if (rate_per_host > 0) {
        std::this_thread::sleep_until(next_round);
        next_round += std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / rate_per_host));
      }
      if (subscribed_count < owned.size()) {
        for (std::size_t i = 0; i < owned.size(); ++i) {
          zmq::message_t sub;
          if (!subscribed[i] && sockets[i].recv(sub, zmq::recv_flags::dontwait)) {
            subscribed[i] = 1;
            ++subscribed_count;
          }
        }
      }
      ++sequence;
      const auto mono = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count());
      const auto wall =
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
      std::uint64_t sent = 0;
      for (std::size_t i = 0; i < owned.size(); ++i) {
        if (!subscribed[i]) continue;
        payload.assign(bodies[i]);
        payload.push_back(static_cast<char>(4 << 3));
        AppendVarint(payload, sequence);
        payload.push_back(static_cast<char>(5 << 3));
        AppendVarint(payload, mono);
        payload.push_back(static_cast<char>(6 << 3));
        AppendVarint(payload, wall);
        const std::string& topic = templates[owned[i]].host.name;
        std::array<zmq::const_buffer, 2> parts{zmq::buffer(topic), zmq::buffer(payload)};
        if (zmq::send_multipart(sockets[i], parts, zmq::send_flags::dontwait)) ++sent;
      }
      shared->published[static_cast<std::size_t>(index)].fetch_add(sent, std::memory_order_relaxed);
      // Every queue full (or no handshake done yet): leave the balancer the CPU for a moment.
      if (sent == 0 && rate_per_host <= 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  } catch (const std::exception& e) {
    std::cerr << "ballast_bench_ingest: generator " << index << ": " << e.what() << "\n";
    shared->failed.fetch_add(1);
    std::_Exit(1);
  }
  std::_Exit(0);
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
  // One connection per host in --key-per-host: the balancer and the generators need a
  // descriptor each (and the generators a second for each socket's mailbox).
  struct rlimit nofile {};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (a.key_per_host && nofile.rlim_cur < static_cast<rlim_t>(a.hosts) + 1024) {
    Die("--key-per-host with " + std::to_string(a.hosts) + " hosts needs more than " +
        std::to_string(nofile.rlim_cur) + " open files (ulimit -Hn)");
  }
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
  std::vector<ballast::CurveKeyPair> host_keys;
  if (a.key_per_host) {
    // NAME.pub for every host; the secret halves stay in this process's memory.
    for (int h = 0; h < a.hosts; ++h) {
      auto k = ballast::GenerateCurveKeyPair();
      if (!k.ok()) Die("cannot generate CURVE keys");
      const std::string name = "bench-" + std::to_string(h);
      std::ofstream pub(dir / "allow" / (name + ".pub"));
      pub << "# Ballast CURVE key \"" << name << "\"\npublic-key = \"" << k->public_z85 << "\"\n";
      if (!pub) Die("cannot write " + (dir / "allow" / (name + ".pub")).string());
      host_keys.push_back(std::move(*k));
    }
  } else {
    std::filesystem::copy_file(dir / "keys" / "generator.pub", dir / "allow" / "generator.pub");
  }
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
  // One generator key publishes for every simulated host, or each host has its own.
  const int port = a.port > 0 ? a.port : 20000 + static_cast<int>(getpid() % 20000);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  {
    std::ofstream p(dir / "policy.yaml");
    p << "apiVersion: ballast/v1\nname: ingest-bench\nmode: off\ninterval_seconds: 3600\n";
    std::ofstream c(dir / "balancer.yaml");
    c << "listen: " << endpoint << "\n"
      << "server_key_file: " << (dir / "keys" / "balancer.key").string() << "\n"
      << "allowlist_dir: " << (dir / "allow").string() << "\n"
      << "bind_key_to_host: " << (a.key_per_host ? "true" : "false") << "\n"
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

  std::vector<HostSample> hosts = MakeHostTemplates(a);
  std::uint64_t published_here = 0;
  std::uint64_t encode_failures = 0;
  // --key-per-host: generator processes, forked before this process touches ZeroMQ.
  auto* shared = static_cast<SharedCounters*>(mmap(
      nullptr, sizeof(SharedCounters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (shared == MAP_FAILED) Die("mmap failed");
  new (shared) SharedCounters();
  std::vector<pid_t> generators;
  auto stop_generators = [&]() {
    shared->stop = true;
    for (pid_t g : generators) {
      for (int i = 0; i < 100 && waitpid(g, nullptr, WNOHANG) != g; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (i == 99) {
          kill(g, SIGKILL);
          waitpid(g, nullptr, 0);
        }
      }
    }
    generators.clear();
  };
  auto die_all = [&](const std::string& msg) {
    stop_generators();
    stop_balancer();
    Die(msg);
  };
  if (a.key_per_host) {
    for (int i = 0; i < a.procs; ++i) {
      std::cout.flush();
      const pid_t g = fork();
      if (g < 0) die_all("fork failed");
      if (g == 0) {
        RunKeyedGenerator(i, a.procs, a.rate_per_host, hosts, host_keys, server->public_z85,
                          endpoint, shared);
      }
      generators.push_back(g);
    }
  }
  std::optional<zmq::context_t> ctx;
  std::unique_ptr<ballast::SamplePublisher> pub;
  if (!a.key_per_host) {
    ctx.emplace(1);
    auto p = ballast::SamplePublisher::Connect(
        *ctx, endpoint, ballast::CurveClientOptions{*client, server->public_z85});
    if (!p.ok()) die_all(p.status().message());
    pub = std::move(*p);
  }
  auto published = [&]() {
    std::uint64_t n = published_here;
    for (const auto& c : shared->published) n += c.load(std::memory_order_relaxed);
    return n;
  };

  std::cout << "ingest benchmark: " << a.hosts << " hosts x " << a.vms << " VMs, CURVE over "
            << endpoint << ", "
            << (a.key_per_host ? std::to_string(a.hosts) + " keys (one per host, bound to it), " +
                                     std::to_string(a.procs) + " generator processes"
                               : std::string("one key for all hosts"))
            << ", balancer pid " << pid << ", work dir " << dir.string() << "\n";
  std::size_t next = 0;
  // One-key mode: a batch of samples between clock reads. --key-per-host: the generators
  // publish; this process only watches.
  auto publish_batch = [&]() {
    if (a.key_per_host) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (shared->failed.load() > 0) die_all("a generator failed (its error is above)");
    } else {
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
        if (pub->Publish(s.host.name, *enc).ok()) ++published_here;
      }
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      stop_generators();
      Die("the balancer exited; see its log in " + dir.string());
    }
  };
  // Publishes until the status file is rewritten (its mtime changes), at most `limit`.
  auto publish_until_rewrite = [&](std::chrono::seconds limit) {
    const std::int64_t m = MtimeNs(status_path);
    const auto deadline = Clock::now() + limit;
    while (MtimeNs(status_path) == m) {
      if (Clock::now() >= deadline) {
        die_all("the balancer did not rewrite its status file within " +
                std::to_string(limit.count()) + " s");
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
    double rss0 = 0, rss1 = 0, rss_max = 0, cpu0 = 0, cpu1 = 0;
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
    const std::uint64_t published0 = published();
    const auto end = w.t0 + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(a.seconds));
    auto next_rss = Clock::now();
    w.rss_max = w.rss0;
    while (Clock::now() < end) {
      publish_batch();
      if (Clock::now() >= next_rss) {  // RSS once a second: flat, or growing?
        w.rss_max = std::max(w.rss_max, RssMiB(pid));
        next_rss += std::chrono::seconds(1);
      }
    }
    w.offered = static_cast<double>(published() - published0) /
                std::chrono::duration<double>(Clock::now() - w.t0).count();
    if (keep_publishing) {
      publish_until_rewrite(std::chrono::seconds(30));
    } else {
      const std::int64_t m_end = MtimeNs(status_path);
      // The balancer spaces its rewrites by 20 times a write's CPU (about 20 s at 200,000
      // VMs), so wait for the next one for up to a minute.
      const auto close_deadline = Clock::now() + std::chrono::seconds(60);
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
    std::printf(
        "%sbalancer CPU: %.0f %% of one core = %.2f M VM samples per CPU-second; RSS %.1f MiB -> "
        "%.1f MiB (highest %.1f; %.1f KiB per VM)\n",
        label, w.CpuPercent(), w.HostRate() * a.vms / (w.CpuPercent() / 100) / 1e6, w.rss0, w.rss1,
        w.rss_max, w.rss1 * 1024 / std::max(1.0, static_cast<double>(a.hosts) * a.vms));
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
  stop_generators();
  stop_balancer();

  const Window& last = with_history ? busy : quiet;
  std::printf("published %llu host samples (encode failures %llu)\n",
              static_cast<unsigned long long>(published()),
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
  munmap(shared, sizeof(SharedCounters));
  if (std::getenv("BALLAST_BENCH_KEEP") != nullptr) {
    std::cout << "work dir kept (BALLAST_BENCH_KEEP): " << dir.string() << "\n";
  } else {
    std::filesystem::remove_all(dir);
  }
  const bool history_ok = !with_history || (history.answered > 0 && history.failed == 0);
  return last.s1.decode_errors == 0 && history_ok ? 0 : 1;
}
