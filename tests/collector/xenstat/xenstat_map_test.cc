// Pure mapping rules of collector/xenstat_map.cc, on hand-written values.

#include "collector/xenstat_map.h"

#include <gtest/gtest.h>

namespace ballast {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr char kUuidA[] = "0b7f3a2c-5a0e-4d6f-9c1b-2f3e4d5c6b7a";
constexpr char kUuidB[] = "1c8e4b3d-6b1f-4e70-8d2c-3a4f5e6d7c8b";

XenDomainStats Guest(unsigned domid, std::string uuid, std::string name) {
  XenDomainStats d;
  d.domid = domid;
  d.uuid = std::move(uuid);
  d.name = std::move(name);
  d.num_vcpus = 2;
  d.vcpus = {{true, 10}, {true, 20}};
  d.cpu_ns = 30;
  d.cur_mem = 256 * kMiB;
  d.max_mem = 512 * kMiB;
  d.running = true;
  return d;
}

XenDomainStats Dom0() {
  XenDomainStats d = Guest(0, "", "Domain-0");
  d.max_mem = kXenUnlimitedMemory;
  return d;
}

TEST(XenStateTest, MostFinalBitWins) {
  XenDomainStats d;
  EXPECT_EQ(MapXenState(d), VmState::kRunning) << "runnable, waiting for a pCPU";
  d.blocked = true;
  EXPECT_EQ(MapXenState(d), VmState::kBlocked);
  d.running = true;
  EXPECT_EQ(MapXenState(d), VmState::kRunning);
  d.paused = true;
  EXPECT_EQ(MapXenState(d), VmState::kPaused);
  d.shutdown = true;
  EXPECT_EQ(MapXenState(d), VmState::kShutdown);
  d.crashed = true;
  EXPECT_EQ(MapXenState(d), VmState::kCrashed);
  d.dying = true;
  EXPECT_EQ(MapXenState(d), VmState::kDying);
}

TEST(XenDomainTest, MapsIdentityCpuAndMemory) {
  VmSample vm = MapXenDomain(Guest(7, kUuidA, "web"), kXenstatAll, true, 4096 * kMiB);
  EXPECT_EQ(vm.uuid, kUuidA);
  EXPECT_EQ(vm.name, "web");
  EXPECT_EQ(vm.vcpus, 2u);
  EXPECT_EQ(vm.cpu_ns, 30u);
  EXPECT_EQ(vm.memory_current_bytes, 256 * kMiB);
  EXPECT_EQ(vm.memory_max_bytes, 512 * kMiB);
  EXPECT_EQ(vm.state, VmState::kRunning);
}

TEST(XenDomainTest, CountsOnlineVcpusWhenKnown) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.num_vcpus = 4;  // highest vCPU id + 1
  d.vcpus = {{true, 1}, {false, 0}, {true, 1}, {false, 0}};
  EXPECT_EQ(MapXenDomain(d, kXenstatAll, true, 0).vcpus, 2u);
  EXPECT_EQ(MapXenDomain(d, kXenstatAll & ~kXenstatVcpu, true, 0).vcpus, 4u);
}

TEST(XenDomainTest, UnlimitedMaxMemoryIsBoundedByTheHost) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.max_mem = kXenUnlimitedMemory;
  EXPECT_EQ(MapXenDomain(d, kXenstatAll, true, 8192 * kMiB).memory_max_bytes, 8192 * kMiB);
}

TEST(XenDomainTest, MaxMemoryIsNeverBelowCurrent) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.max_mem = 128 * kMiB;
  EXPECT_EQ(MapXenDomain(d, kXenstatAll, true, 0).memory_max_bytes, 256 * kMiB);
}

TEST(XenDomainTest, TurnsBackendVifCountersIntoTheGuestsView) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.vifs = {{0, /*backend rx=*/100, /*backend tx=*/1000}, {1, 5, 50}};
  VmSample vm = MapXenDomain(d, kXenstatAll, true, 0);
  ASSERT_TRUE(vm.has_net);
  EXPECT_EQ(vm.net_tx_bytes, 105u) << "dom0 received what the guest sent";
  EXPECT_EQ(vm.net_rx_bytes, 1050u) << "dom0 sent what the guest received";
}

