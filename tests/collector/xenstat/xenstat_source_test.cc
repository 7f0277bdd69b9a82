// The real collector/xenstat_source.cc, linked against xenstat_standin (a scripted TEST
// STAND-IN with libxenstat's and libxenstore's C ABI, not libxenstat itself).

#include "collector/xenstat_source.h"

#include <gtest/gtest.h>

#include <climits>

#include "tests/collector/xenstat/xenstat_standin.h"

extern "C" {
#include <xenstat.h>
}

namespace ballast {
namespace {

namespace standin = xenstat_standin;

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr char kBusyUuid[] = "6f1d3c2b-0a9e-4b8d-8c7f-1e2d3c4b5a69";
constexpr char kIdleUuid[] = "7a2e4d3c-1b0f-4c9e-9d80-2f3e4d5c6b7a";

standin::Domain Domain(unsigned id, std::string name, std::uint64_t cpu_ns) {
  standin::Domain d;
  d.id = id;
  d.name = std::move(name);
  d.cpu_ns = cpu_ns;
  d.num_vcpus = 2;
  d.vcpus = {{true, cpu_ns / 2}, {true, cpu_ns / 2}};
  d.cur_mem = 128 * kMiB;
  d.max_mem = 129 * kMiB;
  d.blocked = true;
  return d;
}

class XenstatSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    standin::Reset();
    standin::State& s = standin::Scenario();
    s.node.num_cpus = 2;
    s.node.cpu_hz = 3'000'000'000;
    s.node.tot_mem = 2048 * kMiB;
    s.node.free_mem = 1000 * kMiB;
    standin::Domain dom0 = Domain(0, "Domain-0", 50'000);
    dom0.max_mem = ULLONG_MAX;
    dom0.cur_mem = 768 * kMiB;
    dom0.running = true;
    standin::Domain busy = Domain(1, "busy", 9'000'000);
    busy.running = true;
    busy.networks = {{0, /*rbytes=*/700, /*tbytes=*/9000}};
    busy.vbds = {{51712, 8, 16, false}};
    standin::Domain idle = Domain(2, "idle", 1'000);
    s.node.domains = {dom0, busy, idle};
    s.xenstore["/local/domain/1/vm"] = std::string("/vm/") + kBusyUuid;
    s.xenstore["/local/domain/2/vm"] = std::string("/vm/") + kIdleUuid;
    s.xenstore_dirs["/local/domain/1/device/vif"] = {"0"};
    source_ = Make();
  }

  void TearDown() override {
    source_.reset();
    const standin::State& s = standin::Scenario();
    EXPECT_EQ(s.misuses, 0);
    EXPECT_EQ(s.live_nodes, 0) << "every node freed";
    EXPECT_EQ(s.inits, s.uninits) << "every handle released";
    EXPECT_EQ(s.xs_opens, s.xs_closes);
  }

  std::unique_ptr<StatsSource> Make() {
    XenstatSourceOptions o;
    o.privcmd_path = "";  // no Xen here: the stand-in answers instead
    o.self_netns_path = "";
    o.reprobe_every_reads = 3;
    o.min_retry = std::chrono::milliseconds(0);
    o.monotonic_ns = [this] { return now_ns_; };
    return MakeXenstatSource(o);
  }

  const VmSample* Vm(const SourceReading& r, const std::string& name) {
    for (const auto& vm : r.vms) {
      if (vm.name == name) return &vm;
    }
    return nullptr;
  }

  std::unique_ptr<StatsSource> source_;
  std::uint64_t now_ns_ = 1'000'000'000;
};

TEST_F(XenstatSourceTest, MapsNodeAndDomains) {
  EXPECT_EQ(source_->name(), "xenstat");
  auto r = source_->Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->capacity.cpu_cores, 2);
  EXPECT_EQ(r->capacity.cpu_hz, 3'000'000'000u);
  EXPECT_EQ(r->capacity.memory_bytes, 2048 * kMiB);
  EXPECT_EQ(r->counters.memory_free_bytes, 1000 * kMiB);
  ASSERT_EQ(r->vms.size(), 2u) << "dom0 is host overhead, not a VM";

  const VmSample* busy = Vm(*r, "busy");
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(busy->uuid, kBusyUuid);
  EXPECT_EQ(busy->vcpus, 2u);
  EXPECT_EQ(busy->cpu_ns, 9'000'000u);
  EXPECT_EQ(busy->memory_current_bytes, 128 * kMiB);
  EXPECT_EQ(busy->memory_max_bytes, 129 * kMiB);
  EXPECT_EQ(busy->state, VmState::kRunning);
  ASSERT_TRUE(busy->has_net);
  EXPECT_EQ(busy->net_rx_bytes, 9000u) << "guest received what the backend transmitted";
  EXPECT_EQ(busy->net_tx_bytes, 700u);
  ASSERT_TRUE(busy->has_block);
  EXPECT_EQ(busy->block_rd_bytes, 8u * 512);
  EXPECT_EQ(busy->block_wr_bytes, 16u * 512);

  const VmSample* idle = Vm(*r, "idle");
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->uuid, kIdleUuid);
  EXPECT_EQ(idle->state, VmState::kBlocked);
  EXPECT_TRUE(idle->has_net) << "no vif at all: zero, not unknown";
  EXPECT_EQ(idle->net_rx_bytes, 0u);

