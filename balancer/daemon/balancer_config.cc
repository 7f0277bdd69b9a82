#include "balancer/daemon/balancer_config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "common/config_util.h"

namespace ballast {
namespace {

using controller::HostEndpoints;
using controller::HostInventory;

// One inventory entry or the pattern: {libvirt_uri, migration_address}.
bool ReadEndpoints(const YAML::Node& node, const std::string& file, const std::string& path,
                   bool pattern, std::vector<std::string>* errors, HostEndpoints* out) {
  const std::size_t before = errors->size();
  if (!node.IsMap()) {
    errors->push_back(file + ": " + path +
                      ": expected {libvirt_uri: URI, migration_address: ADDRESS}");
    return false;
  }
  YamlMapReader r(node, file, path, {"libvirt_uri", "migration_address"}, errors);
  r.String("libvirt_uri", &out->libvirt_uri);
  r.String("migration_address", &out->migration_address);
  if (!r.Has("libvirt_uri")) {
    errors->push_back(file + ": " + path + ".libvirt_uri: required");
  } else if (auto why = HostInventory::CheckUri(out->libvirt_uri, pattern); !why.empty()) {
    r.Error(r.Get("libvirt_uri"), "libvirt_uri", why);
  }
  if (auto why = HostInventory::CheckAddress(out->migration_address, pattern); !why.empty()) {
    r.Error(r.Get("migration_address"), "migration_address", why);
  }
  return errors->size() == before;
}

void ReadInventory(const YAML::Node& node, const std::string& file,
                   std::vector<std::string>* errors, HostInventory* out) {
  const std::string kWhat =
      "list the hosts the balancer may connect to (inventory.hosts: {NAME: {libvirt_uri, "
      "migration_address}}) and/or a pattern (inventory.pattern: {libvirt_uri: "
      "\"qemu+tls://{host}.example/system\", migration_address: \"{host}.mig.example\"}), or "
      "set inventory.trust_collector_claims: true (insecure: a collector key then chooses "
      "where the balancer connects and sends VM memory)";
  if (!node || node.IsNull()) {
    errors->push_back(file + ": inventory: required: " + kWhat);
    return;
  }
  if (!node.IsMap()) {
    errors->push_back(file + ": inventory: expected a mapping: " + kWhat);
    return;
  }
  YamlMapReader r(node, file, "inventory", {"hosts", "pattern", "trust_collector_claims"}, errors);
  bool trust = false;
  r.Bool("trust_collector_claims", &trust);
  if (trust) {
    if (r.Has("hosts") || r.Has("pattern")) {
      r.Error(r.Get("trust_collector_claims"), "trust_collector_claims",
              "true ignores hosts and pattern: set one or the other");
    }
    *out = HostInventory::TrustCollectorClaims();
    return;
  }
  HostInventory inv;
  if (r.Has("hosts")) {
    const YAML::Node hosts = r.Get("hosts");
    if (!hosts.IsMap()) {
      r.Error(hosts, "hosts",
              "expected a mapping of host names to {libvirt_uri, migration_address}");
    } else {
      for (const auto& kv : hosts) {
        const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const std::string path = "inventory.hosts." + controller::BoundedForLog(name, 64);
        if (!HostInventory::IsSafeHostName(name)) {
          errors->push_back(file + ": " + path +
                            ": not a host name (1-253 characters of [A-Za-z0-9._-], starting "
                            "with a letter or digit, no '..')");
          continue;
        }
        HostEndpoints e;
        if (ReadEndpoints(kv.second, file, path, false, errors, &e)) inv.Add(name, std::move(e));
      }
    }
  }
  if (r.Has("pattern")) {
    HostEndpoints p;
    if (ReadEndpoints(r.Get("pattern"), file, "inventory.pattern", true, errors, &p)) {
      inv.SetPattern(std::move(p));
    }
  }
  if (!r.Has("hosts") && !r.Has("pattern")) {
    errors->push_back(file + ": inventory: no hosts and no pattern: " + kWhat);
  }
  *out = std::move(inv);
}

void LoadHaConfig(const YAML::Node& node, const std::string& file, BalancerConfig::Ha* ha,
                  std::vector<std::string>* errors) {
  if (!node || node.IsNull()) return;
  YamlMapReader h(node, file, "ha",
                  {"etcd_endpoints", "cluster", "name", "lease_ttl", "renew_interval",
                   "etcd_timeout", "test_unfenced", "test_fence_delay"},
                  errors);
  if (h.Has("etcd_endpoints")) {
    const YAML::Node eps = h.Get("etcd_endpoints");
    if (!eps.IsSequence() || eps.size() == 0) {
      h.Error(eps, "etcd_endpoints", "expected a list of etcd client URLs (http://HOST:PORT)");
    } else {
      for (const auto& e : eps) {
        const std::string url = e.as<std::string>("");
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
          h.Error(e, "etcd_endpoints", "'" + url + "' is not an http:// or https:// URL");
        } else {
          ha->etcd_endpoints.push_back(url);
        }
      }
    }
  }
  h.String("cluster", &ha->cluster);
  h.String("name", &ha->name);
  h.Duration("lease_ttl", &ha->lease_ttl, std::chrono::seconds(2), std::chrono::minutes(10));
  h.Duration("renew_interval", &ha->renew_interval, std::chrono::milliseconds(0),
             std::chrono::minutes(10));
  h.Duration("etcd_timeout", &ha->etcd_timeout, std::chrono::milliseconds(100),
             std::chrono::seconds(30));
  h.Bool("test_unfenced", &ha->test_unfenced);
  h.Duration("test_fence_delay", &ha->test_fence_delay, std::chrono::seconds(0),
             std::chrono::minutes(5));
  if (ha->cluster.empty() || ha->cluster.find('/') != std::string::npos) {
    h.Error(h.Get("cluster"), "cluster", "must be a non-empty name without '/'");
  }
  if (ha->name.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0) ha->name = buf;
  }
  if (ha->renew_interval.count() == 0) ha->renew_interval = ha->lease_ttl / 3;
  // Renewals must land well inside the lease, with room for an etcd call that times out.
  if (ha->renew_interval + ha->etcd_timeout >= ha->lease_ttl) {
    errors->push_back(file +
                      ": ha: renew_interval + etcd_timeout must be shorter than lease_ttl "
                      "(the lease would expire between two renewals)");
  }
}

}  // namespace

