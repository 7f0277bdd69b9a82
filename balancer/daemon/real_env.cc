#include "balancer/daemon/real_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/file_sync.h"

namespace ballast::balancer_internal {
namespace {

template <typename T>
bool Ready(const std::future<T>& f) {
  return f.valid() && f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::Unavailable(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  // The status and state files list hosts and VMs: owner and group only, like the journal.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot create", tmp);
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status st = Errno("cannot write", tmp);
      ::close(fd);
      return st;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0640) != 0 || ::fsync(fd) != 0) {
    Status st = Errno("cannot chmod/fsync", tmp);
    ::close(fd);
    return st;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Errno("cannot rename " + tmp + " to", path);
  }
  return SyncParentDirectory(path);
}

void ActuatorEnv::Deliver(controller::Controller& c) {
  for (const MigrationResult& r : actuator_->TakeFinished()) c.OnMigrationResult(r);
}

void DetachedQueries::AskActiveJobs(const std::string& host, const std::string& uri) {
  jobs_[host] = RunDetached([act = actuator_, uri] { return act->ActiveJobs(uri); });
}

void DetachedQueries::AskWhereIs(const controller::VmProbeRequest& m) {
  probes_[m.vm_uuid] = RunDetached([act = actuator_, m] {
    controller::VmProbe p;
    auto jobs = act->ActiveJobs(m.from_uri);
    if (!jobs.ok()) return p;
    p.answered = true;
    for (const auto& j : *jobs) p.job_running |= j.vm_uuid == m.vm_uuid;
    if (p.job_running) return p;
    if (!m.to_uri.empty()) {
      auto on_to = act->IsRunningOn(m.to_uri, m.vm_uuid);
      if (on_to.ok() && *on_to) p.where = m.to;
    }
    if (p.where.empty()) {
      auto on_from = act->IsRunningOn(m.from_uri, m.vm_uuid);
      if (on_from.ok() && *on_from) p.where = m.from;
    }
    return p;
  });
}

void DetachedQueries::Deliver(controller::Controller& c) {
  // Collect first, then deliver: the controller may ask again from inside OnActiveJobs'
  // aftermath (its next Tick), never re-entering these maps while they are walked.
  std::vector<std::pair<std::string, Result<std::vector<ActiveJob>>>> jobs;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (!Ready(it->second)) {
      ++it;
      continue;
    }
    jobs.emplace_back(it->first, it->second.get());
    it = jobs_.erase(it);
  }
  std::vector<std::pair<std::string, controller::VmProbe>> probes;
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (!Ready(it->second)) {
      ++it;
      continue;
    }
    probes.emplace_back(it->first, it->second.get());
    it = probes_.erase(it);
  }
  for (auto& [host, r] : jobs) c.OnActiveJobs(host, r);
  for (auto& [uuid, p] : probes) c.OnVmProbe(uuid, p);
}

Result<std::optional<controller::PersistedState>> StateFile::Load() {
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return std::optional<controller::PersistedState>();
    return Errno("cannot open state file", path_);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("state file " + path_ + " is not a JSON object");
  }
  controller::PersistedState s;
  for (const auto& h : j.value("maintenance", nlohmann::json::array())) {
    if (h.is_string()) s.maintenance.insert(h.get<std::string>());
  }
  const auto paused = j.find("paused");
  if (paused != j.end() && !paused->is_boolean()) {
    return Status::InvalidArgument("state file " + path_ + ": 'paused' is not true or false");
  }
  s.paused = j.value("paused", false);
  return std::optional<controller::PersistedState>(std::move(s));
}

Status StateFile::Save(const controller::PersistedState& state) {
  nlohmann::json j = {{"maintenance", state.maintenance}, {"paused", state.paused}};
  return WriteFileAtomically(path_, j.dump(2));
}

}  // namespace ballast::balancer_internal
