#include "collector/sample_builder.h"

#include <gtest/gtest.h>

#include "common/wire.h"

namespace ballast {
namespace {

TEST(SampleBuilderTest, AppliesIdentityOverridesAndStamp) {
  CollectorConfig c;
  c.host_name = "node-a";
  c.advertised_uri = "qemu+tcp://node-a/system";
  c.migration_address = "10.0.0.1";
  c.cpu_cores = 1.5;
  c.memory_bytes = 1ull << 30;
  SourceReading r;
  r.host_uuid = "uuid-a";
  r.capacity.cpu_cores = 64;
  r.capacity.memory_bytes = 256ull << 30;
  r.vms.push_back(
      VmSample{"u", "vm", 1, VmState::kRunning, 5, 1024, 1024, 0, 0, 0, 0, false, false});
  HostSample s = BuildHostSample(c, "libvirt", r, {9, 3, 100, 200});
  EXPECT_EQ(s.host.name, "node-a");
  EXPECT_EQ(s.host.uuid, "uuid-a");
  EXPECT_EQ(s.host.libvirt_uri, "qemu+tcp://node-a/system");
  EXPECT_EQ(s.host.migration_address, "10.0.0.1");
  EXPECT_EQ(s.host.source, "libvirt");
  EXPECT_EQ(s.capacity.cpu_cores, 1.5);  // configured override wins
  EXPECT_EQ(s.capacity.memory_bytes, 1ull << 30);
  EXPECT_EQ(s.boot_id, 9u);
  EXPECT_EQ(s.sequence, 3u);
  ASSERT_EQ(s.vms.size(), 1u);
  EXPECT_TRUE(EncodeHostSample(s).ok());
}

}  // namespace
}  // namespace ballast