  const standin::State& s = standin::Scenario();
  EXPECT_EQ(s.get_node_flags, (std::vector<unsigned>{XENSTAT_ALL}));
  EXPECT_EQ(s.inits, 1);
}

TEST_F(XenstatSourceTest, OneHandleAcrossReadsAndUuidsReadOncePerDomain) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(source_->Read().ok());
  const standin::State& s = standin::Scenario();
  EXPECT_EQ(s.inits, 1);
  EXPECT_EQ(s.xs_opens, 1);
  EXPECT_EQ(s.xs_reads.size(), 2u) << "a domid's UUID never changes";
}

TEST_F(XenstatSourceTest, FallsBackToFewerFlagsWhenASubCollectorFails) {
  standin::Scenario().failing_flags = XENSTAT_VBD;  // e.g. no /sys/bus/xen-backend/devices
  auto r = source_->Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(standin::Scenario().get_node_flags,
            (std::vector<unsigned>{XENSTAT_ALL, XENSTAT_ALL & ~XENSTAT_VBD}));
  const VmSample* busy = Vm(*r, "busy");
  ASSERT_NE(busy, nullptr);
  EXPECT_FALSE(busy->has_block) << "unknown, not zero";
  EXPECT_TRUE(busy->has_net);
  EXPECT_EQ(busy->vcpus, 2u);

  // The working flags stick: no failing call on every read...
  standin::Scenario().get_node_flags.clear();
  ASSERT_TRUE(source_->Read().ok());
  EXPECT_EQ(standin::Scenario().get_node_flags,
            (std::vector<unsigned>{XENSTAT_ALL & ~XENSTAT_VBD}));
  // ...until the periodic re-probe (every 3 reads here) finds VBD working again.
  standin::Scenario().failing_flags = 0;
  ASSERT_TRUE(source_->Read().ok());
  r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(standin::Scenario().get_node_flags.back(), unsigned{XENSTAT_ALL});
  EXPECT_TRUE(Vm(*r, "busy")->has_block);
}

TEST_F(XenstatSourceTest, FallsBackPastNetworkAndVcpuWithoutTouchingVcpus) {
  standin::Scenario().failing_flags = XENSTAT_NETWORK | XENSTAT_VCPU;
  auto r = source_->Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(standin::Scenario().get_node_flags.back(), 0u);
  const VmSample* busy = Vm(*r, "busy");
  ASSERT_NE(busy, nullptr);
  EXPECT_FALSE(busy->has_net);
  EXPECT_FALSE(busy->has_block);
  EXPECT_EQ(busy->vcpus, 2u) << "from num_vcpus; the vCPU array is not there to ask";
  EXPECT_EQ(busy->cpu_ns, 9'000'000u);
  // TearDown checks that no vCPU was asked of a node read without XENSTAT_VCPU.
}

TEST_F(XenstatSourceTest, NullNodeIsUnavailableAndTheSourceReopens) {
  ASSERT_TRUE(source_->Read().ok());
  standin::Scenario().node_null = true;
  auto r = source_->Read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(standin::Scenario().uninits, 1) << "handle dropped";
  standin::Scenario().node_null = false;
  r = source_->Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(standin::Scenario().inits, 2);
  EXPECT_EQ(r->vms.size(), 2u);
}

TEST_F(XenstatSourceTest, InitFailureIsUnavailable) {
  standin::Scenario().init_fails = true;
  auto r = source_->Read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("xenstat_init"), std::string::npos);
  standin::Scenario().init_fails = false;
  EXPECT_TRUE(source_->Read().ok());
}

