#include "common/service_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "tests/common/temp_path.h"

namespace ballast {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The systemd side of the protocol: a datagram socket at NOTIFY_SOCKET that the test reads
// without blocking (sd_notify sends synchronously, so a message is there or was never sent).
class NotifySocket {
 public:
  NotifySocket() : path_(testing::TempPath("notify") + ".sock") {
    std::filesystem::remove(path_);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    ::close(fd_);
    std::filesystem::remove(path_);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  std::optional<std::string> Next() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(ServiceNotifierTest, WithoutNotifySocketEverythingIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_FALSE(n.enabled());
  EXPECT_FALSE(n.watchdog_enabled());
  n.Ready("ready");
  n.Status("status");
  n.Watchdog(std::chrono::steady_clock::now());
  n.Stopping();
  ::unsetenv("WATCHDOG_USEC");
}

TEST(ServiceNotifierTest, ReadyCarriesStatusAndStatusLinesAreOneLine) {
  NotifySocket sock;
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_TRUE(n.enabled());
  EXPECT_FALSE(n.watchdog_enabled());
  n.Ready("3 hosts, 12 VMs");
  EXPECT_EQ(sock.Next(), "READY=1\nSTATUS=3 hosts, 12 VMs");
  n.Status("policy rejected:\nline 3");
  EXPECT_EQ(sock.Next(), "STATUS=policy rejected: line 3");
  // The same status again is not resent: the loop may set it on every pass.
  n.Status("policy rejected:\nline 3");
  EXPECT_EQ(sock.Next(), std::nullopt);
  n.Stopping();
  EXPECT_EQ(sock.Next(), "STOPPING=1");
}

TEST(ServiceNotifierTest, WatchdogPingsEveryHalfOfWatchdogUsec) {
  NotifySocket sock;
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  ASSERT_TRUE(n.watchdog_enabled());
  EXPECT_EQ(n.watchdog_interval(), seconds(1));
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(100);
  n.Watchdog(t0);
  EXPECT_EQ(sock.Next(), "WATCHDOG=1");  // the first pass pings at once
  n.Watchdog(t0 + milliseconds(999));
  EXPECT_EQ(sock.Next(), std::nullopt);
  n.Watchdog(t0 + seconds(1));
  EXPECT_EQ(sock.Next(), "WATCHDOG=1");
  n.Watchdog(t0 + milliseconds(1500));
  EXPECT_EQ(sock.Next(), std::nullopt);
  // After a stall the next pass pings once, not once per missed interval.
  n.Watchdog(t0 + seconds(10));
  EXPECT_EQ(sock.Next(), "WATCHDOG=1");
  EXPECT_EQ(sock.Next(), std::nullopt);
}

TEST(ServiceNotifierTest, WatchdogMeantForAnotherProcessIsIgnored) {
  NotifySocket sock;
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  // A child that inherited its parent's environment: the watchdog is the parent's.
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  ServiceNotifier n = ServiceNotifier::FromEnvironment();
  EXPECT_FALSE(n.watchdog_enabled());
  n.Watchdog(std::chrono::steady_clock::now());
  EXPECT_EQ(sock.Next(), std::nullopt);
}

}  // namespace
}  // namespace ballast
