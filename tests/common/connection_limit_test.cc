// The per-key connection limit on its own, with time passed in (the real-socket side is in
// transport_test.cc and flood_test.cc).

#include "common/connection_limit.h"

#include <gtest/gtest.h>

namespace ballast {
namespace {

using std::chrono::seconds;
using Clock = ConnectionLimit::Clock;

TEST(ConnectionLimitTest, AKeyIsHeardOnAtMostItsLimitOfConnections) {
  ConnectionLimit limit(2, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0));
  EXPECT_TRUE(limit.OnMessage("node-a", 8, t0));
  EXPECT_FALSE(limit.OnMessage("node-a", 9, t0));
  EXPECT_FALSE(limit.OnMessage("node-a", 10, t0 + seconds(1)));
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0 + seconds(1)));  // its own connections still are
  EXPECT_TRUE(limit.Full("node-a", t0 + seconds(1)));
  EXPECT_EQ(limit.TrackedConnections("node-a"), 2u);
}

TEST(ConnectionLimitTest, OtherKeysAreNotAffected) {
  ConnectionLimit limit(1, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0));
  EXPECT_FALSE(limit.OnMessage("node-a", 8, t0));
  EXPECT_TRUE(limit.OnMessage("node-b", 8, t0));
  EXPECT_FALSE(limit.Full("node-c", t0));
}

TEST(ConnectionLimitTest, AClosedConnectionFreesItsPlace) {
  ConnectionLimit limit(1, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0));
  EXPECT_FALSE(limit.OnMessage("node-a", 8, t0));
  limit.OnDisconnected(7);
  EXPECT_FALSE(limit.Full("node-a", t0));
  EXPECT_TRUE(limit.OnMessage("node-a", 8, t0));
  limit.OnDisconnected(99);  // never seen: ignored
  EXPECT_EQ(limit.TrackedConnections("node-a"), 1u);
}

TEST(ConnectionLimitTest, AQuietConnectionGivesItsPlaceToANewcomer) {
  ConnectionLimit limit(1, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0));
  EXPECT_FALSE(limit.OnMessage("node-a", 8, t0 + seconds(9)));
  EXPECT_TRUE(limit.Full("node-a", t0 + seconds(9)));
  EXPECT_FALSE(limit.Full("node-a", t0 + seconds(10)));  // 7 went quiet: a handshake may pass
  EXPECT_TRUE(limit.OnMessage("node-a", 8, t0 + seconds(10)));
  // ...and the old one, should it speak again, is now the one over the limit.
  EXPECT_FALSE(limit.OnMessage("node-a", 7, t0 + seconds(11)));
  EXPECT_EQ(limit.TrackedConnections("node-a"), 1u);
}

TEST(ConnectionLimitTest, ADescriptorReusedByAnotherKeyIsANewConnection) {
  ConnectionLimit limit(1, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0));
  // 7 closed and was reused before the monitor said so: it is node-b's now.
  EXPECT_TRUE(limit.OnMessage("node-b", 7, t0 + seconds(1)));
  EXPECT_EQ(limit.TrackedConnections("node-a"), 0u);
  EXPECT_TRUE(limit.OnMessage("node-a", 8, t0 + seconds(1)));
}

// Connections opened together all reach the gate before any of them is heard: each handshake
// the gate lets through holds its place, or all of them would pass and fill a queue each.
TEST(ConnectionLimitTest, AdmittedHandshakesHoldTheirPlacesUntilHeard) {
  ConnectionLimit limit(2, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.Admit("node-a", t0));
  EXPECT_TRUE(limit.Admit("node-a", t0));
  EXPECT_FALSE(limit.Admit("node-a", t0)) << "a third handshake passed before any was heard";
  EXPECT_TRUE(limit.Full("node-a", t0));
  EXPECT_TRUE(limit.Admit("node-b", t0)) << "another key's places were taken";
  // The admitted connections speak: their places become theirs, and the key stays full.
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0 + seconds(1)));
  EXPECT_EQ(limit.PendingHandshakes("node-a"), 1u);
  EXPECT_TRUE(limit.OnMessage("node-a", 8, t0 + seconds(1)));
  EXPECT_EQ(limit.PendingHandshakes("node-a"), 0u);
  EXPECT_FALSE(limit.Admit("node-a", t0 + seconds(2)));
  // One closes: one handshake may pass again.
  limit.OnDisconnected(7);
  EXPECT_TRUE(limit.Admit("node-a", t0 + seconds(2)));
  EXPECT_FALSE(limit.Admit("node-a", t0 + seconds(2)));
}

// A handshake whose connection never sends (it closed first, or its collector died) must not
// lock its key out: its place lapses like a quiet connection's.
TEST(ConnectionLimitTest, AnAdmittedHandshakeNeverHeardFromGivesItsPlaceUp) {
  ConnectionLimit limit(1, seconds(10));
  const Clock::time_point t0{};
  EXPECT_TRUE(limit.Admit("node-a", t0));
  EXPECT_FALSE(limit.Admit("node-a", t0 + seconds(9)));
  EXPECT_TRUE(limit.Admit("node-a", t0 + seconds(10)));
  EXPECT_EQ(limit.PendingHandshakes("node-a"), 1u);
  EXPECT_TRUE(limit.OnMessage("node-a", 7, t0 + seconds(11)));
  EXPECT_EQ(limit.PendingHandshakes("node-a"), 0u);
}

}  // namespace
}  // namespace ballast
