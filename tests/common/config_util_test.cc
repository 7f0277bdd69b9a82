#include "common/config_util.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <string>

#include "common/yaml_duplicates.h"

namespace ballast {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ConfigUtilTest, Durations) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("2s"), milliseconds(2000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("3m"), std::chrono::minutes(3));
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("fast").ok());
  EXPECT_NE(ParseDuration("5").status().message().find("needs a unit"), std::string::npos);
}

TEST(ConfigUtilTest, Bytes) {
  EXPECT_EQ(*ParseBytes("4GiB"), 4ull << 30);
  EXPECT_EQ(*ParseBytes("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseBytes("1e9"), 1'000'000'000ull);
  EXPECT_EQ(*ParseBytes("2 GB"), 2'000'000'000ull);
  EXPECT_FALSE(ParseBytes("4 parsecs").ok());
}

TEST(ConfigUtilTest, UnknownKeyGetsLocationAndSuggestion) {
  YAML::Node n = YAML::Load("listen: x\nplaintxt: true\n");
  std::vector<std::string> errors;
  YamlMapReader r(n, "b.yaml", "", {"listen", "plaintext"}, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "b.yaml:2:1: unknown key 'plaintxt'; did you mean 'plaintext'?");
}

TEST(ConfigUtilTest, OutOfRangeNamesPathAndRange) {
  YAML::Node n = YAML::Load("capacity:\n  cpu_cores: -3\n");
  std::vector<std::string> errors;
  YamlMapReader top(n, "c.yaml", "", {"capacity"}, &errors);
  YamlMapReader cap(top.Get("capacity"), "c.yaml", "capacity", {"cpu_cores"}, &errors);
  double v = 1;
  EXPECT_FALSE(cap.Double("cpu_cores", &v, 0.01, 100));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "c.yaml:2:14: capacity.cpu_cores: -3 is out of range [0.01, 100]");
  EXPECT_EQ(v, 1);
}

TEST(ConfigUtilTest, EnumListsAllowedValues) {
  YAML::Node n = YAML::Load("source: vmware\n");
  std::vector<std::string> errors;
  YamlMapReader r(n, "f", "", {"source"}, &errors);
  std::string s = "libvirt";
  EXPECT_FALSE(r.Enum("source", &s, {"libvirt", "xenstat"}));
  EXPECT_NE(errors[0].find("'vmware' is not one of: libvirt, xenstat"), std::string::npos);
}

TEST(ConfigUtilTest, YamlSyntaxErrorNamesLine) {
  auto r = LoadYamlFile("/nonexistent/ballast.yaml");
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST(ConfigUtilTest, RepeatedKeyIsAnErrorNamingBothLines) {
  char path[] = "/tmp/ballast_dup_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "listen: tcp://127.0.0.1:1\nhosts:\n  - {name: a, name: b}\nlisten: x\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto r = LoadYamlFile(path);
  unlink(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  const std::string m = r.status().message();
  EXPECT_NE(m.find(std::string(path) + ":3:15: hosts[0].name: key given twice (first on line 3)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(std::string(path) + ":4:1: listen: key given twice (first on line 1)"),
            std::string::npos)
      << m;
}

TEST(ConfigUtilTest, DistinctKeysInSiblingMapsAreFine) {
  YAML::Node n = YAML::Load("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n");
  EXPECT_TRUE(FindDuplicateYamlKeys(n).empty());
}

}  // namespace
}  // namespace ballast