TEST(XenDomainTest, GuestWithoutVifsHasZeroNetworkNotUnknown) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.xenstore_vif_count = 0;
  VmSample vm = MapXenDomain(d, kXenstatAll, true, 0);
  EXPECT_TRUE(vm.has_net);
  EXPECT_EQ(vm.net_rx_bytes, 0u);
}

TEST(XenDomainTest, VifsHiddenByLibxenstatAreUnknown) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.xenstore_vif_count = 1;  // xenstore has a vif, libxenstat reported none (no bridge)
  EXPECT_FALSE(MapXenDomain(d, kXenstatAll, true, 0).has_net);
}

TEST(XenDomainTest, NetworkUnknownWithoutTheCollectorOrInAnotherNamespace) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.vifs = {{0, 1, 2}};
  EXPECT_FALSE(MapXenDomain(d, kXenstatAll & ~kXenstatNetwork, true, 0).has_net);
  EXPECT_FALSE(MapXenDomain(d, kXenstatAll, /*network_namespace_ok=*/false, 0).has_net);
}

TEST(XenDomainTest, VbdSectorsBecomeBytes) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.vbds = {{51712, 2, 4, false}, {51728, 1, 0, false}};
  VmSample vm = MapXenDomain(d, kXenstatAll, true, 0);
  ASSERT_TRUE(vm.has_block);
  EXPECT_EQ(vm.block_rd_bytes, 3u * 512);
  EXPECT_EQ(vm.block_wr_bytes, 4u * 512);
  EXPECT_FALSE(MapXenDomain(d, kXenstatAll & ~kXenstatVbd, true, 0).has_block);
}

TEST(XenDomainTest, AVbdReadErrorMakesBlockUnknown) {
  XenDomainStats d = Guest(7, kUuidA, "web");
  d.vbds = {{51712, 2, 4, false}, {51728, 0, 0, true}};
  EXPECT_FALSE(MapXenDomain(d, kXenstatAll, true, 0).has_block);
}

TEST(XenDomainTest, NamelessDomainGetsADomidName) {
  XenDomainStats d = Guest(9, kUuidA, "");
  EXPECT_EQ(MapXenDomain(d, kXenstatAll, true, 0).name, "domain-9");
}

