#pragma once

// A real etcd for tests: started on 127.0.0.1 with free ports and a temporary data directory,
// killed by pid (and its directory removed) in the destructor, also when a test fails.

#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "balancer/ha/etcd_client.h"

namespace ballast::ha::testing {

inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class EtcdServer {
 public:
  EtcdServer() {
    char tmpl[] = "/tmp/ballast-etcd-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    client_port_ = FreePort();
    peer_port_ = FreePort();
    Start();
  }
  ~EtcdServer() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Waits (at most 20 s) until etcd answers; false if it did not.
  bool Start() {
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/etcd.log";
      FILE* f = ::freopen(log.c_str(), "a", stderr);
      (void)f;
      ::execlp("etcd", "etcd", "--name", "test", "--data-dir", (dir_ + "/data").c_str(),
               "--listen-client-urls", client.c_str(), "--advertise-client-urls", client.c_str(),
               "--listen-peer-urls", peer.c_str(), "--initial-advertise-peer-urls", peer.c_str(),
               "--initial-cluster", ("test=" + peer).c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto c = EtcdClient::Open({{endpoint()}, std::chrono::milliseconds(500)});
    for (int i = 0; i < 200; ++i) {
      if (c.ok() && (*c)->Get("/ping").ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void Freeze() { ::kill(pid_, SIGSTOP); }
  void Thaw() { ::kill(pid_, SIGCONT); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }

 private:
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ballast::ha::testing
