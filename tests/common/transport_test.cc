// Real ZeroMQ sockets over TCP on 127.0.0.1 with CURVE and the ZAP allowlist.

#include "common/transport.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "common/curve_keys.h"

namespace ballast {
namespace {

namespace fs = std::filesystem;

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ballast-transport-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "allow");
    server_ = *GenerateCurveKeyPair();
    good_ = *GenerateCurveKeyPair();
    ASSERT_TRUE(WriteCurveKeyPair(dir_ / "allow", "node-a", good_).ok());
    fs::remove(dir_ / "allow" / "node-a.key");  // the allowlist holds public keys only
    auto sub = SampleSubscriber::Bind(ctx_, "tcp://127.0.0.1:*",
                                      CurveServerOptions{server_, dir_ / "allow", true});
    ASSERT_TRUE(sub.ok()) << sub.status().ToString();
    sub_ = std::move(*sub);
  }
  void TearDown() override {
    sub_.reset();
    fs::remove_all(dir_);
  }

  std::unique_ptr<SamplePublisher> Publisher(std::optional<CurveClientOptions> curve) {
    auto pub = SamplePublisher::Connect(ctx_, sub_->endpoint(), curve);
    EXPECT_TRUE(pub.ok()) << pub.status().ToString();
    return pub.ok() ? std::move(*pub) : nullptr;
  }

  // PUB/SUB drops messages sent before the subscription reaches the publisher: keep
  // publishing until one arrives or `budget` runs out. Returns what arrived.
  std::vector<ReceivedMessage> PublishAndCollect(SamplePublisher& pub, const std::string& topic,
                                                 std::chrono::milliseconds budget) {
    std::vector<ReceivedMessage> got;
    const auto end = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < end && got.empty()) {
      (void)pub.Publish(topic, "payload");
      auto m = sub_->Receive(std::chrono::milliseconds(50));
      EXPECT_TRUE(m.ok());
      if (m.ok() && m->has_value()) got.push_back(**m);
    }
    return got;
  }

  fs::path dir_;
  zmq::context_t ctx_;
  CurveKeyPair server_;
  CurveKeyPair good_;
  std::unique_ptr<SampleSubscriber> sub_;
};

TEST_F(TransportTest, AllowlistedCollectorIsHeard) {
  auto pub = Publisher(CurveClientOptions{good_, server_.public_z85});
  auto got = PublishAndCollect(*pub, "node-a", std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "node-a");
  EXPECT_EQ(got[0].payload, "payload");
  EXPECT_EQ(got[0].key_name, "node-a");
  EXPECT_GE(sub_->stats().auth_accepted.load(), 1u);
}

TEST_F(TransportTest, UnknownKeyIsRejectedAndNeverHeard) {
  CurveKeyPair stranger = *GenerateCurveKeyPair();
  auto pub = Publisher(CurveClientOptions{stranger, server_.public_z85});
  auto got = PublishAndCollect(*pub, "node-a", std::chrono::seconds(2));
  EXPECT_TRUE(got.empty());
  EXPECT_GE(sub_->stats().auth_rejected.load(), 1u);
  EXPECT_EQ(sub_->stats().auth_accepted.load(), 0u);
}

TEST_F(TransportTest, PlaintextPublisherCannotInject) {
  auto pub = Publisher(std::nullopt);
  auto got = PublishAndCollect(*pub, "node-a", std::chrono::seconds(2));
  EXPECT_TRUE(got.empty());
  EXPECT_GE(sub_->stats().auth_rejected.load(), 1u);  // seen and counted, not silent
}

// Many refused handshakes at once (a fleet of plaintext collectors, or thousands reconnecting
// after a restart) give one log line per reason every 10 s, not one per handshake.
TEST_F(TransportTest, RefusedHandshakesAreLoggedOncePerReasonNotEachTime) {
  ::testing::internal::CaptureStderr();
  std::vector<std::unique_ptr<SamplePublisher>> pubs;
  for (int i = 0; i < 6; ++i) pubs.push_back(Publisher(std::nullopt));
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end && sub_->stats().auth_rejected.load() < 6) {
    for (auto& p : pubs) (void)p->Publish("node-a", "payload");
    auto m = sub_->Receive(std::chrono::milliseconds(50));
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(m->has_value());
  }
  pubs.clear();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_GE(sub_->stats().auth_rejected.load(), 6u);
  std::size_t lines = 0;
  for (std::size_t at = err.find("rejected a publisher"); at != std::string::npos;
       at = err.find("rejected a publisher", at + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 1u) << "refusals are logged";
  // Two ways a plaintext peer fails (which side notices first is a race): two reasons.
  EXPECT_LE(lines, 2u) << err;
}

