// The control channel's roles and revocation, on real CURVE sockets over TCP on 127.0.0.1:
// the server answers a viewer's mutating verb itself, and a removed key is refused on a new
// connection and answered "unauthenticated" on the one it kept open.

#include "common/control_channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/proto/control.pb.h"

namespace ballast {
namespace {

namespace fs = std::filesystem;

std::string Request(int verb) {
  control::ControlRequest r;
  r.set_api_version(1);
  switch (verb) {
    case 0:
      r.mutable_status();
      break;
    case 1:
      r.mutable_migrate()->set_vm("vm1");
      break;
    case 2:
      r.mutable_drain()->set_host("node-a");
      break;
    case 3:
      r.mutable_pause();
      break;
    default:
      r.mutable_history();
  }
  return r.SerializeAsString();
}

control::ControlReply Parse(const std::string& bytes) {
  control::ControlReply r;
  EXPECT_TRUE(r.ParseFromString(bytes));
  return r;
}

class ControlChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ballast-control-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "admins");
    fs::create_directories(dir_ / "viewers");
    server_keys_ = *GenerateCurveKeyPair();
    admin_ = *GenerateCurveKeyPair();
    viewer_ = *GenerateCurveKeyPair();
    ASSERT_TRUE(WriteCurveKeyPair(dir_ / "admins", "alice", admin_).ok());
    ASSERT_TRUE(WriteCurveKeyPair(dir_ / "viewers", "victor", viewer_).ok());
    fs::remove(dir_ / "admins" / "alice.key");
    fs::remove(dir_ / "viewers" / "victor.key");
    auto server = ControlServer::Bind("tcp://127.0.0.1:*", server_keys_,
                                      ControlAllowlists{dir_ / "admins", dir_ / "viewers"});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    // The "balancer": answers every request that reaches it with ok and who asked.
    loop_ = std::thread([this] {
      while (!stop_) {
        auto m = server_->Poll(std::chrono::milliseconds(20));
        if (!m) continue;
        ++reached_;
        control::ControlReply r;
        r.set_api_version(1);
        r.set_ok(true);
        r.set_payload_json(std::string("{\"who\":\"") + m->admin + "\",\"role\":\"" +
                           (m->role == ControlRole::kAdmin ? "admin" : "viewer") + "\"}");
        (void)server_->Reply(m->peer, r.SerializeAsString());
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    if (loop_.joinable()) loop_.join();
    server_.reset();
    fs::remove_all(dir_);
  }

  Result<std::string> Call(const CurveKeyPair& keys, const std::string& request) {
    return ControlCall(server_->endpoint(), keys, server_keys_.public_z85, request,
                       std::chrono::seconds(5));
  }

  fs::path dir_;
  CurveKeyPair server_keys_, admin_, viewer_;
  std::unique_ptr<ControlServer> server_;
  std::thread loop_;
  std::atomic<bool> stop_{false};
  std::atomic<int> reached_{0};
};

TEST_F(ControlChannelTest, ViewerMayReadButNotChange) {
  auto status = Call(viewer_, Request(0));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_TRUE(Parse(*status).ok());
  EXPECT_NE(Parse(*status).payload_json().find("\"role\":\"viewer\""), std::string::npos);
  const int reached = reached_;
  for (int verb : {1, 2, 3}) {
    auto r = Call(viewer_, Request(verb));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const control::ControlReply reply = Parse(*r);
    EXPECT_FALSE(reply.ok());
    EXPECT_EQ(reply.error_code(), kForbiddenCode);
    EXPECT_NE(reply.error().find("admin key"), std::string::npos) << reply.error();
  }
  EXPECT_EQ(reached_, reached) << "a viewer's mutating request reached the balancer";
  EXPECT_EQ(server_->forbidden(), 3u);
}

TEST_F(ControlChannelTest, AdminMayChange) {
  auto r = Call(admin_, Request(1));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Parse(*r).ok());
  EXPECT_NE(Parse(*r).payload_json().find("\"who\":\"alice\""), std::string::npos);
}

TEST_F(ControlChannelTest, ViewerGarbageIsRefusedToo) {
  auto r = Call(viewer_, "\xff\xff\xff not protobuf");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Parse(*r).error_code(), kForbiddenCode);
}

TEST_F(ControlChannelTest, RemovedAdminIsRefusedOnReconnect) {
  ASSERT_TRUE(Call(admin_, Request(0)).ok());
  fs::remove(dir_ / "admins" / "alice.pub");
  auto r = Call(admin_, Request(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
}

TEST_F(ControlChannelTest, RemovedAdminIsCutOffOnItsOpenConnection) {
  // ballastctl opens a connection per call; a client that keeps one open is the hard case.
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::req);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::curve_serverkey, server_keys_.public_z85);
  s.set(zmq::sockopt::curve_publickey, admin_.public_z85);
  s.set(zmq::sockopt::curve_secretkey, admin_.secret_z85);
  s.set(zmq::sockopt::rcvtimeo, 5000);
  s.connect(server_->endpoint());
  auto ask = [&](const std::string& req) {
    s.send(zmq::buffer(req), zmq::send_flags::none);
    zmq::message_t reply;
    EXPECT_TRUE(s.recv(reply).has_value());
    return Parse(reply.to_string());
  };
  EXPECT_TRUE(ask(Request(0)).ok());
  fs::remove(dir_ / "admins" / "alice.pub");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // > one recheck (100 ms)
  const int reached = reached_;
  const control::ControlReply r = ask(Request(1));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error_code(), kUnauthenticatedCode);
  EXPECT_EQ(reached_, reached);
  EXPECT_EQ(server_->revoked(), 1u);
}

TEST_F(ControlChannelTest, AdminMovedToViewersLosesWrites) {
  ASSERT_TRUE(Parse(*Call(admin_, Request(2))).ok());
  fs::rename(dir_ / "admins" / "alice.pub", dir_ / "viewers" / "alice.pub");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = Call(admin_, Request(2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Parse(*r).error_code(), kForbiddenCode);
}

TEST(DecodeControlRequestTest, ClassifiesEveryVerb) {
  EXPECT_FALSE(DecodeControlRequest(Request(0))->mutating);
  EXPECT_FALSE(DecodeControlRequest(Request(4))->mutating);
  EXPECT_TRUE(DecodeControlRequest(Request(1))->mutating);
  EXPECT_TRUE(DecodeControlRequest(Request(2))->mutating);
  EXPECT_TRUE(DecodeControlRequest(Request(3))->mutating);
  EXPECT_FALSE(DecodeControlRequest("\xff\xff").ok());
  EXPECT_TRUE(DecodeControlRequest("")->verb.empty());
}

}  // namespace
}  // namespace ballast
