#include "common/wire.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/proto/ballast.pb.h"
#include "tests/common/test_samples.h"

namespace ballast {
namespace {

using testing::MakeHost;
using testing::MakeVm;

TEST(WireTest, RoundTripKeepsEveryField) {
  HostSample s = MakeHost("node-a", 7, 123456789);
  s.counters = {11, 22, 33, 44, 55};
  s.capacity.cpu_hz = 2'400'000'000;
  VmSample vm = MakeVm("u-1", "web 1", 5'000'000'000);
  vm.vcpus = 4;
  vm.state = VmState::kPaused;
  vm.memory_max_bytes = 1ull << 30;
  vm.net_rx_bytes = 1000;
  vm.net_tx_bytes = 2000;
  vm.has_net = true;
  vm.block_rd_bytes = 3;
  vm.block_wr_bytes = 4;
  vm.has_block = true;
  s.vms = {vm, MakeVm("u-2", "db")};

  auto bytes = EncodeHostSample(s);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  DecodeResult d = DecodeHostSample(*bytes, "node-a");
  ASSERT_TRUE(d.ok()) << d.failure().detail;
  const HostSample& r = d.sample();
  EXPECT_EQ(r.host.name, "node-a");
  EXPECT_EQ(r.host.uuid, s.host.uuid);
  EXPECT_EQ(r.host.libvirt_uri, s.host.libvirt_uri);
  EXPECT_EQ(r.host.migration_address, "127.0.0.1");
  EXPECT_EQ(r.boot_id, 42u);
  EXPECT_EQ(r.sequence, 7u);
  EXPECT_EQ(r.monotonic_ns, 123456789u);
  EXPECT_EQ(r.wall_unix_ns, s.wall_unix_ns);
  EXPECT_EQ(r.capacity.cpu_cores, 2);
  EXPECT_EQ(r.capacity.cpu_hz, 2'400'000'000u);
  EXPECT_EQ(r.counters.net_tx_bytes, 55u);
  ASSERT_EQ(r.vms.size(), 2u);
  EXPECT_EQ(r.vms[0].name, "web 1");
  EXPECT_EQ(r.vms[0].vcpus, 4u);
  EXPECT_EQ(r.vms[0].state, VmState::kPaused);
  EXPECT_EQ(r.vms[0].cpu_ns, 5'000'000'000u);
  EXPECT_EQ(r.vms[0].memory_max_bytes, 1ull << 30);
  EXPECT_EQ(r.vms[0].net_rx_bytes, 1000u);
  EXPECT_TRUE(r.vms[0].has_net);
  EXPECT_EQ(r.vms[0].block_wr_bytes, 4u);
  EXPECT_FALSE(r.vms[1].has_net);
}

// The balancer's loop decodes every message into one HostSample: nothing of an earlier
// message may survive into a later one (fewer VMs, fields absent, a failure in between).
TEST(WireTest, DecodingIntoAReusedSampleLeavesNothingOfTheLastOne) {
  HostSample big = MakeHost("node-a", 7, 123456789);
  big.host.source = "libvirt";
  big.counters = {11, 22, 33, 44, 55};
  VmSample vm = MakeVm("u-1-" + std::string(40, 'x'), "web 1 " + std::string(30, 'y'), 5);
  vm.net_rx_bytes = 1000;
  vm.has_net = true;
  vm.has_block = true;
  vm.block_wr_bytes = 9;
  big.vms = {vm, MakeVm("u-2", "db"), MakeVm("u-3", "cache")};
  HostSample small = MakeHost("node-a", 8, 223456789);
  small.host.libvirt_uri.clear();
  small.host.source.clear();
  small.vms = {MakeVm("u-9", "w")};

  HostSample out;
  ASSERT_FALSE(DecodeHostSampleInto(*EncodeHostSample(big), "node-a", out));
  EXPECT_EQ(out, big);
  ASSERT_FALSE(DecodeHostSampleInto(*EncodeHostSample(small), "node-a", out));
  EXPECT_EQ(out, small);
  auto failure = DecodeHostSampleInto(*EncodeHostSample(big), "node-b", out);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->reason, DecodeError::kBadHost);
  ASSERT_FALSE(DecodeHostSampleInto(*EncodeHostSample(small), "node-a", out));
  EXPECT_EQ(out, small);
  // ...and the same as a fresh decode.
  DecodeResult fresh = DecodeHostSample(*EncodeHostSample(big), "node-a");
  ASSERT_TRUE(fresh.ok());
  ASSERT_FALSE(DecodeHostSampleInto(*EncodeHostSample(big), "node-a", out));
  EXPECT_EQ(out, fresh.sample());
}

TEST(WireTest, EncoderRefusesWhatTheDecoderWouldReject) {
  HostSample s = MakeHost("node-a");
  s.capacity.cpu_cores = 0;
  auto bytes = EncodeHostSample(s);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("cpu_cores"), std::string::npos);
}

// Serialises a protobuf message edited by `edit` after filling it from a valid sample.
template <typename Edit>
std::string Mutated(Edit edit) {
  HostSample s = MakeHost("node-a");
  s.vms = {MakeVm("u-1", "vm1"), MakeVm("u-2", "vm2")};
  auto bytes = EncodeHostSample(s);
  wire::HostSample m;
  m.ParseFromString(*bytes);
  edit(m);
  return m.SerializeAsString();
}

struct BadInput {
  const char* what;
  std::string bytes;
  std::string topic;
  DecodeError reason;
  const char* detail_mentions;
};

TEST(WireTest, RejectsBadInputWithANamedReason) {
  const std::string valid = Mutated([](wire::HostSample&) {});
  std::vector<BadInput> cases = {
      {"empty", "", "", DecodeError::kEmpty, "empty"},
      {"oversized", std::string(kMaxMessageBytes + 1, 'x'), "", DecodeError::kOversized, "limit"},
      {"garbage", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11), "",
       DecodeError::kMalformed, "HostSample"},
      {"truncated", valid.substr(0, valid.size() - 5), "", DecodeError::kMalformed, "HostSample"},
      // A length prefix claiming far more bytes than the buffer holds.
      {"lying length",
       std::string("\x12\xff\xff\xff\x7f"
                   "abc",
                   8),
       "", DecodeError::kMalformed, "HostSample"},
      {"future schema", Mutated([](auto& m) { m.set_schema_version(99); }), "",
       DecodeError::kBadVersion, "schema_version 99"},
      {"no host name", Mutated([](auto& m) { m.mutable_host()->clear_name(); }), "",
       DecodeError::kBadHost, "host.name"},
      {"host name with space", Mutated([](auto& m) { m.mutable_host()->set_name("a b"); }), "",
       DecodeError::kBadHost, "host.name"},
      {"topic mismatch", valid, "node-b", DecodeError::kBadHost, "does not match topic"},
      {"zero sequence", Mutated([](auto& m) { m.set_sequence(0); }), "", DecodeError::kBadSequence,
       "sequence"},
      {"zero boot id", Mutated([](auto& m) { m.set_boot_id(0); }), "", DecodeError::kBadSequence,
       "boot_id"},
      {"no cpus", Mutated([](auto& m) { m.mutable_capacity()->set_cpu_cores(0); }), "",
       DecodeError::kBadCapacity, "cpu_cores"},
      {"NaN cpus", Mutated([](auto& m) { m.mutable_capacity()->set_cpu_cores(std::nan("")); }), "",
       DecodeError::kBadCapacity, "cpu_cores"},
      {"negative cpus", Mutated([](auto& m) { m.mutable_capacity()->set_cpu_cores(-4); }), "",
       DecodeError::kBadCapacity, "cpu_cores"},
      {"no memory", Mutated([](auto& m) { m.mutable_capacity()->set_memory_bytes(0); }), "",
       DecodeError::kBadCapacity, "memory_bytes"},
      {"vm without uuid", Mutated([](auto& m) { m.mutable_vms(1)->clear_uuid(); }), "",
       DecodeError::kBadVm, "vms[1].uuid"},
      {"vm name with newline", Mutated([](auto& m) { m.mutable_vms(0)->set_name("a\nb"); }), "",
       DecodeError::kBadVm, "vms[0].name"},
      {"vm without vcpus", Mutated([](auto& m) { m.mutable_vms(0)->set_vcpus(0); }), "",
       DecodeError::kBadVm, "vms[0].vcpus"},
      {"vm with absurd memory",
       Mutated([](auto& m) { m.mutable_vms(0)->set_memory_current_bytes(~0ull); }), "",
       DecodeError::kBadVm, "memory_current_bytes"},
      {"duplicate vm", Mutated([](auto& m) { m.mutable_vms(1)->set_uuid("u-1"); }), "",
       DecodeError::kDuplicateVm, "appears twice"},
      {"too many vms", Mutated([](auto& m) {
         for (std::size_t i = 0; i <= kMaxVms; ++i) *m.add_vms() = m.vms(0);
       }),
       "", DecodeError::kTooManyVms, "at most"},
  };
  DecodeStats stats;
  for (const BadInput& c : cases) {
    SCOPED_TRACE(c.what);
    DecodeResult d = DecodeHostSample(c.bytes, c.topic);
    stats.Count(d);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.failure().reason, c.reason)
        << DecodeErrorName(d.failure().reason) << ": " << d.failure().detail;
    EXPECT_NE(d.failure().detail.find(c.detail_mentions), std::string::npos) << d.failure().detail;
  }
  EXPECT_EQ(stats.accepted, 0u);
  EXPECT_EQ(stats.TotalRejected(), cases.size());
  EXPECT_EQ(stats.rejected[static_cast<std::size_t>(DecodeError::kMalformed)], 3u);
}

// The transport's size limit follows from kMaxVms: the largest valid sample fits under it.
TEST(WireTest, LargestValidSampleFitsTheMessageLimit) {
  HostSample s = MakeHost(std::string(kMaxNameBytes, 'h'));
  s.host.uuid = std::string(kMaxUuidBytes, 'u');
  s.host.libvirt_uri = std::string(kMaxUriBytes, 'q');
  s.host.migration_address = std::string(kMaxAddressBytes, 'a');
  s.host.source = std::string(kMaxSourceBytes, 's');
  s.counters = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull};
  for (std::size_t i = 0; i < kMaxVms; ++i) {
    std::string uuid = std::to_string(i);
    uuid.resize(kMaxUuidBytes, 'x');
    VmSample vm = MakeVm(uuid, std::string(kMaxNameBytes, 'n'), ~0ull);
    vm.vcpus = 4096;
    vm.state = VmState::kPmSuspended;
    vm.memory_current_bytes = 1ull << 52;
    vm.memory_max_bytes = vm.net_rx_bytes = vm.net_tx_bytes = ~0ull;
    vm.block_rd_bytes = vm.block_wr_bytes = ~0ull;
    vm.has_net = vm.has_block = true;
    s.vms.push_back(vm);
  }
  auto bytes = EncodeHostSample(s);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_LE(bytes->size(), kMaxMessageBytes);
  EXPECT_LE(bytes->size(), kMaxVms * (kMaxVmWireBytes - 80));  // and with room to spare
  EXPECT_TRUE(DecodeHostSample(*bytes).ok());
}

