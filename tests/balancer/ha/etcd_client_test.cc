#include "balancer/ha/etcd_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "balancer/ha/leader_election.h"
#include "tests/balancer/ha/etcd_server.h"

// Against a real etcd (Debian's etcd-server 3.4) started by the test on loopback.

namespace ballast::ha {
namespace {

using namespace std::chrono_literals;

TEST(Base64, RoundTripsEveryLength) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("/ballast/c1/leader"), "L2JhbGxhc3QvYzEvbGVhZGVy");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n < all.size(); n += 7) {
    EXPECT_EQ(Base64Decode(Base64Encode(all.substr(0, n))), all.substr(0, n));
  }
  EXPECT_FALSE(Base64Decode("Zm9").has_value());
  EXPECT_FALSE(Base64Decode("Z=9v").has_value());
}

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::EtcdServer>();
    auto c = EtcdClient::Open({{server_->endpoint()}, 1000ms});
    ASSERT_TRUE(c.ok());
    client_ = std::move(*c);
    ASSERT_TRUE(client_->Get("/x").ok()) << "etcd did not start";
  }
  EtcdClientOptions Options() const { return {{server_->endpoint()}, 1000ms}; }
  ElectionOptions Election(const std::string& name) const {
    return {"/ballast/test/leader", name, 2s, 500ms};
  }
  // Polls `done` every 50 ms for at most `limit`.
  static bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return done();
  }

  std::unique_ptr<testing::EtcdServer> server_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdTest, PutGetPrefixDelete) {
  ASSERT_TRUE(client_->Put("/ballast/t/migrations/m-1", R"({"vm":"a"})").ok());
  ASSERT_TRUE(client_->Put("/ballast/t/migrations/m-2", "two").ok());
  ASSERT_TRUE(client_->Put("/ballast/t/state", "s").ok());
  auto one = client_->Get("/ballast/t/migrations/m-1");
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->value, R"({"vm":"a"})");
  EXPECT_GT((*one)->create_revision, 0);
  auto all = client_->GetPrefix("/ballast/t/migrations/");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].value, "two");
  ASSERT_TRUE(client_->Delete("/ballast/t/migrations/m-1").ok());
  auto gone = client_->Get("/ballast/t/migrations/m-1");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(EtcdTest, LeaseKeepsItsKeyUntilRevoked) {
  auto lease = client_->Grant(5s);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  auto ttl = client_->KeepAlive(*lease);
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 0);
  ASSERT_TRUE(client_->Put("/k", "v", *lease).ok());
  ASSERT_TRUE(client_->Revoke(*lease).ok());
  auto k = client_->Get("/k");
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k->has_value());
  auto dead = client_->KeepAlive(*lease);
  ASSERT_TRUE(dead.ok());
  EXPECT_LE(*dead, 0);
}

TEST_F(EtcdTest, CampaignHasOneWinnerAndTheFenceHoldsOnlyForItsTerm) {
  auto la = client_->Grant(10s);
  auto lb = client_->Grant(10s);
  ASSERT_TRUE(la.ok() && lb.ok());
  auto a = client_->Campaign("/l", "a", *la);
  auto b = client_->Campaign("/l", "b", *lb);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->won);
  EXPECT_FALSE(b->won);
  EXPECT_EQ(b->holder.value, "a");
  EXPECT_EQ(b->holder.create_revision, a->holder.create_revision);
  const std::int64_t term_a = a->holder.create_revision;

  auto put = client_->PutIfHeld("/l", term_a, "/m/1", "intent");
  ASSERT_TRUE(put.ok());
  EXPECT_TRUE(*put);
  // a's term ends (lease revoked), b wins: a's fence fails, b's holds.
  ASSERT_TRUE(client_->Revoke(*la).ok());
  auto b2 = client_->Campaign("/l", "b", *lb);
  ASSERT_TRUE(b2.ok());
  EXPECT_TRUE(b2->won);
  EXPECT_NE(b2->holder.create_revision, term_a);
  auto stale = client_->PutIfHeld("/l", term_a, "/m/2", "late");
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale);
  auto m2 = client_->Get("/m/2");
  ASSERT_TRUE(m2.ok());
  EXPECT_FALSE(m2->has_value()) << "a deposed term wrote its intent";
  // The test-only switch leaves the comparison out: the stale write goes through.
  auto unfenced = client_->PutIfHeld("/l", term_a, "/m/3", "late", /*unconditional=*/true);
  ASSERT_TRUE(unfenced.ok());
  EXPECT_TRUE(*unfenced);
}

TEST_F(EtcdTest, UnreachableEtcdIsAnErrorNotAHang) {
  server_->Stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = client_->Get("/x");
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(EtcdTest, ElectionHasOneLeaderAndTheStandbyTakesOverWhenItStops) {
  auto a = LeaderElection::Start(Options(), Election("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(WaitFor([&] { return (*a)->state().leading; }, 5s));
  auto b = LeaderElection::Start(Options(), Election("b"));
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(WaitFor([&] { return (*b)->state().leader == "a"; }, 5s));
  EXPECT_FALSE((*b)->state().leading);
  EXPECT_TRUE((*b)->state().etcd_reachable);
  const std::int64_t term_a = (*a)->state().term;
  EXPECT_GT(term_a, 0);

  a->reset();  // a clean stop revokes its lease: b leads within a renewal round
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return (*b)->state().leading; }, 3s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_NE((*b)->state().term, term_a);
  EXPECT_EQ((*b)->state().transitions, 1u);
}

TEST_F(EtcdTest, FrozenEtcdMakesTheLeaderStepDownAndItLeadsAgainAfter) {
  auto a = LeaderElection::Start(Options(), Election("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(WaitFor([&] { return (*a)->state().leading; }, 5s));
  server_->Freeze();  // requests time out
  ASSERT_TRUE(WaitFor([&] { return !(*a)->state().etcd_reachable; }, 5s));
  EXPECT_FALSE((*a)->state().leading);
  EXPECT_GT((*a)->state().renew_failures, 0u);
  server_->Thaw();
  ASSERT_TRUE(WaitFor([&] { return (*a)->state().leading; }, 8s));
  EXPECT_TRUE((*a)->state().etcd_reachable);
}

}  // namespace
}  // namespace ballast::ha
