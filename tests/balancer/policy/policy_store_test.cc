#include "balancer/policy/policy_store.h"

#include <gtest/gtest.h>

namespace ballast::policy {
namespace {

TEST(PolicyStoreTest, StartsWithDefaultsAtGenerationZero) {
  PolicyStore store;
  EXPECT_EQ(store.generation(), 0u);
  EXPECT_EQ(store.current()->name, "default");
}

TEST(PolicyStoreTest, SuccessfulReloadReplacesAndBumpsGeneration) {
  PolicyStore store;
  ASSERT_TRUE(store.ReloadFromString("apiVersion: ballast/v1\nname: one\n", "a.yaml").ok());
  EXPECT_EQ(store.generation(), 1u);
  EXPECT_EQ(store.current()->name, "one");
}

TEST(PolicyStoreTest, FailedReloadKeepsTheLastGoodPolicy) {
  PolicyStore store;
  ASSERT_TRUE(store.ReloadFromString("apiVersion: ballast/v1\nname: good\n", "a.yaml").ok());
  auto held = store.current();
  Status s =
      store.ReloadFromString("apiVersion: ballast/v1\nname: bad\nmode: sometimes\n", "b.yaml");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("b.yaml:3:7: mode"), std::string::npos) << s.message();
  EXPECT_EQ(store.generation(), 1u);
  EXPECT_EQ(store.current()->name, "good");
  EXPECT_EQ(held->name, "good");
  EXPECT_FALSE(store.Reload("/nonexistent/policy.yaml").ok());
  EXPECT_EQ(store.current()->name, "good");
}

}  // namespace
}  // namespace ballast::policy