Result<BalancerConfig> LoadBalancerConfig(const std::string& file) {
  auto root = LoadYamlFile(file);
  if (!root.ok()) return root.status();
  BalancerConfig c;
  std::vector<std::string> errors;
  YamlMapReader r(*root, file, "",
                  {"listen",
                   "plaintext",
                   "server_key_file",
                   "allowlist_dir",
                   "bind_key_to_host",
                   "stale_after_intervals",
                   "min_stale_after",
                   "table_interval",
                   "status_file",
                   "status_interval",
                   "policy_file",
                   "journal_file",
                   "journal_max_bytes",
                   "journal_keep",
                   "actuator",
                   "migration_workers",
                   "shutdown_grace",
                   "startup_grace",
                   "host_load",
                   "retire_hosts_after",
                   "metrics_listen",
                   "control_listen",
                   "admin_allowlist_dir",
                   "viewer_allowlist_dir",
                   "state_file",
                   "record_file",
                   "record_max_bytes",
                   "inventory", "ha"},
                  &errors);
  r.String("listen", &c.listen);
  r.Bool("plaintext", &c.plaintext);
  r.String("server_key_file", &c.server_key_file);
  r.String("allowlist_dir", &c.allowlist_dir);
  r.Bool("bind_key_to_host", &c.bind_key_to_host);
  r.Double("stale_after_intervals", &c.stale_after_intervals, 1, 1000);
  r.Duration("min_stale_after", &c.min_stale_after, std::chrono::milliseconds(100),
             std::chrono::hours(1));
  r.Duration("table_interval", &c.table_interval, std::chrono::seconds(0), std::chrono::hours(24));
  r.String("status_file", &c.status_file);
  r.Duration("status_interval", &c.status_interval, std::chrono::milliseconds(100),
             std::chrono::hours(1));
  r.String("record_file", &c.record_file);
  if (r.Bytes("record_max_bytes", &c.record_max_bytes) && c.record_max_bytes < (1u << 20)) {
    r.Error(r.Get("record_max_bytes"), "record_max_bytes", "must be at least 1MiB");
  }
  r.String("metrics_listen", &c.metrics_listen);
  r.String("control_listen", &c.control_listen);
  r.String("admin_allowlist_dir", &c.admin_allowlist_dir);
  r.String("viewer_allowlist_dir", &c.viewer_allowlist_dir);
  r.String("state_file", &c.state_file);
  r.String("policy_file", &c.policy_file);
  r.String("journal_file", &c.journal_file);
  if (r.Bytes("journal_max_bytes", &c.journal_max_bytes) && c.journal_max_bytes < (1u << 20)) {
    r.Error(r.Get("journal_max_bytes"), "journal_max_bytes",
            "must be at least 1MiB (rotating more often would lose the decision history)");
  }
  std::uint64_t keep = static_cast<std::uint64_t>(c.journal_keep);
  if (r.UInt("journal_keep", &keep, 1, 64)) c.journal_keep = static_cast<int>(keep);
  r.Enum("actuator", &c.actuator, {"libvirt", "dry-run"});
  std::uint64_t workers = static_cast<std::uint64_t>(c.migration_workers);
  if (r.UInt("migration_workers", &workers, 1, 64)) c.migration_workers = static_cast<int>(workers);
  r.Duration("shutdown_grace", &c.shutdown_grace, std::chrono::seconds(0), std::chrono::hours(1));
  r.Duration("startup_grace", &c.startup_grace, std::chrono::seconds(0), std::chrono::hours(1));
  r.Duration("retire_hosts_after", &c.retire_hosts_after, std::chrono::seconds(0),
             std::chrono::hours(24 * 365));
  std::string host_load = HostLoadName(c.host_load);
  if (r.Enum("host_load", &host_load, {"counters", "vm_sum"})) {
    c.host_load = host_load == "counters" ? HostLoad::kCounters : HostLoad::kVmSum;
  }
  ReadInventory(r.Get("inventory"), file, &errors, &c.inventory);
  LoadHaConfig(r.Get("ha"), file, &c.ha, &errors);
  if (c.policy_file.empty()) errors.push_back(file + ": policy_file: required");
  if (c.journal_file.empty()) errors.push_back(file + ": journal_file: required");
  if (c.state_file.empty() && !c.journal_file.empty()) c.state_file = c.journal_file + ".state";
  if (!c.control_listen.empty() &&
      (!c.admin_allowlist_dir.empty() || !c.viewer_allowlist_dir.empty()) &&
      c.server_key_file.empty()) {
    errors.push_back(file +
                     ": control_listen needs server_key_file (the control endpoint is "
                     "always CURVE, even when the stats stream is plaintext)");
  }
  if (errors.empty() && !c.plaintext && (c.server_key_file.empty() || c.allowlist_dir.empty())) {
    errors.push_back(file +
                     ": CURVE needs server_key_file and allowlist_dir (make keys with "
                     "ballast-keygen), or set plaintext: true");
  }
  BALLAST_RETURN_IF_ERROR(ErrorsToStatus(errors));
  return c;
}

controller::ControllerOptions ControllerOptionsFor(const BalancerConfig& config) {
  controller::ControllerOptions co;
  co.model.stale_after_intervals = config.stale_after_intervals;
  co.model.min_stale_after = config.min_stale_after;
  co.model.host_load = config.host_load;
  co.startup_grace = config.startup_grace;
  co.dry_run = config.actuator == "dry-run";
  co.retire_after = config.retire_hosts_after;
  co.inventory = config.inventory;
  return co;
}

}  // namespace ballast
