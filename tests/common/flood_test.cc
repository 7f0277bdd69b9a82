// One allowlisted key floods the subscriber with maximum-size samples, as fast as CURVE over
// loopback carries them, while the receiver decodes each (and is slowed down like a busy
// balancer): its memory stays within the receive queue's bound (kReceiveQueueMessages x
// kMaxMessageBytes, ~100 MiB), and an honest collector on its own connection is still heard.
// The senders run in a child process (this binary with --flood) so that only the receiver's
// memory is measured. Label "security": it takes ~10 s and is not meant for ASan (whose
// quarantine would blur the RSS figures).

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/proc_status.h"
#include "common/transport.h"
#include "common/wire.h"
#include "tests/common/test_samples.h"

extern char** environ;

namespace ballast {
namespace {

namespace fs = std::filesystem;

HostSample BiggestSample(const std::string& host) {
  HostSample s = testing::MakeHost(host);
  for (std::size_t i = 0; i < kMaxVms; ++i) {
    std::string uuid = "vm-" + std::to_string(i);
    uuid.resize(kMaxUuidBytes, 'x');
    s.vms.push_back(testing::MakeVm(uuid, std::string(kMaxNameBytes, 'n'), i));
  }
  return s;
}

// The child: floods as "flood" over `connections` connections of that one key, publishes one
// honest sample as "node-a" every 100 ms.
int Flood(const std::string& endpoint, const fs::path& dir, int connections) {
  zmq::context_t ctx;
  const std::string server = *LoadCurvePublicKey(dir / "balancer.pub");
  std::vector<std::unique_ptr<SamplePublisher>> floods;
  for (int i = 0; i < connections; ++i) {
    auto flood = SamplePublisher::Connect(
        ctx, endpoint, CurveClientOptions{*LoadCurveKeyPair(dir / "flood.key"), server});
    if (!flood.ok()) return 1;
    floods.push_back(std::move(*flood));
  }
  auto honest = SamplePublisher::Connect(
      ctx, endpoint, CurveClientOptions{*LoadCurveKeyPair(dir / "node-a.key"), server});
  if (!honest.ok()) return 1;
  const std::string big = *EncodeHostSample(BiggestSample("flood"));
  HostSample small = testing::MakeHost("node-a");
  auto next_honest = std::chrono::steady_clock::now();
  while (true) {  // until the parent kills us
    if (std::chrono::steady_clock::now() >= next_honest) {
      ++small.sequence;
      (void)(*honest)->Publish("node-a", *EncodeHostSample(small));
      next_honest += std::chrono::milliseconds(100);
    }
    bool queued = false;
    for (auto& flood : floods) queued = flood->Publish("flood", big).ok() || queued;
    if (!queued) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Floods from `connections` connections of one key for 10 s; checks the receiver's RSS and that
// the honest collector is heard.
void RunFlood(int connections) {
  const fs::path dir = fs::temp_directory_path() / ("ballast-flood-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "allow");
  for (const char* name : {"balancer", "flood", "node-a"}) {
    ASSERT_TRUE(WriteCurveKeyPair(dir, name, *GenerateCurveKeyPair()).ok());
  }
  fs::copy_file(dir / "flood.pub", dir / "allow" / "flood.pub");
  fs::copy_file(dir / "node-a.pub", dir / "allow" / "node-a.pub");
  zmq::context_t ctx;
  auto sub = SampleSubscriber::Bind(
      ctx, "tcp://127.0.0.1:*",
      CurveServerOptions{*LoadCurveKeyPair(dir / "balancer.key"), dir / "allow", true});
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();

  std::string self = fs::read_symlink("/proc/self/exe").string();
  std::string flag = "--flood", endpoint = (*sub)->endpoint(), dir_arg = dir.string();
  std::string count = std::to_string(connections);
  char* argv[] = {self.data(), flag.data(), endpoint.data(), dir_arg.data(), count.data(), nullptr};
  const double baseline = RssMiB();  // before the flood
  pid_t child = 0;
  ASSERT_EQ(posix_spawn(&child, self.c_str(), nullptr, nullptr, argv, environ), 0);

  constexpr double kLimitMiB = 600;  // stop early: without the bound this grows by GiBs
  const auto start = std::chrono::steady_clock::now();
  double peak = baseline;
  int honest = 0, flooded = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    auto m = (*sub)->Receive(std::chrono::milliseconds(50));
    ASSERT_TRUE(m.ok());
    const auto elapsed = std::chrono::steady_clock::now() - start;
    peak = std::max(peak, RssMiB());
    if (peak > kLimitMiB) break;
    if (!m->has_value()) continue;
    DecodeResult d = DecodeHostSample((*m)->payload, (*m)->topic);
    ASSERT_TRUE(d.ok()) << d.failure().detail;
    if ((*m)->key_name == "node-a") {
      if (elapsed > std::chrono::seconds(2)) ++honest;
    } else {
      ++flooded;
      // A busy balancer: slower than the flood, so the queue fills to its bound.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  fs::remove_all(dir);
  // One key holds at most kMaxConnectionsPerKey queues, however many connections it opens.
  const double queue_bound_mib =
      static_cast<double>(std::min<std::size_t>(connections, kMaxConnectionsPerKey)) *
      kReceiveQueueMessages * (kMaxMessageBytes / 1048576.0);
  std::printf(
      "flood over %d connection(s): %d big samples decoded, %d honest ones heard in 8 s, RSS "
      "%.0f -> %.0f MiB (queue bound %.0f MiB; %llu dropped, %llu connections closed, %llu "
      "handshakes refused at the connection limit)\n",
      connections, flooded, honest, baseline, peak, queue_bound_mib,
      static_cast<unsigned long long>((*sub)->stats().connection_limit_dropped.load()),
      static_cast<unsigned long long>((*sub)->stats().connection_limit_cut.load()),
      static_cast<unsigned long long>((*sub)->stats().connection_limit_refused.load()));
  EXPECT_GT(flooded, 50) << "the flood did not reach the receiver";
  EXPECT_LT(peak - baseline, queue_bound_mib + 64) << "memory grew past the receive queue bound";
  // The connections over the limit are refused at the handshake, so none of them ever holds a
  // queue; one that got past the gate would fill one before its first message is read and cut.
  EXPECT_EQ((*sub)->stats().connection_limit_cut.load(), 0u)
      << "a connection over the key's limit passed the handshake gate and filled a queue";
  EXPECT_GE(honest, 40) << "the honest collector (10 samples/s) was drowned";
}

TEST(FloodTest, OneKeyFloodingCannotExhaustMemoryOrDrownOthers) { RunFlood(1); }

// The same key over six connections: without the per-key connection limit each would hold a
// full receive queue (6 x ~100 MiB).
TEST(FloodTest, OneKeyFloodingOverManyConnectionsHoldsAtMostItsLimitOfQueues) { RunFlood(6); }

}  // namespace
}  // namespace ballast

int main(int argc, char** argv) {
  if ((argc == 4 || argc == 5) && std::string(argv[1]) == "--flood") {
    return ballast::Flood(argv[2], argv[3], argc == 5 ? std::atoi(argv[4]) : 1);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
