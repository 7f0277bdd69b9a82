// ballastctl: the admin's view of and hand on a Ballast cluster, through the balancer's
// CURVE-authenticated control endpoint. Every verb has --help; docs/ballastctl/ is
// generated from the same help text (`ballastctl docs DIR`).
//
// Exit codes (also in every --help):
//   0 success
//   1 refused or failed: a hard rule, an unknown VM or host, an invalid policy, a failed move
//   2 usage error (bad arguments)
//   3 the balancer did not answer (not running, wrong endpoint, busy)
//   4 authentication refused (this key is in neither of the balancer's allowlists, or was
//     removed from them)
//   5 forbidden: a viewer key asked for a verb that changes the cluster (migrate, drain,
//     undrain, pause, resume), which needs an admin key

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "balancer/policy/loader.h"
#include "common/config_util.h"
#include "common/control_channel.h"
#include "common/curve_keys.h"
#include "common/proto/control.pb.h"

namespace ballast {
namespace {

using json = nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitDenied = 4;
constexpr int kExitForbidden = 5;

constexpr char kExitCodes[] =
    "Exit codes: 0 success; 1 refused or failed (hard rule, unknown VM/host, invalid policy, "
    "failed move); 2 usage error; 3 balancer did not answer; 4 key refused (not in the "
    "balancer's allowlists, or removed); 5 forbidden (a viewer key asked for a verb that needs "
    "an admin key).";

struct Options {
  std::string endpoint = "tcp://127.0.0.1:7711";
  std::string key_file;
  std::string server_key_file;
  std::string output = "table";
  bool no_color = false;
  double timeout_seconds = 10;
};

std::string HomeConfig(const std::string& file) {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.config/ballast/" + file;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

class Ctl {
 public:
  explicit Ctl(Options o) : o_(std::move(o)) {
    color_ = !o_.no_color && ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr &&
             o_.output == "table";
  }

  // Sends one request; prints errors; returns the payload or an exit code.
  std::variant<json, int> Call(control::ControlRequest req) {
    req.set_api_version(1);
    auto keys = LoadCurveKeyPair(o_.key_file);
    if (!keys.ok()) {
      std::cerr << "ballastctl: admin key: " << keys.status().message()
                << "\n  (set --key or BALLAST_ADMIN_KEY; make one with: ballast-keygen --dir "
                   "~/.config/ballast admin)\n";
      return kExitUsage;
    }
    auto server = LoadCurvePublicKey(o_.server_key_file);
    if (!server.ok()) {
      std::cerr << "ballastctl: balancer key: " << server.status().message()
                << "\n  (set --server-key or BALLAST_SERVER_KEY to the balancer's .pub)\n";
      return kExitUsage;
    }
    auto reply_bytes =
        ControlCall(o_.endpoint, *keys, *server, req.SerializeAsString(),
                    std::chrono::milliseconds(static_cast<long>(o_.timeout_seconds * 1000)));
    if (!reply_bytes.ok()) {
      std::cerr << "ballastctl: " << reply_bytes.status().message() << "\n";
      return reply_bytes.status().code() == Status::Code::kPermissionDenied ? kExitDenied
                                                                            : kExitUnreachable;
    }
    control::ControlReply reply;
    if (!reply.ParseFromString(*reply_bytes)) {
      std::cerr << "ballastctl: the balancer's reply is not a ControlReply\n";
      return kExitUnreachable;
    }
    json payload = reply.payload_json().empty() ? json::object()
                                                : json::parse(reply.payload_json(), nullptr, false);
    if (!reply.ok()) {
      std::cerr << "ballastctl: " << reply.error_code() << ": " << reply.error() << "\n";
      if (o_.output != "table" && !payload.is_discarded() && !payload.empty()) Print(payload);
      if (reply.error_code() == kForbiddenCode) return kExitForbidden;
      if (reply.error_code() == kUnauthenticatedCode) return kExitDenied;
      return reply.error_code() == "bad_request" || reply.error_code() == "unsupported_version"
                 ? kExitUsage
                 : kExitRefused;
    }
    if (payload.is_discarded()) {
      std::cerr << "ballastctl: the balancer's payload is not JSON\n";
      return kExitUnreachable;
    }
    return payload;
  }

  bool table() const { return o_.output == "table"; }

  // json / yaml output of a payload.
  void Print(const json& j) const {
    if (o_.output == "json") {
      std::cout << j.dump(2) << "\n";
    } else {
      YAML::Emitter out;
      EmitYaml(out, j);
      std::cout << out.c_str() << "\n";
    }
  }

  std::string Bold(const std::string& s) const { return color_ ? "\033[1m" + s + "\033[0m" : s; }
  std::string Red(const std::string& s) const { return color_ ? "\033[31m" + s + "\033[0m" : s; }
  std::string Yellow(const std::string& s) const { return color_ ? "\033[33m" + s + "\033[0m" : s; }
  std::string Green(const std::string& s) const { return color_ ? "\033[32m" + s + "\033[0m" : s; }

 private:
  static void EmitYaml(YAML::Emitter& out, const json& j) {
    if (j.is_object()) {
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key << k << YAML::Value;
        EmitYaml(out, v);
      }
      out << YAML::EndMap;
    } else if (j.is_array()) {
      out << YAML::BeginSeq;
      for (const auto& v : j) EmitYaml(out, v);
      out << YAML::EndSeq;
    } else if (j.is_string()) {
      out << j.get<std::string>();
    } else if (j.is_boolean()) {
      out << j.get<bool>();
    } else if (j.is_number_integer()) {
      out << j.get<long long>();
    } else if (j.is_number()) {
      out << j.get<double>();
    } else {
      out << YAML::Null;
    }
  }

  Options o_;
  bool color_ = false;
};

std::string Pct(double f) {
  char b[16];
  std::snprintf(b, sizeof b, "%5.1f%%", f * 100);
  return b;
}

template <typename R>
int Run(Ctl& ctl, control::ControlRequest req, R render) {
  auto r = ctl.Call(std::move(req));
  if (std::holds_alternative<int>(r)) return std::get<int>(r);
  const json& j = std::get<json>(r);
  if (ctl.table()) {
    return render(j);
  }
  ctl.Print(j);
  return kExitOk;
}

int RenderStatus(Ctl& ctl, const json& j) {
  std::cout << ctl.Bold("policy") << " " << j["policy"].value("name", "?") << " (generation "
            << j["policy"].value("generation", 0) << "), mode "
            << j["policy"].value("mode", std::string("?"))
            << (j.value("paused", false) ? ", " + ctl.Yellow("automation PAUSED") : "") << "\n";
  if (!j.value("journal_ok", true)) {
    std::cout << ctl.Red("journal NOT writable: no migration starts until it can be written")
              << "\n";
  }
  if (j.contains("ha") && j["ha"].value("enabled", false)) {
    const auto& ha = j["ha"];
    const std::string name = ha.value("name", "?");
    const std::string leader = ha.value("leader", "");
    if (!ha.value("etcd_reachable", false)) {
      std::cout << ctl.Red("ha: " + name + ": etcd UNREACHABLE (" + ha.value("etcd_error", "") +
                           "): no leader known, nobody starts a migration")
                << "\n";
    } else if (ha.value("leading", false)) {
      std::cout << "ha: " << ctl.Bold(name + " is the LEADER") << " (term " << ha.value("term", 0)
                << ", cluster " << ha.value("cluster", "") << ")\n";
    } else {
      std::cout << "ha: " << name
                << " is a standby; leader: " << (leader.empty() ? ctl.Red("none") : leader) << "\n";
    }
  }
  const auto& th = j["thresholds"];
  std::cout << "hot marks: cpu " << Pct(th["cpu"].value("hot", 0.0)) << ", memory "
            << Pct(th["memory"].value("hot", 0.0)) << ", network "
            << Pct(th["network"].value("hot", 0.0)) << "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %8s %8s %8s %4s  %s\n", "HOST", "CPU", "MEMORY",
                "NETWORK", "VMS", "STATE");
  std::cout << ctl.Bold(line);
  for (const auto& h : j["hosts"]) {
    std::string state;
    if (h.value("stale", false)) state += ctl.Red("STALE ");
    if (h.value("left_out", false)) state += ctl.Red("LEFT-OUT(libvirt unreachable) ");
    if (h.contains("claims_mismatch") && h["claims_mismatch"].is_object()) {
      state += ctl.Red("CLAIMS-MISMATCH(" + h["claims_mismatch"].value("reason", "?") + ") ");
    }
    for (const char* r : {"cpu", "memory", "network"}) {
      if (h["hot"].value(r, false)) state += ctl.Red(std::string("HOT(") + r + ") ");
    }
    if (h.value("maintenance", false)) {
      state += ctl.Yellow(h["vms"].empty() ? "MAINTENANCE(empty) " : "DRAINING ");
    }
    if (state.empty()) state = ctl.Green("ok");
    std::snprintf(line, sizeof line, "%-16s %8s %8s %8s %4zu  ", h.value("name", "?").c_str(),
                  Pct(h.value("cpu_utilization", 0.0)).c_str(),
                  Pct(h.value("memory_utilization", 0.0)).c_str(),
                  Pct(h.value("net_utilization", 0.0)).c_str(), h["vms"].size());
    std::cout << line << state << "\n";
  }
  if (j.contains("vm_conflicts") && !j["vm_conflicts"].empty()) {
    std::cout << "\n" << ctl.Bold("VMs reported by two hosts at once (never moved)") << "\n";
    for (const auto& c : j["vm_conflicts"]) {
      std::string hosts;
      for (const auto& h : c["hosts"]) hosts += (hosts.empty() ? "" : ", ") + h.get<std::string>();
      std::cout << "  " << c.value("vm", "?") << " (" << c.value("vm_uuid", "?") << "): " << hosts
                << (c.value("flagged", false) ? "  " + ctl.Red("CONFLICT") : "  (within the grace)")
                << "\n";
    }
  }
  if (!j["in_flight"].empty()) {
    std::cout << "\n" << ctl.Bold("migrations in flight") << "\n";
    for (const auto& m : j["in_flight"]) {
      std::cout << "  " << m.value("vm", "?") << ": " << m.value("from", "?") << " -> "
                << m.value("to", "?") << "\n";
    }
  }
  return kExitOk;
}

int RenderPlan(Ctl& ctl, const json& j) {
  std::cout << ctl.Bold("plan") << " under policy '" << j.value("policy", "?") << "' (mode "
            << j.value("mode", "?") << (j.value("paused", false) ? ", paused" : "")
            << "); nothing is moved by this command\n";
  if (j["moves"].empty()) std::cout << "no moves\n";
  int i = 1;
  for (const auto& m : j["moves"]) {
    std::cout << i++ << ". "
              << ctl.Bold(m.value("vm", "?") + ": " + m.value("from", "?") + " -> " +
                          m.value("to", "?"))
              << "\n   " << m.value("explanation", "") << "\n";
  }
  for (const auto& u : j["unrelieved"]) {
    std::cout << ctl.Yellow("left: ") << u.value("explanation", "") << "\n";
  }
  return kExitOk;
}

int RenderExplain(Ctl& ctl, const json& j) {
  std::cout << ctl.Bold(j.value("vm", "?")) << " (" << j.value("uuid", "") << ") runs on "
            << ctl.Bold(j.value("host", "?")) << ", " << j.value("state", "?") << ", "
            << j.value("vcpus", 0) << " vCPU, "
            << (j["cpu_cores"].is_number() ? Pct(j["cpu_cores"].get<double>()) : std::string("?"))
            << " of a CPU, " << (j.value("memory_bytes", 0ull) >> 20) << " MiB\n";
  std::cout << "why there: " << j.value("why_here", "") << "\n";
  if (j.value("in_flight", false)) std::cout << ctl.Yellow("a migration of it is under way\n");
  if (j["planned_now"].is_object()) {
    std::cout << "the current plan moves it: " << j["planned_now"].value("explanation", "") << "\n";
  }
  if (!j["decisions"].empty()) {
    std::cout << "\n" << ctl.Bold("last decisions about it") << "\n";
    for (const auto& r : j["decisions"]) {
      std::cout << "  " << r.value("ts", "") << "  " << r.value("event", "") << "  "
                << r.value("explanation", r.value("error", std::string(""))) << "\n";
    }
  }
  return kExitOk;
}

int RenderHistory(Ctl&, const json& j) {
  for (const auto& r : j["records"]) {
    std::string what = r.value("vm", r.value("host", r.value("policy", std::string(""))));
    std::string detail;
    if (r.contains("from") && r.contains("to")) {
      detail = r.value("from", "") + " -> " + r.value("to", "");
    }
    const std::string text = r.value("explanation", r.value("error", std::string("")));
    std::cout << r.value("ts", "") << "  " << r.value("event", "") << "  " << what
              << (detail.empty() ? "" : "  " + detail) << (text.empty() ? "" : "  " + text) << "\n";
  }
  if (j["records"].empty()) std::cout << "no matching records\n";
  return kExitOk;
}

// --since: RFC 3339 ("2026-11-24T10:00:00Z") or a duration back from now ("2h", "30m").
std::optional<long long> ParseSince(const std::string& s) {
  if (s.empty()) return 0;
  auto d = ParseDuration(s);
  if (d.ok()) {
    auto now = std::chrono::system_clock::now() - *d;
    return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  }
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  return static_cast<long long>(timegm(&tm)) * 1000;
}

// Calls `step` until it returns an exit code (>= 0) or `timeout` has passed: every 100 ms
// for the first two seconds, so a short migration is reported within a tenth of a second
// of its end, then once a second.
template <typename F>
int WaitFor(double timeout_s, F step) {
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < end) {
    int rc = step();
    if (rc >= 0) return rc;
    const bool early = std::chrono::steady_clock::now() - start < std::chrono::seconds(2);
    std::this_thread::sleep_for(early ? std::chrono::milliseconds(100) : std::chrono::seconds(1));
  }
  std::cerr << "ballastctl: still not done after " << timeout_s << " s (it goes on; check "
            << "`ballastctl status` or `ballastctl history`)\n";
  return kExitRefused;
}