TEST(XenNodeTest, HostCapacityAndDom0IsNotAVm) {
  XenNodeStats n;
  n.flags = kXenstatAll;
  n.num_cpus = 4;
  n.cpu_hz = 2'400'000'000;
  n.tot_mem = 16384 * kMiB;
  n.free_mem = 9000 * kMiB;
  n.domains = {Dom0(), Guest(3, kUuidA, "a"), Guest(4, kUuidB, "b")};
  std::vector<unsigned> domids;
  SourceReading r = MapXenNode(n, &domids);
  EXPECT_EQ(r.capacity.cpu_cores, 4);
  EXPECT_EQ(r.capacity.cpu_hz, 2'400'000'000u);
  EXPECT_EQ(r.capacity.memory_bytes, 16384 * kMiB);
  EXPECT_EQ(r.counters.memory_free_bytes, 9000 * kMiB);
  ASSERT_EQ(r.vms.size(), 2u);
  EXPECT_EQ(r.vms[0].name, "a");
  EXPECT_EQ(r.vms[1].name, "b");
  EXPECT_EQ(domids, (std::vector<unsigned>{3, 4}));
}

TEST(XenNodeTest, GuestWithoutUuidIsLeftOut) {
  XenNodeStats n;
  n.domains = {Dom0(), Guest(3, "", "half-built")};
  EXPECT_TRUE(MapXenNode(n).vms.empty());
}

// Seen on a real Xen host receiving a live migration (tests/xen/run-xen-migrate-test.sh):
// the incoming domain has no vCPU for a while. Reported, it made the whole sample invalid
// ("vms[1].vcpus: 0") and the host stale to the balancer.
TEST(XenNodeTest, DomainWithoutAnOnlineVcpuIsLeftOut) {
  XenNodeStats n;
  n.flags = kXenstatAll;
  XenDomainStats incoming = Guest(5, kUuidB, "incoming");
  incoming.num_vcpus = 0;
  incoming.vcpus.clear();
  XenDomainStats parked = Guest(6, kUuidA, "all-offline");
  parked.vcpus = {{false, 0}};
  n.domains = {Dom0(), Guest(3, "2d9f5c4e-7c2a-4f81-9e3d-4b5a6f7e8d9c", "web"), incoming, parked};
  SourceReading r = MapXenNode(n);
  ASSERT_EQ(r.vms.size(), 1u);
  EXPECT_EQ(r.vms[0].name, "web");
}

TEST(XenNodeTest, LocalMigrationReportsTheActiveDomainOnce) {
  XenNodeStats n;
  XenDomainStats sender = Guest(3, kUuidA, "g--migratedaway");
  sender.paused = true;
  XenDomainStats receiver = Guest(4, kUuidA, "g--incoming");
  n.domains = {Dom0(), sender, receiver};
  SourceReading r = MapXenNode(n);
  ASSERT_EQ(r.vms.size(), 1u);
  EXPECT_EQ(r.vms[0].name, "g--incoming");

  // Migration failed: the sender resumes, the receiver is torn down.
  n.domains[1].paused = false;
  n.domains[2].dying = true;
  r = MapXenNode(n);
  ASSERT_EQ(r.vms.size(), 1u);
  EXPECT_EQ(r.vms[0].name, "g--migratedaway");

  // Both paused (the hand-over instant): the newer domain.
  n.domains[1].paused = true;
  n.domains[2].dying = false;
  n.domains[2].paused = true;
  r = MapXenNode(n);
  ASSERT_EQ(r.vms.size(), 1u);
  EXPECT_EQ(r.vms[0].name, "g--incoming");
}

TEST(XenstoreVmPathTest, ExtractsTheUuid) {
  EXPECT_EQ(UuidFromXenstoreVmPath(std::string("/vm/") + kUuidA), kUuidA);
  EXPECT_EQ(UuidFromXenstoreVmPath("/vm/0B7F3A2C-5A0E-4D6F-9C1B-2F3E4D5C6B7A"), kUuidA);
  EXPECT_EQ(UuidFromXenstoreVmPath(std::string("/vm/") + kUuidA + "-2"), kUuidA) << "xend";
  EXPECT_EQ(UuidFromXenstoreVmPath(""), std::nullopt);
  EXPECT_EQ(UuidFromXenstoreVmPath("/vm/"), std::nullopt);
  EXPECT_EQ(UuidFromXenstoreVmPath("/vm/not-a-uuid"), std::nullopt);
  EXPECT_EQ(UuidFromXenstoreVmPath("/vm/0b7f3a2c-5a0e-4d6f-9c1b-2f3e4d5c6bzz"), std::nullopt);
}

// --- XenCounterTracker ---

SourceReading OneVm(std::uint64_t cpu_ns, std::uint64_t rx, bool has_net = true) {
  SourceReading r;
  r.capacity.cpu_cores = 2;
  VmSample vm;
  vm.uuid = kUuidA;
  vm.cpu_ns = cpu_ns;
  vm.has_net = has_net;
  vm.net_rx_bytes = rx;
  vm.net_tx_bytes = rx;
  vm.has_block = true;
  vm.block_rd_bytes = rx;
  vm.block_wr_bytes = rx;
  r.vms.push_back(vm);
  return r;
}

TEST(XenCounterTrackerTest, PassesGrowingCountersThrough) {
  XenCounterTracker t;
  SourceReading r = OneVm(100, 10);
  t.Apply(&r, {5}, {{0, 0}, {5, 100}}, 0);
  EXPECT_EQ(r.vms[0].cpu_ns, 100u);
  r = OneVm(250, 40);
  t.Apply(&r, {5}, {{0, 0}, {5, 250}}, 1);
  EXPECT_EQ(r.vms[0].cpu_ns, 250u);
  EXPECT_EQ(r.vms[0].net_rx_bytes, 40u);
}

TEST(XenCounterTrackerTest, CounterGoingBackwardsKeepsTheSumCumulative) {
  XenCounterTracker t;
  SourceReading r = OneVm(100, 1000);
  t.Apply(&r, {5}, {}, 0);
  r = OneVm(150, 30);  // vif re-plugged: its counters restarted, CPU did not
  t.Apply(&r, {5}, {}, 1);
  EXPECT_EQ(r.vms[0].cpu_ns, 150u);
  EXPECT_EQ(r.vms[0].net_rx_bytes, 1030u);
  EXPECT_EQ(r.vms[0].block_wr_bytes, 1000u + 30u);
  r = OneVm(160, 50);
  t.Apply(&r, {5}, {}, 2);
  EXPECT_EQ(r.vms[0].net_rx_bytes, 1050u);
}

TEST(XenCounterTrackerTest, NewDomidForTheSameUuidIsARestartEvenIfCountersGrew) {
  XenCounterTracker t;
  SourceReading r = OneVm(100, 10);
  t.Apply(&r, {5}, {}, 0);
  r = OneVm(120, 20);  // already past the old values, but a new domain (domid 6)
  t.Apply(&r, {6}, {}, 1);
  EXPECT_EQ(r.vms[0].cpu_ns, 220u);
  EXPECT_EQ(r.vms[0].net_rx_bytes, 30u);
}

TEST(XenCounterTrackerTest, UnreadableNetworkKeepsItsHistory) {
  XenCounterTracker t;
  SourceReading r = OneVm(100, 500);
  t.Apply(&r, {5}, {}, 0);
  r = OneVm(110, 0, /*has_net=*/false);
  t.Apply(&r, {5}, {}, 1);
  r = OneVm(120, 600);
  t.Apply(&r, {5}, {}, 2);
  EXPECT_EQ(r.vms[0].net_rx_bytes, 600u);
}

TEST(XenCounterTrackerTest, VmGoneLongEnoughStartsOver) {
  XenCounterTracker t;
  SourceReading r = OneVm(100, 10);
  t.Apply(&r, {5}, {}, 0);
  for (int i = 0; i < XenCounterTracker::kForgetAfterReadings; ++i) {
    SourceReading empty;
    t.Apply(&empty, {}, {}, 0);
  }
  r = OneVm(7, 1);  // migrated back in: a fresh start, the receiver sees the reset
  t.Apply(&r, {9}, {}, 0);
  EXPECT_EQ(r.vms[0].cpu_ns, 7u);
}

TEST(XenCounterTrackerTest, VmBrieflyMissingKeepsItsOffset) {
  XenCounterTracker t;
  SourceReading r = OneVm(100, 10);
  t.Apply(&r, {5}, {}, 0);
  SourceReading empty;
  t.Apply(&empty, {}, {}, 0);
  r = OneVm(7, 1);
  t.Apply(&r, {9}, {}, 0);
  EXPECT_EQ(r.vms[0].cpu_ns, 107u);
}

TEST(XenCounterTrackerTest, HostCpuFromDomainDeltasAndWallTime) {
  XenCounterTracker t;
  SourceReading r;
  r.capacity.cpu_cores = 2;
  t.Apply(&r, {}, {{0, 1000}, {3, 5000}}, 1'000);
  EXPECT_EQ(r.counters.cpu_busy_ns, 0u) << "nothing to compare with yet";
  EXPECT_EQ(r.counters.cpu_total_ns, 0u);
  // dom0 +200, domain 3 gone, domain 4 new (all its 300 ns are since the last reading).
  t.Apply(&r, {}, {{0, 1200}, {4, 300}}, 2'000);
  EXPECT_EQ(r.counters.cpu_busy_ns, 500u);
  EXPECT_EQ(r.counters.cpu_total_ns, 2u * 1000);
  t.Apply(&r, {}, {{0, 1300}, {4, 800}}, 2'500);
  EXPECT_EQ(r.counters.cpu_busy_ns, 1100u);
  EXPECT_EQ(r.counters.cpu_total_ns, 3000u);
}

}  // namespace
}  // namespace ballast
