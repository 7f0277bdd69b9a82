#include "balancer/daemon/balancer_config.h"

#include <yaml-cpp/yaml.h>

#include "common/config_util.h"

namespace ballast {

Result<BalancerConfig> LoadBalancerConfig(const std::string& file) {
  auto root = LoadYamlFile(file);
  if (!root.ok()) return root.status();
  BalancerConfig c;
  std::vector<std::string> errors;
  YamlMapReader r(*root, file, "",
                  {"listen", "plaintext", "server_key_file", "allowlist_dir", "bind_key_to_host",
                   "stale_after_intervals", "min_stale_after", "table_interval", "status_file",
                   "status_interval"},
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
  if (errors.empty() && !c.plaintext && (c.server_key_file.empty() || c.allowlist_dir.empty())) {
    errors.push_back(file +
                     ": CURVE needs server_key_file and allowlist_dir (make keys with "
                     "ballast-keygen), or set plaintext: true");
  }
  BALLAST_RETURN_IF_ERROR(ErrorsToStatus(errors));
  return c;
}

}  // namespace ballast
