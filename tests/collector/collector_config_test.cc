#include "collector/collector_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ballast {
namespace {

// Config files live in one directory per test process, removed when the tests end.
struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("ballast-collector-config-" + std::to_string(::getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string WriteTemp(const std::string& text) {
  static TempDir dir;
  static int n = 0;
  auto p = dir.path / (std::to_string(n++) + ".yaml");
  std::ofstream(p) << text;
  return p.string();
}

TEST(CollectorConfigTest, FullConfig) {
  auto c = LoadCollectorConfig(WriteTemp(R"(
host:
  name: node-a
  libvirt_uri: qemu+unix:///session?socket=/tmp/a/libvirt-sock
  migration_address: 127.0.0.1
source: libvirt
interval: 500ms
capacity:
  cpu_cores: 1
  memory: 2GiB
  nic_bits_per_second: 1e9
balancer:
  endpoint: tcp://127.0.0.1:7710
  key_file: /k/node-a.key
  server_public_key_file: /k/balancer.pub
)"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host_name, "node-a");
  EXPECT_EQ(c->advertised_uri, c->libvirt_uri);  // defaults to what the source reads
  EXPECT_EQ(c->interval, std::chrono::milliseconds(500));
  EXPECT_EQ(*c->cpu_cores, 1);
  EXPECT_EQ(*c->memory_bytes, 2ull << 30);
  EXPECT_EQ(c->nic_bits_per_second, 1'000'000'000u);
  EXPECT_FALSE(c->plaintext);
  EXPECT_FALSE(c->libvirt_block_stats);  // off unless asked for: it costs QEMU monitor queries
}

TEST(CollectorConfigTest, BlockStatsAreAskedForExplicitly) {
  auto c = LoadCollectorConfig(
      WriteTemp("host: {name: a}\nlibvirt: {block_stats: true}\nbalancer: {endpoint: tcp://x:1, "
                "plaintext: true}\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->libvirt_block_stats);
  const std::string file = WriteTemp("host: {name: a}\nlibvirt:\n  block_stat: true\n");
  auto bad = LoadCollectorConfig(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                file + ":3:3: unknown key 'libvirt.block_stat'; did you mean 'block_stats'?"),
            std::string::npos)
      << bad.status().message();
}

TEST(CollectorConfigTest, CurveIsRequiredUnlessPlaintextIsExplicit) {
  auto c = LoadCollectorConfig(WriteTemp("host: {name: a}\nbalancer: {endpoint: tcp://x:1}\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("CURVE needs key_file"), std::string::npos);
  auto p = LoadCollectorConfig(
      WriteTemp("host: {name: a}\nbalancer: {endpoint: tcp://x:1, plaintext: true}\n"));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
}

TEST(CollectorConfigTest, EveryErrorIsReportedWithItsLocation) {
  const std::string file = WriteTemp("host:\n  nmae: a\nsource: vmware\ninterval: 10ms\n");
  auto c = LoadCollectorConfig(file);
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find(file + ":2:3: unknown key 'host.nmae'; did you mean 'name'?"), std::string::npos)
      << m;
  EXPECT_NE(m.find(file + ":3:9: source: 'vmware' is not one of: libvirt, xenstat"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(file + ":4:11: interval: 10ms is out of range"), std::string::npos) << m;
}

TEST(CollectorConfigTest, MissingFileIsNamed) {
  auto c = LoadCollectorConfig("/nonexistent/collector.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/collector.yaml"), std::string::npos);
}

}  // namespace
}  // namespace ballast

namespace ballast {
namespace {

TEST(CollectorConfigTest, MoreEndpointsPublishToEveryBalancer) {
  auto c = LoadCollectorConfig(
      WriteTemp("host: {name: a}\nbalancer: {endpoint: tcp://x:1, more_endpoints: [tcp://y:1], "
                "plaintext: true}\n"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->Endpoints(), (std::vector<std::string>{"tcp://x:1", "tcp://y:1"}));
  auto alone = LoadCollectorConfig(
      WriteTemp("host: {name: a}\nbalancer: {more_endpoints: [tcp://y:1], plaintext: true}\n"));
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.status().message().find("needs balancer.endpoint"), std::string::npos);
}

}  // namespace
}  // namespace ballast
