#include "balancer/daemon/balancer_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace ballast {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// What every valid config needs besides the keys under test.
constexpr char kRequired[] =
    "policy_file: /etc/ballast/policy.yaml\n"
    "journal_file: /var/lib/ballast/journal.jsonl\n"
    "plaintext: true\n"
    "inventory: {trust_collector_claims: true}\n";

class BalancerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ballast-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    file_ = (dir_ / "balancer.yaml").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Result<BalancerConfig> Load(const std::string& yaml) {
    std::ofstream(file_) << yaml;
    return LoadBalancerConfig(file_);
  }
  BalancerConfig MustLoad(const std::string& yaml) {
    auto c = Load(yaml);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : BalancerConfig{};
  }
  std::string Errors(const std::string& yaml) {
    auto c = Load(yaml);
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << c.status().ToString();
    return c.status().message();
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(BalancerConfigTest, FullConfigParses) {
  BalancerConfig c = MustLoad(
      "listen: tcp://0.0.0.0:7711\n"
      "inventory: {pattern: {libvirt_uri: \"qemu+tls://{host}/system\"}}\n"
      "plaintext: false\n"
      "server_key_file: /etc/ballast/keys/balancer.key\n"
      "allowlist_dir: /etc/ballast/keys/collectors\n"
      "bind_key_to_host: false\n"
      "stale_after_intervals: 4.5\n"
      "min_stale_after: 500ms\n"
      "table_interval: 0s\n"
      "status_file: /run/ballast/status.json\n"
      "status_interval: 2s\n"
      "policy_file: /etc/ballast/policy.yaml\n"
      "journal_file: /var/lib/ballast/journal.jsonl\n"
      "journal_max_bytes: 16MiB\n"
      "journal_keep: 9\n"
      "actuator: dry-run\n"
      "migration_workers: 2\n"
      "shutdown_grace: 1m\n"
      "startup_grace: 1500ms\n");
  EXPECT_EQ(c.listen, "tcp://0.0.0.0:7711");
  EXPECT_FALSE(c.plaintext);
  EXPECT_EQ(c.server_key_file, "/etc/ballast/keys/balancer.key");
  EXPECT_EQ(c.allowlist_dir, "/etc/ballast/keys/collectors");
  EXPECT_FALSE(c.bind_key_to_host);
  EXPECT_DOUBLE_EQ(c.stale_after_intervals, 4.5);
  EXPECT_EQ(c.min_stale_after, milliseconds(500));
  EXPECT_EQ(c.table_interval, seconds(0));
  EXPECT_EQ(c.status_file, "/run/ballast/status.json");
  EXPECT_EQ(c.status_interval, seconds(2));
  EXPECT_EQ(c.policy_file, "/etc/ballast/policy.yaml");
  EXPECT_EQ(c.journal_file, "/var/lib/ballast/journal.jsonl");
  EXPECT_EQ(c.journal_max_bytes, 16ull << 20);
  EXPECT_EQ(c.journal_keep, 9);
  EXPECT_EQ(c.actuator, "dry-run");
  EXPECT_EQ(c.migration_workers, 2);
  EXPECT_EQ(c.shutdown_grace, minutes(1));
  EXPECT_EQ(c.startup_grace, milliseconds(1500));
}

TEST_F(BalancerConfigTest, AbsentKeysKeepTheirDefaults) {
  BalancerConfig c = MustLoad(kRequired);
  BalancerConfig d;
  EXPECT_EQ(c.listen, d.listen);
  EXPECT_TRUE(c.plaintext);
  EXPECT_EQ(c.bind_key_to_host, d.bind_key_to_host);
  EXPECT_EQ(c.min_stale_after, d.min_stale_after);
  EXPECT_EQ(c.table_interval, d.table_interval);
  EXPECT_EQ(c.journal_max_bytes, d.journal_max_bytes);
  EXPECT_EQ(c.journal_keep, d.journal_keep);
  EXPECT_EQ(c.actuator, "libvirt");
  EXPECT_EQ(c.migration_workers, d.migration_workers);
  EXPECT_EQ(c.shutdown_grace, d.shutdown_grace);
  EXPECT_EQ(c.startup_grace, d.startup_grace);
  EXPECT_EQ(c.record_file, "");  // no recording unless asked for
  EXPECT_EQ(c.record_max_bytes, 1ull << 30);
}

TEST_F(BalancerConfigTest, RecordingTakesAFileAndASizeCap) {
  BalancerConfig c = MustLoad(std::string(kRequired) +
                              "record_file: /var/lib/ballast/stream.rec\nrecord_max_bytes: 2GiB\n");
  EXPECT_EQ(c.record_file, "/var/lib/ballast/stream.rec");
  EXPECT_EQ(c.record_max_bytes, 2ull << 30);
  EXPECT_THAT(Errors(std::string(kRequired) + "record_max_bytes: 1KiB\n"),
              HasSubstr("record_max_bytes: must be at least 1MiB"));
}

TEST_F(BalancerConfigTest, PolicyAndJournalFilesAreRequired) {
  std::string e = Errors("plaintext: true\n");
  EXPECT_THAT(e, HasSubstr(file_ + ": policy_file: required"));
  EXPECT_THAT(e, HasSubstr(file_ + ": journal_file: required"));

  e = Errors("plaintext: true\npolicy_file: p.yaml\n");
  EXPECT_THAT(e, AllOf(HasSubstr("journal_file: required"), Not(HasSubstr("policy_file"))));
  e = Errors("plaintext: true\njournal_file: j.jsonl\n");
  EXPECT_THAT(e, AllOf(HasSubstr("policy_file: required"), Not(HasSubstr("journal_file"))));
  // An empty value is as good as absent.
  e = Errors("plaintext: true\npolicy_file: ''\njournal_file: j.jsonl\n");
  EXPECT_THAT(e, HasSubstr("policy_file: required"));
}

TEST_F(BalancerConfigTest, CurveIsRequiredUnlessPlaintext) {
  const std::string files =
      "policy_file: p.yaml\n"
      "journal_file: j.jsonl\n"
      "inventory: {trust_collector_claims: true}\n";
  std::string e = Errors(files);
  EXPECT_THAT(e, HasSubstr("CURVE needs server_key_file and allowlist_dir"));
  EXPECT_THAT(e, HasSubstr("plaintext: true"));  // and says how to opt out
  EXPECT_EQ(e.rfind(file_, 0), 0u) << e;

  // Half of the keys is not enough.
  EXPECT_THAT(Errors(files + "server_key_file: b.key\n"), HasSubstr("CURVE"));
  EXPECT_THAT(Errors(files + "allowlist_dir: keys\n"), HasSubstr("CURVE"));

  BalancerConfig c = MustLoad(files + "server_key_file: b.key\nallowlist_dir: keys\n");
  EXPECT_FALSE(c.plaintext);
  c = MustLoad(files + "plaintext: true\n");
  EXPECT_TRUE(c.plaintext);
}

TEST_F(BalancerConfigTest, UnknownKeySuggestsTheNearestWithPosition) {
  std::string e = Errors(std::string(kRequired) + "journal_keeep: 3\n");
  // Line 5, column 1 of the file (1-based).
  EXPECT_THAT(e, HasSubstr(file_ + ":5:1: unknown key 'journal_keeep'; did you mean "
                                   "'journal_keep'?"));
  // A misspelt required key: both the suggestion and the missing key are reported.
  e = Errors(
      "plaintext: true\n"
      "journal_file: j.jsonl\n"
      "polcy_file: p.yaml\n");
  EXPECT_THAT(e, HasSubstr(file_ + ":3:1: unknown key 'polcy_file'; did you mean 'policy_file'?"));
  EXPECT_THAT(e, HasSubstr("policy_file: required"));
  // Nothing close: no suggestion.
  e = Errors(std::string(kRequired) + "completely_different: 1\n");
  EXPECT_THAT(e, HasSubstr("unknown key 'completely_different'"));
  EXPECT_THAT(e, Not(HasSubstr("did you mean")));
}

TEST_F(BalancerConfigTest, DurationsAndSizesParse) {
  BalancerConfig c = MustLoad(std::string(kRequired) +
                              "min_stale_after: 1.5s\n"
                              "status_interval: 250ms\n"
                              "table_interval: 1h\n"
                              "shutdown_grace: 0s\n"
                              "journal_max_bytes: 1GB\n");
  EXPECT_EQ(c.min_stale_after, milliseconds(1500));
  EXPECT_EQ(c.status_interval, milliseconds(250));
  EXPECT_EQ(c.table_interval, std::chrono::hours(1));
  EXPECT_EQ(c.shutdown_grace, seconds(0));
  EXPECT_EQ(c.journal_max_bytes, 1'000'000'000u);

  c = MustLoad(std::string(kRequired) + "journal_max_bytes: 2097152\n");  // bare bytes
  EXPECT_EQ(c.journal_max_bytes, 2097152u);
}

TEST_F(BalancerConfigTest, BadDurationsAndSizesNameKeyAndPosition) {
  std::string e = Errors(std::string(kRequired) + "shutdown_grace: 30\n");
  EXPECT_THAT(e, HasSubstr(file_ + ":5:17: shutdown_grace: '30' needs a unit"));
  e = Errors(std::string(kRequired) + "min_stale_after: 10ms\n");  // below 100ms
  EXPECT_THAT(e, HasSubstr("min_stale_after: 10ms is out of range"));
  e = Errors(std::string(kRequired) + "journal_max_bytes: 4 parsecs\n");
  EXPECT_THAT(e, HasSubstr(file_ + ":5:20: journal_max_bytes: '4 parsecs': unknown unit"));
  e = Errors(std::string(kRequired) + "journal_keep: 65\n");
  EXPECT_THAT(e, HasSubstr("journal_keep: 65 is out of range [1, 64]"));
  e = Errors(std::string(kRequired) + "journal_max_bytes: 4096\n");
  EXPECT_THAT(e, HasSubstr("journal_max_bytes: must be at least 1MiB"));
  e = Errors(std::string(kRequired) + "migration_workers: 0\n");
  EXPECT_THAT(e, HasSubstr("migration_workers: 0 is out of range [1, 64]"));
}

TEST_F(BalancerConfigTest, ActuatorIsAnEnum) {
  EXPECT_EQ(MustLoad(std::string(kRequired) + "actuator: libvirt\n").actuator, "libvirt");
  EXPECT_EQ(MustLoad(std::string(kRequired) + "actuator: dry-run\n").actuator, "dry-run");
  std::string e = Errors(std::string(kRequired) + "actuator: dryrun\n");
  EXPECT_THAT(e, HasSubstr(file_ + ":5:11: actuator: 'dryrun' is not one of: libvirt, dry-run"));
}

TEST_F(BalancerConfigTest, EveryErrorIsReportedAtOnce) {
  std::string e = Errors(std::string(kRequired) +
                         "actuator: xen\n"
                         "journal_keep: -1\n"
                         "startup_grace: soon\n");
  EXPECT_THAT(e, HasSubstr("actuator:"));
  EXPECT_THAT(e, HasSubstr("journal_keep:"));
  EXPECT_THAT(e, HasSubstr("startup_grace:"));
}

TEST_F(BalancerConfigTest, MissingFileIsNotFoundAndNamed) {
  auto c = LoadBalancerConfig((dir_ / "absent.yaml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("absent.yaml"));
}

TEST_F(BalancerConfigTest, SyntaxErrorNamesThePosition) {
  auto c = Load("policy_file: [unclosed\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind(file_ + ":", 0), 0u) << c.status().message();
}

// --- inventory ---------------------------------------------------------------------------

constexpr char kBase[] =
    "policy_file: /etc/ballast/policy.yaml\n"
    "journal_file: /var/lib/ballast/journal.jsonl\n"
    "plaintext: true\n";

TEST_F(BalancerConfigTest, InventoryListsHostsAndAPattern) {
  BalancerConfig c = MustLoad(std::string(kBase) +
                              "inventory:\n"
                              "  hosts:\n"
                              "    kvm-1: {libvirt_uri: \"qemu+tls://kvm-1.example/system\", "
                              "migration_address: 10.0.0.11}\n"
                              "    kvm-2: {libvirt_uri: \"qemu+ssh://root@kvm-2/system\"}\n"
                              "  pattern: {libvirt_uri: \"qemu+tls://{host}.example/system\", "
                              "migration_address: \"{host}.mig.example\"}\n");
  EXPECT_FALSE(c.inventory.trusts_claims());
  using controller::HostEndpoints;
  EXPECT_EQ(c.inventory.Resolve("kvm-1"),
            (HostEndpoints{"qemu+tls://kvm-1.example/system", "10.0.0.11"}));
  EXPECT_EQ(c.inventory.Resolve("kvm-2"), (HostEndpoints{"qemu+ssh://root@kvm-2/system", ""}));
  // Not listed: the pattern, with the name substituted...
  EXPECT_EQ(c.inventory.Resolve("kvm-3"),
            (HostEndpoints{"qemu+tls://kvm-3.example/system", "kvm-3.mig.example"}));
  // ...only for safe host names.
  EXPECT_FALSE(c.inventory.Resolve("evil/../x").has_value());
  EXPECT_FALSE(c.inventory.Resolve("a b").has_value());
  EXPECT_FALSE(c.inventory.Resolve("..").has_value());
  EXPECT_FALSE(c.inventory.Resolve("").has_value());
  // The controller gets it.
  EXPECT_EQ(ControllerOptionsFor(c).inventory.Resolve("kvm-1"), c.inventory.Resolve("kvm-1"));
}

TEST_F(BalancerConfigTest, InventoryIsRequiredAndTrustingClaimsMustBeExplicit) {
  EXPECT_THAT(Errors(kBase), AllOf(HasSubstr("inventory: required"),
                                   HasSubstr("trust_collector_claims: true (insecure")));
  EXPECT_THAT(Errors(std::string(kBase) + "inventory: {}\n"),
              HasSubstr("inventory: no hosts and no pattern"));
  BalancerConfig c = MustLoad(std::string(kBase) + "inventory: {trust_collector_claims: true}\n");
  EXPECT_TRUE(c.inventory.trusts_claims());
  EXPECT_THAT(Errors(std::string(kBase) +
                     "inventory: {trust_collector_claims: true, pattern: {libvirt_uri: "
                     "\"qemu+tls://{host}/system\"}}\n"),
              HasSubstr("inventory.trust_collector_claims: true ignores hosts and pattern"));
}

TEST_F(BalancerConfigTest, InventoryErrorsNameTheKey) {
  const std::string e = Errors(std::string(kBase) +
                               "inventory:\n"
                               "  hosts:\n"
                               "    good: {libvirt_uri: \"qemu+tls://good/system\"}\n"
                               "    empty: {libvirt_uri: \"\"}\n"
                               "    nouri: {migration_address: 10.0.0.1}\n"
                               "    \"bad/name\": {libvirt_uri: \"qemu:///system\"}\n"
                               "    noscheme: {libvirt_uri: \"kvm-1/system\"}\n"
                               "    braces: {libvirt_uri: \"qemu+tls://{host}/system\"}\n"
                               "    spaces: {libvirt_uri: \"qemu+tls://a b/system\"}\n"
                               "    addr: {libvirt_uri: \"qemu:///system\", migration_address: "
                               "\"10.0.0.1 ; rm\"}\n"
                               "    typo: {libvirt_url: \"qemu:///system\"}\n"
                               "  pattern: {libvirt_uri: \"qemu+tls://fixed/system\", "
                               "migration_address: \"{hostname}.mig\"}\n");
  EXPECT_THAT(e, HasSubstr("inventory.hosts.empty.libvirt_uri: must not be empty"));
  EXPECT_THAT(e, HasSubstr("inventory.hosts.nouri.libvirt_uri: required"));
  EXPECT_THAT(e, HasSubstr("inventory.hosts.bad/name: not a host name"));
  EXPECT_THAT(e, HasSubstr("inventory.hosts.noscheme.libvirt_uri: must start with a scheme"));
  EXPECT_THAT(e, HasSubstr("inventory.hosts.braces.libvirt_uri: must not contain '{' or '}'"));
  EXPECT_THAT(e, HasSubstr("inventory.hosts.spaces.libvirt_uri: must be printable ASCII"));
  EXPECT_THAT(e, HasSubstr("inventory.hosts.addr.migration_address: must be a host name or an IP"));
  EXPECT_THAT(e, HasSubstr("unknown key 'inventory.hosts.typo.libvirt_url'"));
  EXPECT_THAT(e, HasSubstr("inventory.pattern.libvirt_uri: a pattern must contain {host}"));
  EXPECT_THAT(e, HasSubstr("inventory.pattern.migration_address: only {host} may appear"));
  EXPECT_THAT(e, Not(HasSubstr("inventory.hosts.good")));
}

}  // namespace
}  // namespace ballast

namespace ballast {
namespace {

class BalancerHaConfigTest : public BalancerConfigTest {};

TEST_F(BalancerHaConfigTest, OffByDefault) {
  BalancerConfig c = MustLoad(kRequired);
  EXPECT_FALSE(c.ha.enabled());
}

TEST_F(BalancerHaConfigTest, EndpointsTurnItOnWithDefaults) {
  BalancerConfig c = MustLoad(std::string(kRequired) +
                              "ha:\n  etcd_endpoints: [http://127.0.0.1:2379, "
                              "http://10.0.0.2:2379]\n  name: b1\n  cluster: prod\n");
  ASSERT_TRUE(c.ha.enabled());
  EXPECT_EQ(c.ha.etcd_endpoints.size(), 2u);
  EXPECT_EQ(c.ha.name, "b1");
  EXPECT_EQ(c.ha.cluster, "prod");
  EXPECT_EQ(c.ha.lease_ttl, std::chrono::seconds(10));
  EXPECT_GT(c.ha.renew_interval.count(), 0);
  EXPECT_LT(c.ha.renew_interval, c.ha.lease_ttl);  // renewed well inside the lease
  EXPECT_FALSE(c.ha.test_unfenced);
  BalancerConfig unnamed =
      MustLoad(std::string(kRequired) + "ha: {etcd_endpoints: [http://127.0.0.1:2379]}\n");
  EXPECT_FALSE(unnamed.ha.name.empty());  // the host name
}

TEST_F(BalancerHaConfigTest, BadValuesAreNamed) {
  const std::string m = Errors(std::string(kRequired) +
                               "ha:\n  etcd_endpoints: [127.0.0.1:2379]\n  cluster: a/b\n"
                               "  lease_ttl: 3s\n  renew_interval: 2s\n  etcd_timeout: 1s\n"
                               "  leas_ttl: 4s\n");
  EXPECT_NE(m.find("ha.etcd_endpoints: '127.0.0.1:2379' is not an http:// or https:// URL"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("ha.cluster: must be a non-empty name without '/'"), std::string::npos) << m;
  EXPECT_NE(m.find("renew_interval + etcd_timeout must be shorter than lease_ttl"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("unknown key 'ha.leas_ttl'; did you mean 'lease_ttl'?"), std::string::npos) << m;
}

}  // namespace
}  // namespace ballast