TEST(WireTest, HostStringsAreBounded) {
  HostSample s = MakeHost("node-a");
  s.host.libvirt_uri = std::string(kMaxUriBytes + 1, 'q');
  EXPECT_FALSE(EncodeHostSample(s).ok());
  wire::HostSample m;
  m.set_schema_version(HostSample::kSchemaVersion);
  m.mutable_host()->set_name("node-a");
  m.mutable_host()->set_migration_address(std::string(100000, 'a'));
  m.set_boot_id(1);
  m.set_sequence(1);
  m.mutable_capacity()->set_cpu_cores(4);
  m.mutable_capacity()->set_memory_bytes(1 << 30);
  DecodeResult d = DecodeHostSample(m.SerializeAsString());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.failure().reason, DecodeError::kBadHost);
}

// Too many VMs is seen from the tags alone, before protobuf builds 4097 VmSample messages.
TEST(WireTest, TooManyVmsIsRejectedBeforeParsing) {
  std::string bytes = *EncodeHostSample(MakeHost("node-a"));
  const std::string empty_vm("\x4a\x00", 2);  // field 9, length 0
  for (std::size_t i = 0; i <= kMaxVms; ++i) bytes += empty_vm;
  DecodeResult d = DecodeHostSample(bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.failure().reason, DecodeError::kTooManyVms);
  EXPECT_NE(d.failure().detail.find("before parsing"), std::string::npos) << d.failure().detail;
}