TEST_F(TransportTest, KeyMayPublishOnlyForItsOwnHost) {
  auto pub = Publisher(CurveClientOptions{good_, server_.public_z85});
  auto got = PublishAndCollect(*pub, "node-b", std::chrono::seconds(2));
  EXPECT_TRUE(got.empty());
  EXPECT_GE(sub_->stats().topic_mismatch.load(), 1u);
}

TEST_F(TransportTest, KeyAddedToTheAllowlistIsPickedUpWithoutRestart) {
  CurveKeyPair late = *GenerateCurveKeyPair();
  ASSERT_TRUE(WriteCurveKeyPair(dir_ / "allow", "node-c", late).ok());
  auto pub = Publisher(CurveClientOptions{late, server_.public_z85});
  auto got = PublishAndCollect(*pub, "node-c", std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key_name, "node-c");
}

TEST_F(TransportTest, CollectorRefusedEarlyGetsInOnceItsKeyIsAllowed) {
  CurveKeyPair early = *GenerateCurveKeyPair();
  auto pub = Publisher(CurveClientOptions{early, server_.public_z85});
  EXPECT_TRUE(PublishAndCollect(*pub, "node-d", std::chrono::seconds(1)).empty());
  ASSERT_TRUE(WriteCurveKeyPair(dir_ / "allow", "node-d", early).ok());
  auto got = PublishAndCollect(*pub, "node-d", std::chrono::seconds(15));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key_name, "node-d");
}

// Revocation (issue 14): removing a .pub cuts the key off on the connection it already has
// open (libzmq keeps that connection; the subscriber drops what it sends) within one
// sampling interval, and its reconnects are refused.
TEST_F(TransportTest, RemovedKeyIsCutOffOnItsOpenConnection) {
  auto pub = Publisher(CurveClientOptions{good_, server_.public_z85});
  ASSERT_EQ(PublishAndCollect(*pub, "node-a", std::chrono::seconds(10)).size(), 1u);
  fs::remove(dir_ / "allow" / "node-a.pub");
  const auto removed = std::chrono::steady_clock::now();
  // Keep publishing every 10 ms on the same (still open) connection for 2 s.
  std::size_t late = 0;
  while (std::chrono::steady_clock::now() - removed < std::chrono::seconds(2)) {
    (void)pub->Publish("node-a", "payload");
    auto m = sub_->Receive(std::chrono::milliseconds(10));
    ASSERT_TRUE(m.ok());
    // One sampling interval at the fastest collector setting (100 ms), plus slack for what
    // was already queued: nothing may arrive after that.
    if (m->has_value() &&
        std::chrono::steady_clock::now() - removed > std::chrono::milliseconds(500)) {
      ++late;
    }
  }
  EXPECT_EQ(late, 0u) << "messages of a removed key were still delivered";
  EXPECT_GT(sub_->stats().revoked.load(), 0u);
}

TEST_F(TransportTest, RemovedKeyIsRefusedOnReconnect) {
  auto first = Publisher(CurveClientOptions{good_, server_.public_z85});
  ASSERT_EQ(PublishAndCollect(*first, "node-a", std::chrono::seconds(10)).size(), 1u);
  first.reset();
  fs::remove(dir_ / "allow" / "node-a.pub");
  const auto rejected_before = sub_->stats().auth_rejected.load();
  auto again = Publisher(CurveClientOptions{good_, server_.public_z85});
  EXPECT_TRUE(PublishAndCollect(*again, "node-a", std::chrono::seconds(2)).empty());
  EXPECT_GT(sub_->stats().auth_rejected.load(), rejected_before);
}

