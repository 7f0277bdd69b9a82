#include "collector/collector_config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "common/config_util.h"
#include "common/wire.h"

namespace ballast {

Result<CollectorConfig> LoadCollectorConfig(const std::string& file) {
  auto root = LoadYamlFile(file);
  if (!root.ok()) return root.status();
  CollectorConfig c;
  std::vector<std::string> errors;
  YamlMapReader top(
      *root, file, "",
      {"host", "source", "interval", "libvirt", "capacity", "balancer", "metrics_listen"}, &errors);
  top.Enum("source", &c.source, {"libvirt", "xenstat"});
  top.Duration("interval", &c.interval, std::chrono::milliseconds(100), std::chrono::hours(1));
  top.String("metrics_listen", &c.metrics_listen);

  YAML::Node host = top.Get("host");
  YamlMapReader h(host, file, "host",
                  {"name", "libvirt_uri", "advertised_uri", "migration_address"}, &errors);
  h.String("name", &c.host_name);
  h.String("libvirt_uri", &c.libvirt_uri);
  h.String("advertised_uri", &c.advertised_uri);
  h.String("migration_address", &c.migration_address);

  YAML::Node lv = top.Get("libvirt");
  YamlMapReader l(lv, file, "libvirt", {"block_stats"}, &errors);
  l.Bool("block_stats", &c.libvirt_block_stats);

  YAML::Node cap = top.Get("capacity");
  YamlMapReader k(cap, file, "capacity", {"cpu_cores", "memory", "nic_bits_per_second"}, &errors);
  if (k.Has("cpu_cores")) {
    double v = 0;
    if (k.Double("cpu_cores", &v, 0.01, kMaxCpuCores)) c.cpu_cores = v;
  }
  if (k.Has("memory")) {
    std::uint64_t v = 0;
    if (k.Bytes("memory", &v)) {
      if (v == 0)
        k.Error(cap["memory"], "memory", "must be greater than zero");
      else
        c.memory_bytes = v;
    }
  }
  k.UInt("nic_bits_per_second", &c.nic_bits_per_second, 0, std::uint64_t{1} << 50);

  YAML::Node bal = top.Get("balancer");
  YamlMapReader b(bal, file, "balancer",
                  {"endpoint", "more_endpoints", "plaintext", "key_file", "server_public_key_file"},
                  &errors);
  b.String("endpoint", &c.endpoint);
  if (b.Has("more_endpoints")) {
    const YAML::Node more = b.Get("more_endpoints");
    if (!more.IsSequence()) {
      b.Error(more, "more_endpoints", "expected a list of endpoints (tcp://HOST:PORT)");
    } else {
      for (const auto& e : more) {
        const std::string ep = e.as<std::string>("");
        if (ep.empty()) {
          b.Error(e, "more_endpoints", "an endpoint must not be empty");
        } else {
          c.more_endpoints.push_back(ep);
        }
      }
    }
    if (c.endpoint.empty()) {
      b.Error(more, "more_endpoints", "needs balancer.endpoint (the first balancer)");
    }
  }
  b.Bool("plaintext", &c.plaintext);
  b.String("key_file", &c.key_file);
  b.String("server_public_key_file", &c.server_public_key_file);

  if (c.host_name.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0) c.host_name = buf;
    c.host_name = c.host_name.substr(0, c.host_name.find('.'));
  }
  if (!IsValidHostName(c.host_name)) {
    errors.push_back(file + ": host.name: '" + c.host_name +
                     "' is not a valid host name ([A-Za-z0-9._-], 1..255)");
  }
  if (c.advertised_uri.empty()) c.advertised_uri = c.libvirt_uri;
  if (errors.empty() && !c.plaintext && !c.endpoint.empty() &&
      (c.key_file.empty() || c.server_public_key_file.empty())) {
    errors.push_back(file +
                     ": balancer: CURVE needs key_file and server_public_key_file "
                     "(make them with ballast-keygen), or set plaintext: true");
  }
  BALLAST_RETURN_IF_ERROR(ErrorsToStatus(errors));
  return c;
}

}  // namespace ballast