TEST_F(XenstatSourceTest, XenstoreUnreachableIsUnavailable) {
  standin::Scenario().xs_open_fails = true;
  auto r = source_->Read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(standin::Scenario().uninits, 1) << "the xenstat handle is not leaked";
}

TEST_F(XenstatSourceTest, MissingPrivcmdIsAClearPrecondition) {
  XenstatSourceOptions o;
  o.privcmd_path = "/nonexistent/xen/privcmd";
  auto src = MakeXenstatSource(o);
  auto r = src->Read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(standin::Scenario().init_calls, 0) << "libxenstat not even asked";
}

TEST_F(XenstatSourceTest, DomainVanishingBetweenCalls) {
  ASSERT_EQ(source_->Read()->vms.size(), 2u);
  // Destroyed after the first read.
  auto& doms = standin::Scenario().node.domains;
  doms.erase(doms.begin() + 2);
  standin::Scenario().xenstore.erase("/local/domain/2/vm");
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->vms.size(), 1u);
  EXPECT_EQ(r->vms[0].name, "busy");
}

TEST_F(XenstatSourceTest, DomainVanishingBetweenNodeAndXenstoreIsSkipped) {
  // Listed by the hypervisor, but its xenstore entries are already gone.
  standin::Scenario().xenstore.erase("/local/domain/2/vm");
  auto r = source_->Read();
  ASSERT_TRUE(r.ok()) << "one vanishing domain does not fail the reading";
  ASSERT_EQ(r->vms.size(), 1u);
  EXPECT_EQ(r->vms[0].name, "busy");
}

TEST_F(XenstatSourceTest, NamelessDomainsAreSkippedAsLibxenstatDoes) {
  standin::Scenario().node.domains[2].name.reset();
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->vms.size(), 1u);
}

TEST_F(XenstatSourceTest, UnlimitedMaxMemory) {
  standin::Scenario().node.domains[1].max_mem = ULLONG_MAX;
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vm(*r, "busy")->memory_max_bytes, 2048 * kMiB) << "bounded by the host";
}

TEST_F(XenstatSourceTest, CountersGoingBackwardsStayCumulative) {
  ASSERT_TRUE(source_->Read().ok());
  auto& busy = standin::Scenario().node.domains[1];
  busy.networks[0].tbytes = 100;  // vif re-plugged: its counters restarted
  busy.cpu_ns = 9'500'000;
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vm(*r, "busy")->net_rx_bytes, 9000u + 100u);
  EXPECT_EQ(Vm(*r, "busy")->cpu_ns, 9'500'000u);
}

TEST_F(XenstatSourceTest, NewDomidSameUuidKeepsCountersCumulative) {
  ASSERT_TRUE(source_->Read().ok());
  // `xl reboot busy` or a local migration: domain 1 gone, domain 5 carries the same UUID.
  auto& s = standin::Scenario();
  s.node.domains[1].id = 5;
  s.node.domains[1].cpu_ns = 200'000;
  s.xenstore["/local/domain/5/vm"] = std::string("/vm/") + kBusyUuid;
  s.xenstore_dirs["/local/domain/5/device/vif"] = {"0"};
  s.node.domains[1].networks[0] = {0, 10, 20};
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  const VmSample* busy = Vm(*r, "busy");
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(busy->uuid, kBusyUuid);
  EXPECT_EQ(busy->cpu_ns, 9'000'000u + 200'000u);
  EXPECT_EQ(busy->net_rx_bytes, 9000u + 20u);
}

TEST_F(XenstatSourceTest, VifsHiddenByAMissingBridgeAreUnknown) {
  standin::Scenario().node.domains[1].networks.clear();  // xenstore still lists vif 0
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(Vm(*r, "busy")->has_net);
  EXPECT_TRUE(Vm(*r, "idle")->has_net);
}

TEST_F(XenstatSourceTest, HostCpuCountersFromDomainDeltas) {
  ASSERT_TRUE(source_->Read().ok());
  auto& doms = standin::Scenario().node.domains;
  doms[0].cpu_ns += 1'000;
  doms[1].cpu_ns += 900'000;
  doms[2].cpu_ns += 100;
  now_ns_ += 1'000'000;
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counters.cpu_busy_ns, 901'100u);
  EXPECT_EQ(r->counters.cpu_total_ns, 2u * 1'000'000);
}

TEST_F(XenstatSourceTest, HostWithOnlyDom0IsAnEmptyReading) {
  standin::Scenario().node.domains.resize(1);
  auto r = source_->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->vms.empty());
}

}  // namespace
}  // namespace ballast
