#include "balancer/controller/host_inventory.h"

#include <gtest/gtest.h>

#include <string>

namespace ballast::controller {
namespace {

TEST(HostInventory, ExplicitEntryWinsOverThePattern) {
  HostInventory inv;
  inv.SetPattern({"qemu+tls://{host}.example/system", "{host}.mig"});
  inv.Add("kvm-1", {"qemu+ssh://root@10.0.0.1/system", "10.0.0.11"});
  EXPECT_EQ(inv.Resolve("kvm-1"), (HostEndpoints{"qemu+ssh://root@10.0.0.1/system", "10.0.0.11"}));
  EXPECT_EQ(inv.Resolve("kvm-2"), (HostEndpoints{"qemu+tls://kvm-2.example/system", "kvm-2.mig"}));
  EXPECT_TRUE(inv.Validate().empty());
}

TEST(HostInventory, EveryPlaceholderIsSubstituted) {
  HostInventory inv;
  inv.SetPattern({"qemu+unix:///session?socket=/lab/{host}/{host}.sock", "127.0.0.1"});
  EXPECT_EQ(inv.Resolve("a")->libvirt_uri, "qemu+unix:///session?socket=/lab/a/a.sock");
  EXPECT_EQ(inv.Resolve("a")->migration_address, "127.0.0.1");
}

TEST(HostInventory, UnsafeNamesGetNoPatternEntry) {
  HostInventory inv;
  inv.SetPattern({"qemu+tls://{host}/system", ""});
  for (const char* bad :
       {"", ".", "..", "a..b", "-a", ".a", "a/b", "a b", "a@b", "a?x=1", "a\nb", "\xc3\xa9"}) {
    EXPECT_FALSE(HostInventory::IsSafeHostName(bad)) << bad;
    EXPECT_FALSE(inv.Resolve(bad).has_value()) << bad;
  }
  EXPECT_FALSE(inv.Resolve(std::string(254, 'a')).has_value());
  for (const char* good : {"a", "kvm-1", "node1.example.com", "host_2", "9x"}) {
    EXPECT_TRUE(HostInventory::IsSafeHostName(good)) << good;
    EXPECT_TRUE(inv.Resolve(good).has_value()) << good;
  }
}

TEST(HostInventory, EmptyKnowsNoHostAndTrustResolvesNothing) {
  EXPECT_TRUE(HostInventory().empty());
  EXPECT_FALSE(HostInventory().Resolve("a").has_value());
  EXPECT_FALSE(HostInventory().Validate().empty());
  const HostInventory trust = HostInventory::TrustCollectorClaims();
  EXPECT_TRUE(trust.trusts_claims());
  EXPECT_FALSE(trust.Resolve("a").has_value());  // the caller uses the sample's claims
  EXPECT_TRUE(trust.Validate().empty());
}

TEST(HostInventory, ChecksNameWhatIsWrong) {
  EXPECT_EQ(HostInventory::CheckUri("qemu:///system", false), "");
  EXPECT_EQ(HostInventory::CheckUri("test:///default", false), "");
  EXPECT_NE(HostInventory::CheckUri("", false), "");
  EXPECT_NE(HostInventory::CheckUri("qemu+tls://{host}/system", false), "");
  EXPECT_EQ(HostInventory::CheckUri("qemu+tls://{host}/system", true), "");
  EXPECT_NE(HostInventory::CheckUri("qemu+tls://fixed/system", true), "");
  EXPECT_NE(HostInventory::CheckUri("qemu+tls://{hostname}/system", true), "");
  EXPECT_NE(HostInventory::CheckUri("//no-scheme", false), "");
  EXPECT_NE(HostInventory::CheckUri(std::string(1025, 'q'), false), "");
  EXPECT_EQ(HostInventory::CheckAddress("", false), "");
  EXPECT_EQ(HostInventory::CheckAddress("[fd00::1]", false), "");
  EXPECT_EQ(HostInventory::CheckAddress("{host}.mig", true), "");
  EXPECT_NE(HostInventory::CheckAddress("{host}.mig", false), "");
  EXPECT_NE(HostInventory::CheckAddress("10.0.0.1/24", false), "");
}

TEST(BoundedForLog, CutsAndEscapes) {
  EXPECT_EQ(BoundedForLog("plain-text.1"), "plain-text.1");
  EXPECT_EQ(BoundedForLog("a\nb'\"\\\x1b"), "a\\x0ab\\x27\\x22\\x5c\\x1b");
  EXPECT_EQ(BoundedForLog("\xff"), "\\xff");
  EXPECT_EQ(BoundedForLog(std::string(10, 'x'), 4), "xxxx...");
}

}  // namespace
}  // namespace ballast::controller
