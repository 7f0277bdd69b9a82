#pragma once

// Leader election on etcd with a lease: each balancer keeps a lease of `ttl` alive and
// campaigns for `key` (/ballast/<cluster>/leader) with a transaction that creates the key on
// its lease only if it does not exist. The holder's key create revision is its term: the
// fencing token that every move start is checked against (EtcdClient::PutIfHeld).
//
// Runs on a thread of its own (etcd calls block up to their timeout); state() is a
// thread-safe snapshot the loop thread reads. Leadership as seen here can be stale by up to
// one renewal round (and by any time the process was frozen): that is why moves are fenced
// in etcd itself, not by this flag.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "balancer/ha/etcd_client.h"
#include "common/status.h"

namespace ballast::ha {

struct ElectionOptions {
  std::string key;   // /ballast/<cluster>/leader
  std::string name;  // this balancer, the key's value
  std::chrono::seconds ttl{10};
  std::chrono::milliseconds renew_every{3000};  // well inside ttl
};

struct ElectionState {
  bool leading = false;
  std::string leader;     // the holder's name; "" when none is known
  std::int64_t term = 0;  // the key's create revision while this balancer leads
  bool etcd_reachable = false;
  std::uint64_t transitions = 0;     // times `leading` changed
  std::uint64_t renew_failures = 0;  // rounds whose lease renewal or campaign failed
  std::uint64_t rounds = 0;
  std::string last_error;
  std::chrono::steady_clock::time_point leading_since{};  // when it last became leader
};

class LeaderElection {
 public:
  // Starts campaigning at once (first round on the new thread).
  static Result<std::unique_ptr<LeaderElection>> Start(EtcdClientOptions etcd,
                                                       ElectionOptions options);
  // Stops campaigning; revokes the lease (best effort) so that a standby takes over without
  // waiting for the TTL.
  ~LeaderElection();
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  ElectionState state() const;
  const ElectionOptions& options() const { return options_; }

 private:
  LeaderElection(std::unique_ptr<EtcdClient> client, ElectionOptions options);
  void Run();
  void Round();
  void Failed(const Status& st);

  std::unique_ptr<EtcdClient> client_;  // the election thread's only
  const ElectionOptions options_;
  std::int64_t lease_ = 0;  // election thread only
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;    // guarded by mu_
  ElectionState state_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ballast::ha