void WriteDocs(CLI::App& app, const std::string& dir) {
  std::filesystem::create_directories(dir);
  // The same formatter --help uses, with a fixed program name (not argv[0]).
  auto page = [&](CLI::App* sub, const std::string& name) {
    std::string words = name;  // "policy-diff" -> "policy diff"
    std::replace(words.begin(), words.end(), '-', ' ');
    const std::string title = name == "index" ? "ballastctl" : "ballastctl " + words;
    const std::string cmd = title;
    std::ofstream out(dir + "/" + name + ".md");
    out << "# " << title << "\n\n"
        << "<!-- generated by `ballastctl docs " << dir
        << "` from the --help text; do not edit -->\n\n"
        << "```\n"
        << sub->get_formatter()->make_help(sub, cmd, CLI::AppFormatMode::Normal) << "```\n";
  };
  page(&app, "index");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "docs") continue;
    auto nested = sub->get_subcommands([](CLI::App*) { return true; });
    if (nested.empty()) {
      page(sub, sub->get_name());
    } else {
      page(sub, sub->get_name());
      for (CLI::App* n : nested) page(n, sub->get_name() + "-" + n->get_name());
    }
  }
}

}  // namespace
}  // namespace ballast

int main(int argc, char** argv) {
  using namespace ballast;
  Options o;
  o.endpoint = EnvOr("BALLAST_ENDPOINT", o.endpoint);
  o.key_file = EnvOr("BALLAST_ADMIN_KEY", HomeConfig("admin.key"));
  o.server_key_file = EnvOr("BALLAST_SERVER_KEY", HomeConfig("balancer.pub"));

  CLI::App app{std::string("ballastctl: see and steer a Ballast cluster through its balancer.\n") +
               kExitCodes};
  app.require_subcommand(1);
  app.footer(kExitCodes);
  app.add_option("--endpoint", o.endpoint, "the balancer's control endpoint (env BALLAST_ENDPOINT)")
      ->default_str("tcp://127.0.0.1:7711");
  app.add_option("--key", o.key_file,
                 "this admin's CURVE key pair, from ballast-keygen (env BALLAST_ADMIN_KEY)")
      ->default_str("~/.config/ballast/admin.key");
  app.add_option("--server-key", o.server_key_file,
                 "the balancer's public key file (env BALLAST_SERVER_KEY)")
      ->default_str("~/.config/ballast/balancer.pub");
  app.add_option("-o,--output", o.output, "table (for people), json or yaml (for programs)")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
  app.add_flag("--no-color", o.no_color, "no colour (colour is used only on a terminal anyway)");
  app.add_option("--timeout", o.timeout_seconds, "seconds to wait for the balancer's answer")
      ->capture_default_str();

  auto* status = app.add_subcommand("status",
                                    "the cluster: hosts, utilisation, hot, stale and "
                                    "maintenance marks, mode, migrations in flight");
  double watch = 0;
  status->add_option("-w,--watch", watch, "refresh every SECONDS until Ctrl-C")
      ->expected(0, 1)
      ->default_str("2");
  status->footer(kExitCodes);

  auto* plan = app.add_subcommand("plan",
                                  "what the current policy would do now, with its "
                                  "explanations; moves nothing");
  plan->footer(kExitCodes);

  auto* explain = app.add_subcommand(
      "explain", "where a VM runs, why it is there, and the last decisions about it");
  std::string vm;
  explain->add_option("vm", vm, "VM name or UUID")->required();
  explain->footer(kExitCodes);

  auto* migrate = app.add_subcommand(
      "migrate", "live-migrate a VM to a host, through the balancer's actuator and hard rules");
  std::string host;
  bool force = false;
  bool wait = false;
  double wait_timeout = 300;
  migrate->add_option("vm", vm, "VM name or UUID")->required();
  migrate->add_option("host", host, "target host")->required();
  migrate->add_flag("--force", force,
                    "override a hard-rule refusal (never memory overcommit or a stale target); "
                    "the journal records who forced what");
  migrate->add_flag("--wait", wait, "wait until the migration has finished or failed");
  migrate->add_option("--wait-timeout", wait_timeout, "seconds --wait waits")
      ->capture_default_str();
  migrate->footer(kExitCodes);

  auto* drain =
      app.add_subcommand("drain",
                         "put a host into maintenance: no VM moves onto it and the drain strategy "
                         "evacuates it by live migration; kept across balancer restarts");
  bool no_wait = false;
  drain->add_option("host", host, "host to drain")->required();
  drain->add_flag("--no-wait", no_wait, "return at once instead of showing progress");
  drain->add_option("--wait-timeout", wait_timeout, "seconds to show progress")
      ->capture_default_str();
  drain->footer(kExitCodes);

  auto* undrain = app.add_subcommand("undrain", "take a host out of maintenance");
  undrain->add_option("host", host, "host")->required();
  undrain->footer(kExitCodes);

  auto* pause = app.add_subcommand(
      "pause",
      "stop automatic moves without editing the policy (plans are still made and "
      "explained); kept across balancer restarts");
  std::string reason;
  pause->add_option("--reason", reason, "why (journaled)");
  pause->footer(kExitCodes);
  auto* resume = app.add_subcommand("resume", "let automatic moves happen again");
  resume->footer(kExitCodes);

  auto* history = app.add_subcommand("history", "decisions from the balancer's journal");
  std::string since;
  unsigned limit = 50;
  history->add_option("--vm", vm, "only about this VM (name or UUID)");
  history->add_option("--host", host, "only involving this host");
  history->add_option("--since", since,
                      "RFC 3339 time (2026-11-24T10:00:00Z) or a span back "
                      "from now (30m, 2h)");
  history->add_option("--limit", limit, "newest N records")->capture_default_str();
  history->footer(kExitCodes);

  auto* policy = app.add_subcommand("policy",
                                    "check a policy file, or see how it would change "
                                    "the plan");
  policy->require_subcommand(1);
  std::string policy_file;
  auto* check = policy->add_subcommand(
      "check", "validate FILE offline (no balancer needed): every error with file:line:column");
  check->add_option("file", policy_file, "policy YAML")->required()->check(CLI::ExistingFile);
  check->footer(kExitCodes);
  auto* diff = policy->add_subcommand(
      "diff", "how the plan would change under FILE, without applying it; moves nothing");
  diff->add_option("file", policy_file, "candidate policy YAML")
      ->required()
      ->check(CLI::ExistingFile);
  diff->footer(kExitCodes);

  auto* docs =
      app.add_subcommand("docs", "write one Markdown page per verb (from this help) into DIR");
  std::string docs_dir;
  docs->add_option("dir", docs_dir, "output directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  if (docs->parsed()) {
    WriteDocs(app, docs_dir);
    return kExitOk;
  }
  if (check->parsed()) {
    auto p = policy::LoadPolicyFile(policy_file);
    if (!p.ok()) {
      std::cerr << p.status().message() << "\n";
      return kExitRefused;
    }
    std::cout << policy_file << ": OK (policy '" << p->name << "', mode " << core::ModeName(p->mode)
              << ")\n";
    // Valid, but rules that contradict each other are worth an admin's look: the balancer
    // leaves the VMs caught in both where they are and reports them in every plan.
    for (const core::PolicyIssue& w : core::RuleConflictWarnings(*p)) {
      std::cout << policy_file << ": warning: " << w.path << ": " << w.message << "\n";
    }
    return kExitOk;
  }

  Ctl ctl(o);
  control::ControlRequest req;
  if (status->parsed()) {
    req.mutable_status();
    if (status->count("--watch") == 0) {
      return Run(ctl, req, [&](const json& j) { return RenderStatus(ctl, j); });
    }
    if (watch <= 0) watch = 2;
    while (true) {
      if (ctl.table() && ::isatty(STDOUT_FILENO)) std::cout << "\033[H\033[2J";
      int rc = Run(ctl, req, [&](const json& j) { return RenderStatus(ctl, j); });
      if (rc != kExitOk) return rc;
      std::cout << std::flush;
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(watch * 1000)));
    }
  }
  if (plan->parsed()) {
    req.mutable_plan();
    return Run(ctl, req, [&](const json& j) { return RenderPlan(ctl, j); });
  }
  if (explain->parsed()) {
    req.mutable_explain()->set_vm(vm);
    return Run(ctl, req, [&](const json& j) { return RenderExplain(ctl, j); });
  }
  if (migrate->parsed()) {
    auto* m = req.mutable_migrate();
    m->set_vm(vm);
    m->set_host(host);
    m->set_force(force);
    auto started = ctl.Call(req);
    if (std::holds_alternative<int>(started)) return std::get<int>(started);
    const json& reply = std::get<json>(started);
    const std::string id = reply.value("id", "");
    if (ctl.table()) {
      std::cout << reply.value("explanation", "") << " (" << id << ")\n";
    } else {
      ctl.Print(reply);
    }
    if (!wait) return kExitOk;
    // Find the outcome of the newest start of this VM in the journal.
    return WaitFor(wait_timeout, [&]() -> int {
      control::ControlRequest h;
      h.mutable_history()->set_vm(vm);
      h.mutable_history()->set_limit(20);
      auto r = ctl.Call(h);
      if (std::holds_alternative<int>(r)) return std::get<int>(r);
      const auto& recs = std::get<json>(r)["records"];
      std::string last_id;
      const json* fenced = nullptr;  // high availability: the start was refused by the fence
      for (const auto& rec : recs) {
        const std::string ev = rec.value("event", "");
        if (ev == "migration_started") {
          last_id = rec.value("id", "");
          fenced = nullptr;
        } else if (ev == "move_fenced" && rec.value("id", "") == id) {
          fenced = &rec;
        }
      }
      if (fenced != nullptr) {
        std::cerr << "ballastctl: not started: " << fenced->value("error", std::string("")) << "\n";
        return kExitRefused;
      }
      for (const auto& rec : recs) {
        if (rec.value("id", "") != last_id) continue;
        const std::string ev = rec.value("event", "");
        if (ev == "migration_finished") {
          std::cout << "migrated " << vm << " to " << rec.value("to", "") << " in "
                    << rec.value("duration_ms", 0) << " ms\n";
          return kExitOk;
        }
        if (ev == "migration_failed" || ev == "migration_aborted") {
          std::cerr << "ballastctl: migration " << ev.substr(10) << ": "
                    << rec.value("error", std::string("")) << "; " << vm << " runs on "
                    << rec.value("vm_on", std::string("?")) << "\n";
          return kExitRefused;
        }
      }
      return -1;
    });
  }
  if (drain->parsed() || undrain->parsed()) {
    if (drain->parsed()) {
      req.mutable_drain()->set_host(host);
    } else {
      req.mutable_undrain()->set_host(host);
    }
    int rc = Run(ctl, req, [&](const json& j) {
      std::cout << "host " << j.value("host", "")
                << (j.value("maintenance", false) ? " is in maintenance" : " is out of maintenance")
                << (j.value("changed", false) ? "" : " (already)") << "\n";
      for (const auto& w : j["warnings"])
        std::cout << ctl.Yellow("warning: ") << w.get<std::string>() << "\n";
      return kExitOk;
    });
    if (rc != kExitOk || undrain->parsed() || no_wait || !ctl.table()) return rc;
    std::size_t last_left = SIZE_MAX;
    return WaitFor(wait_timeout, [&]() -> int {
      control::ControlRequest s;
      s.mutable_status();
      auto r = ctl.Call(s);
      if (std::holds_alternative<int>(r)) return std::get<int>(r);
      const json& j = std::get<json>(r);
      for (const auto& h : j["hosts"]) {
        if (h.value("name", "") != host) continue;
        const std::size_t left = h["vms"].size();
        if (left == 0) {
          std::cout << "host " << host << " is empty: ready for maintenance\n";
          return kExitOk;
        }
        if (left != last_left) {
          std::cout << left << " VM(s) left on " << host;
          for (const auto& u : j["last_plan"]["unrelieved"]) {
            if (u.value("strategy", "") == "drain" && u.value("host", "") == host) {
              std::cout << "; " << u.value("explanation", "");
            }
          }
          std::cout << "\n" << std::flush;
          last_left = left;
        }
      }
      return -1;
    });
  }
  if (pause->parsed() || resume->parsed()) {
    if (pause->parsed()) {
      req.mutable_pause()->set_reason(reason);
    } else {
      req.mutable_resume();
    }
    return Run(ctl, req, [&](const json& j) {
      std::cout << "automation " << (j.value("paused", false) ? "paused" : "resumed")
                << (j.value("changed", false) ? "" : " (already)") << "\n";
      return kExitOk;
    });
  }
  if (history->parsed()) {
    auto s = ParseSince(since);
    if (!s) {
      std::cerr << "ballastctl: --since '" << since << "': use RFC 3339 or a span like 2h\n";
      return kExitUsage;
    }
    auto* h = req.mutable_history();
    h->set_vm(vm);
    h->set_host(host);
    h->set_since_unix_ms(*s);
    h->set_limit(limit);
    return Run(ctl, req, [&](const json& j) { return RenderHistory(ctl, j); });
  }
  if (diff->parsed()) {
    std::ifstream in(policy_file);
    std::stringstream text;
    text << in.rdbuf();
    auto* d = req.mutable_policy_diff();
    d->set_name(policy_file);
    d->set_yaml(text.str());
    return Run(ctl, req, [&](const json& j) {
      std::cout << ctl.Bold("current policy") << " plans " << j["current"]["moves"].size()
                << " move(s); " << ctl.Bold(policy_file) << " would plan "
                << j["candidate"]["moves"].size() << " (nothing is moved)\n";
      for (const auto& m : j["added"]) {
        std::cout << ctl.Green("+ ") << m.value("vm", "") << ": " << m.value("from", "") << " -> "
                  << m.value("to", "") << "  " << m.value("explanation", "") << "\n";
      }
      for (const auto& m : j["dropped"]) {
        std::cout << ctl.Red("- ") << m.value("vm", "") << ": " << m.value("from", "") << " -> "
                  << m.value("to", "") << "\n";
      }
      if (j["added"].empty() && j["dropped"].empty()) std::cout << "no difference\n";
      return kExitOk;
    });
  }
  return kExitUsage;
}
