// The policies shipped in policies/ must load, and policies/schema.json must accept the
// same keys as the loader, so the editor's validation and the daemon's cannot drift apart.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "balancer/policy/loader.h"

namespace ballast::policy {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDir = BALLAST_POLICIES_DIR;

TEST(ShippedPoliciesTest, EveryPolicyLoads) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    Result<core::Policy> r = LoadPolicyFile(entry.path().string());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
  EXPECT_GE(count, 4);
}

TEST(ShippedPoliciesTest, DefaultRelievesCpuQuicklyAndAutomatically) {
  Result<core::Policy> r = LoadPolicyFile((kDir / "default.yaml").string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->mode, core::Mode::kAutomatic);
  EXPECT_LE(r->interval, std::chrono::seconds(2));
  EXPECT_DOUBLE_EQ(r->threshold(core::Resource::kCpu).hot, 0.85);
  EXPECT_LE(r->detection.k, 3);
  EXPECT_EQ(r->strategies.front(), core::StrategyKind::kHotspot);
}

json LoadSchema() {
  std::ifstream in(kDir / "schema.json");
  EXPECT_TRUE(in.good());
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::set<std::string> PropertyNames(const json& schema, const json& node) {
  const json* n = &node;
  if (n->contains("$ref")) {
    std::string ref = (*n)["$ref"].get<std::string>();
    EXPECT_EQ(ref.rfind("#/$defs/", 0), 0u) << ref;
    n = &schema["$defs"][ref.substr(8)];
  }
  if (n->contains("items")) n = &(*n)["items"];
  if (n->contains("$ref")) return PropertyNames(schema, *n);
  std::set<std::string> out;
  EXPECT_EQ(n->value("additionalProperties", true), false) << n->dump();
  for (const auto& [key, value] : (*n)["properties"].items()) out.insert(key);
  return out;
}

const json& At(const json& schema, const std::string& dotted) {
  const json* n = &schema;
  std::size_t start = 0;
  while (start <= dotted.size() && !dotted.empty()) {
    std::size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    n = &(*n)["properties"][part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *n;
}

TEST(ShippedPoliciesTest, SchemaIsValidJsonAndMatchesTheLoaderKeys) {
  json schema = LoadSchema();
  ASSERT_FALSE(schema.is_discarded()) << "schema.json is not valid JSON";
  // The loader's sections and where each lives in the schema.
  const std::map<std::string, std::string> where = {
      {"", ""},
      {"thresholds", "thresholds"},
      {"thresholds.<resource>", "thresholds.cpu"},
      {"detection", "detection"},
      {"balance", "balance"},
      {"balance.weights", "balance.weights"},
      {"density", "density"},
      {"drain", "drain"},
      {"rules", "rules"},
      {"rules.affinity[]", "rules.affinity"},
      {"rules.pins[]", "rules.pins"},
      {"limits", "limits"},
      {"migration", "migration"},
  };
  for (const auto& [section, keys] : KnownKeys()) {
    auto it = where.find(section);
    ASSERT_NE(it, where.end()) << "loader section '" << section << "' not mapped";
    std::set<std::string> expected(keys.begin(), keys.end());
    EXPECT_EQ(PropertyNames(schema, At(schema, it->second)), expected) << section;
  }
  // Threshold and group shapes are shared; make sure every instance uses them.
  for (std::string r : {"memory", "network"}) {
    EXPECT_EQ(PropertyNames(schema, At(schema, "thresholds." + r)),
              PropertyNames(schema, At(schema, "thresholds.cpu")));
  }
  EXPECT_EQ(PropertyNames(schema, At(schema, "rules.anti_affinity")),
            PropertyNames(schema, At(schema, "rules.affinity")));
}

}  // namespace
}  // namespace ballast::policy
