#include "balancer/daemon/status_pacer.h"

#include <gtest/gtest.h>

#include <ctime>

namespace ballast {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = StatusPacer::TimePoint;

TEST(StatusPacerTest, CheapWritesFollowTheInterval) {
  StatusPacer pacer(milliseconds(250));
  const TimePoint t0{seconds(100)};
  EXPECT_TRUE(pacer.Due(t0));
  pacer.Wrote(t0, milliseconds(2));
  EXPECT_FALSE(pacer.Due(t0 + milliseconds(249)));
  EXPECT_TRUE(pacer.Due(t0 + milliseconds(250)));
  EXPECT_FALSE(pacer.Stretched(milliseconds(2)));
}

TEST(StatusPacerTest, CostlyWritesTakeAtMostATwentiethOfTheTime) {
  StatusPacer pacer(milliseconds(250));
  const TimePoint t0{seconds(100)};
  pacer.Wrote(t0, milliseconds(900));  // 200,000 VMs
  EXPECT_FALSE(pacer.Due(t0 + milliseconds(17999)));
  EXPECT_TRUE(pacer.Due(t0 + seconds(18)));
  EXPECT_TRUE(pacer.Stretched(milliseconds(900)));
}

TEST(StatusPacerTest, TheGapNeverExceedsAMinute) {
  StatusPacer pacer(milliseconds(250));
  const TimePoint t0{seconds(100)};
  pacer.Wrote(t0, seconds(10));
  EXPECT_TRUE(pacer.Due(t0 + StatusPacer::kMaxGap));
  // An interval the admin set longer than the cap is theirs to keep.
  StatusPacer slow(seconds(120));
  slow.Wrote(t0, seconds(10));
  EXPECT_FALSE(slow.Due(t0 + seconds(119)));
  EXPECT_TRUE(slow.Due(t0 + seconds(120)));
}

// What the daemon measures: a write during which the process sat stopped for 5 s (the HA fence
// test freezes a balancer with SIGSTOP) used almost no CPU, so it must not push the next write
// 100 s away, as pacing on wall time did.
TEST(StatusPacerTest, AStopMidWriteDoesNotCountAsCost) {
  // A busy loop: its CPU time must show (however loaded the machine, within 10 s).
  const auto cpu0 = ThreadCpuTime();
  const auto wall0 = std::chrono::steady_clock::now();
  while (ThreadCpuTime() - cpu0 < milliseconds(20) &&
         std::chrono::steady_clock::now() - wall0 < seconds(10)) {
  }
  EXPECT_GE(ThreadCpuTime() - cpu0, milliseconds(20))
      << "CLOCK_THREAD_CPUTIME_ID does not count a busy loop";

  const auto cpu1 = ThreadCpuTime();
  timespec pause{0, 200'000'000};
  nanosleep(&pause, nullptr);  // off the CPU, like a stopped process
  const auto idle = ThreadCpuTime() - cpu1;
  EXPECT_LT(idle, milliseconds(20));
  StatusPacer pacer(milliseconds(250));
  EXPECT_FALSE(pacer.Stretched(idle));
}

}  // namespace
}  // namespace ballast
