#include "collector/libvirt_stats_map.h"

#include <gtest/gtest.h>

namespace ballast {
namespace {

// Field names and values as virConnectGetAllDomainStats returned them for a running TCG guest
// on libvirt 9.0 (session daemon), plus two NICs and a disk.
LibvirtParams CapturedGuest() {
  return {
      {"state.state", std::int64_t{1}},
      {"state.reason", std::int64_t{1}},
      {"cpu.time", std::uint64_t{5'020'000'000}},
      {"cpu.user", std::uint64_t{4'900'000'000}},
      {"balloon.current", std::uint64_t{65536}},
      {"balloon.maximum", std::uint64_t{131072}},
      {"vcpu.current", std::uint64_t{2}},
      {"vcpu.maximum", std::uint64_t{2}},
      {"vcpu.0.time", std::uint64_t{2'500'000'000}},
      {"net.count", std::uint64_t{2}},
      {"net.0.name", std::string("tap0")},
      {"net.0.rx.bytes", std::uint64_t{1000}},
      {"net.0.tx.bytes", std::uint64_t{2000}},
      {"net.1.rx.bytes", std::uint64_t{10}},
      {"net.1.tx.bytes", std::uint64_t{20}},
      {"net.1.rx.pkts", std::uint64_t{99999}},
      {"block.count", std::uint64_t{1}},
      {"block.0.rd.bytes", std::uint64_t{512}},
      {"block.0.wr.bytes", std::uint64_t{0}},
      {"block.0.rd.reqs", std::uint64_t{1}},
  };
}

TEST(LibvirtStatsMapTest, MapsEveryField) {
  auto vm = MapLibvirtDomainStats("u1", "spin", CapturedGuest());
  ASSERT_TRUE(vm.ok()) << vm.status().ToString();
  EXPECT_EQ(vm->uuid, "u1");
  EXPECT_EQ(vm->name, "spin");
  EXPECT_EQ(vm->state, VmState::kRunning);
  EXPECT_EQ(vm->cpu_ns, 5'020'000'000u);
  EXPECT_EQ(vm->memory_current_bytes, 64ull << 20);  // KiB -> bytes
  EXPECT_EQ(vm->memory_max_bytes, 128ull << 20);
  EXPECT_EQ(vm->vcpus, 2u);
  EXPECT_TRUE(vm->has_net);
  EXPECT_EQ(vm->net_rx_bytes, 1010u);  // summed over NICs, packets not mixed in
  EXPECT_EQ(vm->net_tx_bytes, 2020u);
  EXPECT_TRUE(vm->has_block);
  EXPECT_EQ(vm->block_rd_bytes, 512u);
}

TEST(LibvirtStatsMapTest, NoNicMeansNoNetworkCounters) {
  LibvirtParams p = {{"state.state", std::int64_t{3}},
                     {"cpu.time", std::uint64_t{1}},
                     {"balloon.current", std::uint64_t{1024}}};
  auto vm = MapLibvirtDomainStats("u", "idle", p);
  ASSERT_TRUE(vm.ok());
  EXPECT_FALSE(vm->has_net);
  EXPECT_FALSE(vm->has_block);
  EXPECT_EQ(vm->state, VmState::kPaused);
  EXPECT_EQ(vm->memory_max_bytes, vm->memory_current_bytes);  // max defaults to current
}

TEST(LibvirtStatsMapTest, MissingCpuTimeIsAnErrorNamingIt) {
  LibvirtParams p = {{"state.state", std::int64_t{1}}, {"balloon.current", std::uint64_t{1}}};
  auto vm = MapLibvirtDomainStats("u", "x", p);
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.status().message().find("cpu.time"), std::string::npos);
}

TEST(LibvirtStatsMapTest, MalformedIndexedNamesAreIgnored) {
  LibvirtParams p = CapturedGuest();
  p.push_back({"net.x.rx.bytes", std::uint64_t{7777}});
  p.push_back({"net..rx.bytes", std::uint64_t{7777}});
  p.push_back({"net.1.rx.bytes.extra", std::uint64_t{7777}});
  auto vm = MapLibvirtDomainStats("u", "x", p);
  ASSERT_TRUE(vm.ok());
  EXPECT_EQ(vm->net_rx_bytes, 1010u);
}

TEST(LibvirtStatsMapTest, States) {
  EXPECT_EQ(MapLibvirtState(0), VmState::kUnknown);
  EXPECT_EQ(MapLibvirtState(2), VmState::kBlocked);
  EXPECT_EQ(MapLibvirtState(5), VmState::kShutoff);
  EXPECT_EQ(MapLibvirtState(6), VmState::kCrashed);
  EXPECT_EQ(MapLibvirtState(7), VmState::kPmSuspended);
  EXPECT_EQ(MapLibvirtState(42), VmState::kUnknown);
}

TEST(LibvirtStatsMapTest, HostUuidFromCapabilities) {
  const std::string caps =
      "<capabilities>\n  <host>\n    <uuid>6f1c2b0e-0000-4000-8000-00000000000a</uuid>\n"
      "    <cpu><arch>x86_64</arch></cpu>\n  </host>\n  <guest/>\n</capabilities>\n";
  EXPECT_EQ(HostUuidFromCapabilities(caps), "6f1c2b0e-0000-4000-8000-00000000000a");
  EXPECT_EQ(HostUuidFromCapabilities("<capabilities><host></host></capabilities>"), "");
  EXPECT_EQ(HostUuidFromCapabilities("garbage"), "");
}

}  // namespace
}  // namespace ballast
