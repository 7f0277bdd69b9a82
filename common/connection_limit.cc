#include "common/connection_limit.h"

#include <algorithm>

namespace ballast {

bool ConnectionLimit::OnMessage(std::string_view key, int fd, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_fd_.find(fd); it != by_fd_.end()) {
    if (it->second.key == key) {
      it->second.last = now;
      return true;
    }
    // The descriptor was reused by a new connection before its old one's close reached us:
    // one descriptor is never two open connections, so the old one is gone.
    ForgetLocked(fd);
  }
  // A new connection: one of the key's admitted handshakes, whose place it now takes over.
  DropExpiredPendingLocked(key, now);
  if (auto p = pending_.find(std::string(key)); p != pending_.end()) {
    p->second.erase(p->second.begin());
    if (p->second.empty()) pending_.erase(p);
  }
  auto& fds = by_key_[std::string(key)];
  if (fds.size() >= per_key_) {
    // Full: the quietest connection gives up its place if it has gone quiet, else refuse.
    auto quietest = std::min_element(fds.begin(), fds.end(), [&](int a, int b) {
      return by_fd_.at(a).last < by_fd_.at(b).last;
    });
    if (now - by_fd_.at(*quietest).last < quiet_after_) return false;
    by_fd_.erase(*quietest);
    fds.erase(quietest);
  }
  fds.push_back(fd);
  by_fd_[fd] = Connection{std::string(key), now};
  return true;
}

void ConnectionLimit::OnDisconnected(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  ForgetLocked(fd);
}

bool ConnectionLimit::Full(std::string_view key, Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(std::string(key));
  const std::size_t active = it == by_key_.end() ? 0 : ActiveLocked(it->second, now);
  return active + PendingLocked(key, now) >= per_key_;
}

bool ConnectionLimit::Admit(std::string_view key, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredPendingLocked(key, now);
  auto it = by_key_.find(std::string(key));
  const std::size_t active = it == by_key_.end() ? 0 : ActiveLocked(it->second, now);
  if (active + PendingLocked(key, now) >= per_key_) return false;
  pending_[std::string(key)].push_back(now);
  return true;
}

std::size_t ConnectionLimit::TrackedConnections(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(std::string(key));
  return it == by_key_.end() ? 0 : it->second.size();
}

std::size_t ConnectionLimit::PendingHandshakes(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(std::string(key));
  return it == pending_.end() ? 0 : it->second.size();
}

std::size_t ConnectionLimit::PendingLocked(std::string_view key, Clock::time_point now) const {
  auto it = pending_.find(std::string(key));
  if (it == pending_.end()) return 0;
  return static_cast<std::size_t>(
      std::count_if(it->second.begin(), it->second.end(),
                    [&](Clock::time_point t) { return now - t < quiet_after_; }));
}

void ConnectionLimit::DropExpiredPendingLocked(std::string_view key, Clock::time_point now) {
  auto it = pending_.find(std::string(key));
  if (it == pending_.end()) return;
  std::erase_if(it->second, [&](Clock::time_point t) { return now - t >= quiet_after_; });
  if (it->second.empty()) pending_.erase(it);
}

void ConnectionLimit::ForgetLocked(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  auto k = by_key_.find(it->second.key);
  if (k != by_key_.end()) {
    std::erase(k->second, fd);
    if (k->second.empty()) by_key_.erase(k);
  }
  by_fd_.erase(it);
}

std::size_t ConnectionLimit::ActiveLocked(const std::vector<int>& fds,
                                          Clock::time_point now) const {
  return static_cast<std::size_t>(std::count_if(
      fds.begin(), fds.end(), [&](int fd) { return now - by_fd_.at(fd).last < quiet_after_; }));
}

}  // namespace ballast