// libprotobuf prints an ERROR line to stderr for every string with invalid UTF-8; a sender
// could flood the log with them. The decoder names the error and protobuf stays quiet.
TEST(WireTest, InvalidUtf8IsANamedErrorAndProtobufStaysQuiet) {
  HostSample s = MakeHost("node-a");
  s.vms = {MakeVm("u-1", "web")};
  std::string bytes = *EncodeHostSample(s);
  const auto at = bytes.find("web");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = static_cast<char>(0xff);
  ::testing::internal::CaptureStderr();
  DecodeResult d(DecodeFailure{DecodeError::kEmpty, {}});
  for (int i = 0; i < 100; ++i) d = DecodeHostSample(bytes);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.failure().reason, DecodeError::kInvalidUtf8);
  EXPECT_STREQ(DecodeErrorName(d.failure().reason), "invalid_utf8");
  EXPECT_NE(d.failure().detail.find("VmSample.name"), std::string::npos) << d.failure().detail;
  EXPECT_EQ(err.find("UTF-8"), std::string::npos) << err;
}

TEST(WireTest, EveryDecodeErrorHasAMetricLabel) {
  for (std::size_t i = 0; i < kDecodeErrorCount; ++i) {
    std::string name = DecodeErrorName(static_cast<DecodeError>(i));
    EXPECT_NE(name, "unknown");
    EXPECT_EQ(name.find(' '), std::string::npos);
  }
}

TEST(WireTest, RandomBytesNeverCrashTheDecoder) {
  const std::string valid = Mutated([](wire::HostSample&) {});
  std::uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string b = valid;
    for (int flips = 0; flips < 4; ++flips) {
      x = x * 1664525u + 1013904223u;
      b[x % b.size()] = static_cast<char>(x >> 24);
    }
    DecodeResult d = DecodeHostSample(b);
    if (d.ok()) {
      // Whatever got through is sane.
      EXPECT_GT(d.sample().capacity.cpu_cores, 0);
      EXPECT_LE(d.sample().vms.size(), kMaxVms);
    }
  }
}

}  // namespace
}  // namespace ballast