TEST_F(TransportTest, KeyReplacedInPlaceLosesItsOpenConnection) {
  auto pub = Publisher(CurveClientOptions{good_, server_.public_z85});
  ASSERT_EQ(PublishAndCollect(*pub, "node-a", std::chrono::seconds(10)).size(), 1u);
  // A new key written over node-a.pub: the old key is no longer node-a's.
  ASSERT_TRUE(WriteCurveKeyPair(dir_ / "allow", "node-a", *GenerateCurveKeyPair(), true).ok());
  const auto replaced = std::chrono::steady_clock::now();
  bool cut = false;
  // An overwrite does not change the directory's mtime on every filesystem: the periodic
  // full reload (5 s) catches it at the latest.
  while (!cut && std::chrono::steady_clock::now() - replaced < std::chrono::seconds(8)) {
    (void)pub->Publish("node-a", "payload");
    (void)sub_->Receive(std::chrono::milliseconds(20));
    cut = sub_->stats().revoked.load() > 0;
  }
  EXPECT_TRUE(cut);
}

// Bounded resources per key (issue 14): one key opening more connections than
// kMaxConnectionsPerKey is heard on that many only (the rest dropped unread or refused at the
// handshake, so the balancer never holds more than that many of its queues), and once those
// close, the key's remaining connections are heard again.
TEST_F(TransportTest, OneKeyIsHeardOnAtMostItsConnectionLimit) {
  constexpr std::size_t kConnections = kMaxConnectionsPerKey + 2;
  std::vector<std::unique_ptr<SamplePublisher>> pubs;
  for (std::size_t i = 0; i < kConnections; ++i) {
    pubs.push_back(Publisher(CurveClientOptions{good_, server_.public_z85}));
  }
  // Every connection publishes its own payload for 4 s; which of them are heard?
  auto listen = [&](std::chrono::seconds budget, std::set<std::string>& heard, bool until_new) {
    const std::set<std::string> before = heard;
    const auto end = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < end) {
      for (std::size_t i = 0; i < pubs.size(); ++i) {
        if (pubs[i]) (void)pubs[i]->Publish("node-a", "conn-" + std::to_string(i));
      }
      for (int n = 0; n < 16; ++n) {
        auto m = sub_->Receive(std::chrono::milliseconds(n == 0 ? 20 : 0));
        ASSERT_TRUE(m.ok());
        if (!m->has_value()) break;
        heard.insert((*m)->payload);
      }
      if (until_new && heard != before) return;
    }
  };
  std::set<std::string> heard;
  listen(std::chrono::seconds(4), heard, false);
  ASSERT_FALSE(heard.empty()) << "the key was not heard at all";
  EXPECT_LE(heard.size(), kMaxConnectionsPerKey)
      << "one key was heard on more connections than its limit";
  // Opened together, the connections reach the handshake gate before any is heard: the gate
  // holds a place for each handshake it admits, so the extra ones are refused there and never
  // get a queue (none has to be dropped and cut after the fact).
  EXPECT_GE(sub_->stats().connection_limit_refused.load(), kConnections - kMaxConnectionsPerKey);
  EXPECT_EQ(sub_->stats().connection_limit_dropped.load(), 0u)
      << "a connection over the limit passed the handshake gate and was given a queue";
  // Close the connections that were heard: the others (dropped, or refused and retrying every
  // few seconds) take their places.
  for (const std::string& p : heard) pubs[std::stoul(p.substr(5))].reset();
  const std::set<std::string> first = heard;
  listen(std::chrono::seconds(15), heard, true);
  EXPECT_GT(heard.size(), first.size()) << "the key's other connections were never heard";
}

TEST(TransportPlaintextTest, PlaintextWorksOnlyWhenConfigured) {
  zmq::context_t ctx;
  auto sub = SampleSubscriber::Bind(ctx, "tcp://127.0.0.1:*", std::nullopt);
  ASSERT_TRUE(sub.ok());
  auto pub = SamplePublisher::Connect(ctx, (*sub)->endpoint(), std::nullopt);
  ASSERT_TRUE(pub.ok());
  bool heard = false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!heard && std::chrono::steady_clock::now() < end) {
    (void)(*pub)->Publish("h", "x");
    auto m = (*sub)->Receive(std::chrono::milliseconds(50));
    heard = m.ok() && m->has_value();
  }
  EXPECT_TRUE(heard);
}

TEST(TransportBindTest, BadEndpointIsAClearError) {
  zmq::context_t ctx;
  auto sub = SampleSubscriber::Bind(ctx, "tcp://not-an-address:x", std::nullopt);
  ASSERT_FALSE(sub.ok());
  EXPECT_NE(sub.status().message().find("tcp://not-an-address:x"), std::string::npos);
}

}  // namespace
}  // namespace ballast
