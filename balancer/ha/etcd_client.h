#pragma once

// A small client for etcd's v3 API through its JSON gateway (HTTP POST /v3/..., keys and
// values base64), which etcd 3.4 serves on its client port. Only what leader election and
// fenced moves need: leases, a range, puts and deletes, and the two transactions below.
//
// Blocking calls with a bounded timeout: callers run them off the balancer's loop thread
// (balancer/daemon/ha_env.*). One EtcdClient is used by one thread at a time (it owns one
// CURL handle, which libcurl does not share between threads); make one per thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ballast::ha {

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

// Who holds a campaign key after Campaign: this caller (`won`) or someone else.
struct CampaignResult {
  bool won = false;  // this call created the key
  KeyValue holder;   // the key as it is now (create_revision identifies the holder's term)
};

struct EtcdClientOptions {
  // "http://127.0.0.1:2379"; several may be given, tried in order until one answers.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds timeout{1000};  // per HTTP request, connect included
};

std::string Base64Encode(const std::string& in);
// nullopt: not base64.
std::optional<std::string> Base64Decode(const std::string& in);

class EtcdClient {
 public:
  // Fails only on a bad option (no endpoint) or when libcurl cannot make a handle; nothing is
  // asked of etcd yet.
  static Result<std::unique_ptr<EtcdClient>> Open(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // A lease of `ttl`; returns its ID.
  Result<std::int64_t> Grant(std::chrono::seconds ttl);
  // Renews the lease once; returns the TTL left (0 or less: the lease has expired or is gone).
  Result<std::int64_t> KeepAlive(std::int64_t lease);
  Status Revoke(std::int64_t lease);

  // One key (nullopt: absent), or every key under `prefix`.
  Result<std::optional<KeyValue>> Get(const std::string& key);
  Result<std::vector<KeyValue>> GetPrefix(const std::string& prefix);
  Status Put(const std::string& key, const std::string& value, std::int64_t lease = 0);
  Status Delete(const std::string& key);

  // One transaction: if `key` does not exist, creates it with `value` on `lease`; either way
  // returns who holds it now.
  Result<CampaignResult> Campaign(const std::string& key, const std::string& value,
                                  std::int64_t lease);

  // The fence. One transaction: puts `key` = `value` only while `guard_key` exists with
  // create revision `guard_create_revision` (this balancer's leadership term). Returns
  // whether it was written. With `unconditional` (a test-only switch that proves the fence
  // matters) the comparison is left out.
  Result<bool> PutIfHeld(const std::string& guard_key, std::int64_t guard_create_revision,
                         const std::string& key, const std::string& value,
                         bool unconditional = false);

  // Where the last request went (for messages).
  const std::string& endpoint() const;

 private:
  struct Impl;
  explicit EtcdClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::ha
