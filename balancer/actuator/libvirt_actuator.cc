// Live migration through libvirt: virDomainMigrateToURI3 with PEER2PEER | LIVE (plus
// PERSIST_DEST | UNDEFINE_SOURCE for persistent domains), watched by virDomainGetJobStats,
// bounded by a timeout after which virDomainAbortJob leaves the VM on its source, and
// verified afterwards on both ends.
//
// PEER2PEER: the source daemon drives the migration, so a balancer that dies mid-way does
// not break it; on restart the daemon finds the job with ActiveJobs() and waits for it.

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "balancer/actuator/migration_actuator.h"
#include "common/libvirt_handles.h"
#include "common/log.h"

namespace ballast {
namespace {

using libvirt::ConnectPtr;
using libvirt::DomainPtr;
using libvirt::LastError;
using Clock = std::chrono::steady_clock;

// After a reported success, how long the destination may take to show the VM running.
constexpr int kVerifySettleTries = 20;
constexpr std::chrono::milliseconds kVerifySettleStep{250};

std::chrono::milliseconds Since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

// libvirt's state of a domain and its reason; nullopt (libvirt's error cleared) when libvirt
// could not read it.
struct DomainState {
  int state = 0;
  int reason = 0;
};
std::optional<DomainState> ReadState(virDomainPtr dom) {
  DomainState s;
  if (virDomainGetState(dom, &s.state, &s.reason, 0) != 0) {
    virResetLastError();
    return std::nullopt;
  }
  return s;
}

bool IsRunning(virDomainPtr dom) {
  const auto s = ReadState(dom);
  return s && s->state == VIR_DOMAIN_RUNNING;
}

// libvirt's domain state as virsh names it, with the reason's number ("paused (reason 2)"),
// for errors: an admin reads it next to `virsh domstate --reason`.
std::string DescribeState(const std::optional<DomainState>& s) {
  if (!s) return "in a state libvirt could not read";
  static const char* const kNames[] = {"no state",  "running",  "blocked", "paused",
                                       "shut down", "shut off", "crashed", "suspended (pm)"};
  const char* name = s->state >= 0 && s->state < static_cast<int>(std::size(kNames))
                         ? kNames[s->state]
                         : "unknown";
  return std::string(name) + " (reason " + std::to_string(s->reason) + ")";
}

class LibvirtActuator final : public MigrationActuator {
 public:
  explicit LibvirtActuator(int workers) {
    libvirt::SilenceDefaultErrorPrinting();
    for (int i = 0; i < std::max(1, workers); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }

  ~LibvirtActuator() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  Status Start(MigrationRequest request) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_.count(request.vm_uuid) != 0) {
      return Status::FailedPrecondition("a migration of " + request.vm_name +
                                        " is already in flight");
    }
    MigrationProgress p;
    p.request = request;
    in_flight_[request.vm_uuid] = std::move(p);
    queue_.push_back(std::move(request));
    cv_.notify_one();
    return Status::Ok();
  }

  std::vector<MigrationResult> TakeFinished() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(finished_, {});
  }

  std::vector<MigrationProgress> InFlight() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<MigrationProgress> out;
    for (const auto& [uuid, p] : in_flight_) out.push_back(p);
    return out;
  }

  void AbortAll() override {
    std::lock_guard<std::mutex> lock(mu_);
    abort_all_ = true;
    queue_.clear();
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      // Queued but not started: drop. Running ones see abort_all_ in their watch loop.
      if (running_.count(it->first) == 0) {
        it = in_flight_.erase(it);
      } else {
        ++it;
      }
    }
  }

  bool WaitIdle(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    return idle_cv_.wait_for(lock, timeout, [this] { return in_flight_.empty(); });
  }

  Result<std::vector<ActiveJob>> ActiveJobs(const std::string& uri) override {
    ConnectPtr conn(virConnectOpen(uri.c_str()));
    if (!conn) return LastError("virConnectOpen(" + uri + ")");
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn.get(), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) return LastError("virConnectListAllDomains");
    std::vector<ActiveJob> jobs;
    for (int i = 0; i < n; ++i) {
      DomainPtr d(doms[i]);
      virDomainJobInfo info{};
      if (virDomainGetJobInfo(d.get(), &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(d.get(), uuid) == 0) {
          const char* name = virDomainGetName(d.get());
          jobs.push_back({uuid, name ? name : ""});
        }
      }
      virResetLastError();
    }
    free(doms);  // NOLINT: allocated by libvirt
    return jobs;
  }

  Result<bool> IsRunningOn(const std::string& uri, const std::string& vm_uuid) override {
    ConnectPtr conn(virConnectOpen(uri.c_str()));
    if (!conn) return LastError("virConnectOpen(" + uri + ")");
    DomainPtr d(virDomainLookupByUUIDString(conn.get(), vm_uuid.c_str()));
    if (!d) {
      virResetLastError();
      return false;
    }
    return IsRunning(d.get());
  }

 private:
  void Work() {
    while (true) {
      MigrationRequest req;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        req = std::move(queue_.front());
        queue_.pop_front();
        running_.insert(req.vm_uuid);
      }
      MigrationResult r = Execute(req);
      {
        std::lock_guard<std::mutex> lock(mu_);
        running_.erase(req.vm_uuid);
        in_flight_.erase(req.vm_uuid);
        finished_.push_back(std::move(r));
        if (in_flight_.empty()) abort_all_ = false;
      }
      idle_cv_.notify_all();
    }
  }

  void SetProgress(const std::string& uuid, std::chrono::milliseconds elapsed,
                   std::uint64_t processed, std::uint64_t remaining) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(uuid);
    if (it == in_flight_.end()) return;
    it->second.elapsed = elapsed;
    it->second.data_processed = processed;
    it->second.data_remaining = remaining;
  }

  bool AbortRequested() {
    std::lock_guard<std::mutex> lock(mu_);
    return abort_all_ || stop_;
  }

  // libvirt's libxl driver can leave the source domain "paused (migrating)" after a failed
  // peer-to-peer migration (it logs "Guest ... probably left in 'paused' state on source";
  // seen when the target refused the domain). A guest left paused is a guest down, so it is
  // resumed, but only when the target answers that it does not run the VM: if the target
  // cannot be asked, two running copies are worse than a paused one, and it stays paused.
  void ResumeIfLeftPaused(virConnectPtr src, const MigrationRequest& req, MigrationResult* r) {
    DomainPtr d(virDomainLookupByUUIDString(src, req.vm_uuid.c_str()));
    if (!d) {
      virResetLastError();
      return;
    }
    const auto st = ReadState(d.get());
    if (!st || st->state != VIR_DOMAIN_PAUSED || st->reason != VIR_DOMAIN_PAUSED_MIGRATION) return;
    auto on_dest = IsRunningOn(req.to_uri, req.vm_uuid);
    if (!on_dest.ok()) {
      BLOG(kError) << req.vm_name << " is left paused on " << req.from_host
                   << " by the failed migration; not resuming it: " << req.to_host
                   << " cannot say whether it runs there (" << on_dest.status().message() << ")";
      return;
    }
    if (*on_dest) return;  // it moved after all: LocateAfterFailure finds it there
    if (virDomainResume(d.get()) != 0) {
      // Seen on Xen: libvirt says paused while Xen runs the domain, and libxl's unpause then
      // fails (a pause first does not help: libvirt skips it for a domain it thinks paused).
      // Restarting the source's libvirtd makes it read the real state (docs/xen.md).
      BLOG(kError) << req.vm_name << " is left paused on " << req.from_host
                   << " by the failed migration (in libvirt's view); resuming it failed: "
                   << LastError("virDomainResume").message();
      return;
    }
    r->resumed_on_source = true;
    BLOG(kWarning) << req.vm_name << " was left paused on " << req.from_host
                   << " by the failed migration; resumed it there";
  }

  // Where the VM is after a failed migration: the source if active there (running, or
  // paused: Xen's libxl driver can report "paused (migrating)" for a domain Xen runs).
  void LocateAfterFailure(virConnectPtr src, const MigrationRequest& req, MigrationResult* r) {
    DomainPtr d(virDomainLookupByUUIDString(src, req.vm_uuid.c_str()));
    if (d && virDomainIsActive(d.get()) == 1) {
      r->vm_on = req.from_host;
      return;
    }
    virResetLastError();
    auto on_dest = IsRunningOn(req.to_uri, req.vm_uuid);
    if (on_dest.ok() && *on_dest) r->vm_on = req.to_host;
  }

  MigrationResult Execute(const MigrationRequest& req) {
    const auto t0 = Clock::now();
    MigrationResult r;
    r.request = req;
    r.outcome = MigrationOutcome::kFailed;
    auto fail = [&](const std::string& why) {
      r.error = why;
      r.duration = Since(t0);
      return r;
    };

    ConnectPtr src(virConnectOpen(req.from_uri.c_str()));
    if (!src) return fail(LastError("connecting to source " + req.from_host).message());
    DomainPtr dom(virDomainLookupByUUIDString(src.get(), req.vm_uuid.c_str()));
    if (!dom) {
      virResetLastError();
      auto there = IsRunningOn(req.to_uri, req.vm_uuid);
      if (there.ok() && *there) r.vm_on = req.to_host;
      return fail(req.vm_name + " is not on " + req.from_host + " any more");
    }
    if (!IsRunning(dom.get())) {
      r.vm_on = "";
      return fail(req.vm_name + " is not running on " + req.from_host);
    }

    unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    r.flags = {"live", "peer2peer"};
    if (virDomainIsPersistent(dom.get()) == 1) {
      flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
      r.flags.insert(r.flags.end(), {"persist_dest", "undefine_source"});
    }

    // Migrate; a driver that rejects an optional parameter (Xen's libxl knows fewer) gets
    // a second try with only the essential ones.
    int rc = -1;
    Status error;
    bool aborted = false;
    for (bool minimal : {false, true}) {
      libvirt::TypedParams params;
      r.params.clear();
      r.retried_minimal = minimal;
      if (!req.to_migration_address.empty()) {
        const std::string uri = "tcp://" + req.to_migration_address;
        virTypedParamsAddString(params.ptr(), params.count(), params.max(), VIR_MIGRATE_PARAM_URI,
                                uri.c_str());
        r.params.push_back(std::string(VIR_MIGRATE_PARAM_URI) + "=" + uri);
        if (!minimal) {
          virTypedParamsAddString(params.ptr(), params.count(), params.max(),
                                  VIR_MIGRATE_PARAM_LISTEN_ADDRESS,
                                  req.to_migration_address.c_str());
          r.params.push_back(std::string(VIR_MIGRATE_PARAM_LISTEN_ADDRESS) + "=" +
                             req.to_migration_address);
        }
      }
      if (!minimal && req.options.bandwidth_mib_per_second > 0) {
        virTypedParamsAddULLong(params.ptr(), params.count(), params.max(),
                                VIR_MIGRATE_PARAM_BANDWIDTH, req.options.bandwidth_mib_per_second);
        r.params.push_back(std::string(VIR_MIGRATE_PARAM_BANDWIDTH) + "=" +
                           std::to_string(req.options.bandwidth_mib_per_second));
      }
      Done done;
      std::thread watch([&] { aborted = Watch(dom.get(), req, t0, done); });
      rc = virDomainMigrateToURI3(dom.get(), req.to_uri.c_str(), params.get(), params.n(), flags);
      if (rc != 0) error = LastError("virDomainMigrateToURI3");
      done.Set();  // wakes the watcher now, not at its next poll
      watch.join();
      if (rc == 0 || aborted || minimal || error.code() != Status::Code::kFailedPrecondition) {
        break;
      }
      BLOG(kWarning) << "migration of " << req.vm_name << ": " << error.message()
                     << "; retrying without listen address and bandwidth";
    }
    r.duration = Since(t0);

    if (rc != 0) {
      ResumeIfLeftPaused(src.get(), req, &r);
      LocateAfterFailure(src.get(), req, &r);
      if (aborted) {
        r.outcome = MigrationOutcome::kAborted;
        r.error = "did not complete within " + std::to_string(req.options.timeout.count()) +
                  " ms; aborted (" + error.message() + ")";
      } else {
        r.error = error.message();
      }
      return r;
    }

    // Verify: running on the destination, gone (or at least not running) on the source.
    ConnectPtr dst(virConnectOpen(req.to_uri.c_str()));
    if (!dst) {
      r.error = LastError("verifying on " + req.to_host).message();
      LocateAfterFailure(src.get(), req, &r);
      return r;
    }
    // The destination's driver marks the domain running before the call returns, but its
    // own events might still change that state for a moment after (seen once on Xen, state
    // not recorded): a short settle before calling a reported success a failure.
    DomainPtr moved(virDomainLookupByUUIDString(dst.get(), req.vm_uuid.c_str()));
    std::optional<DomainState> moved_state;
    for (int i = 0; moved; ++i) {
      moved_state = ReadState(moved.get());
      if ((moved_state && moved_state->state == VIR_DOMAIN_RUNNING) || i == kVerifySettleTries) {
        break;
      }
      std::this_thread::sleep_for(kVerifySettleStep);
    }
    if (!moved || !moved_state || moved_state->state != VIR_DOMAIN_RUNNING) {
      r.error = "libvirt reported success but " + req.vm_name + " is not running on " +
                req.to_host + ": " +
                (moved ? "it is " + DescribeState(moved_state) + " there"
                       : "libvirt there does not know it (" +
                             LastError("virDomainLookupByUUIDString").message() + ")");
      virResetLastError();
      LocateAfterFailure(src.get(), req, &r);
      return r;
    }
    DomainPtr left(virDomainLookupByUUIDString(src.get(), req.vm_uuid.c_str()));
    if (left && IsRunning(left.get())) {
      r.error = req.vm_name + " runs on both " + req.from_host + " and " + req.to_host;
      r.vm_on = req.from_host + "," + req.to_host;
      return r;
    }
    virResetLastError();
    r.outcome = MigrationOutcome::kSucceeded;
    r.vm_on = req.to_host;
    ReadCompletedStats(moved.get(), &r);
    return r;
  }

  // The end of the migration call, for its watcher.
  class Done {
   public:
    void Set() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_ = true;
      }
      cv_.notify_all();
    }
    // Waits up to `d`; true once Set.
    bool WaitFor(std::chrono::milliseconds d) {
      std::unique_lock<std::mutex> lock(mu_);
      return cv_.wait_for(lock, d, [&] { return done_; });
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
  };

  // Polls the job every 250 ms for progress; sets the downtime limit once the job exists;
  // aborts after the timeout. Returns true when it aborted. Returns as soon as `done` is set
  // (a sleep here used to add up to a poll period to every migration).
  bool Watch(virDomainPtr dom, const MigrationRequest& req, Clock::time_point t0, Done& done) {
    bool downtime_set = req.options.max_downtime.count() == 0;
    while (true) {
      if (done.WaitFor(std::chrono::milliseconds(250))) break;
      libvirt::TypedParams stats;
      int type = 0;
      if (virDomainGetJobStats(dom, &type, stats.ptr(), stats.count(), 0) == 0 &&
          type != VIR_DOMAIN_JOB_NONE) {
        unsigned long long processed = 0;
        unsigned long long remaining = 0;
        virTypedParamsGetULLong(stats.get(), stats.n(), VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
        virTypedParamsGetULLong(stats.get(), stats.n(), VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
        SetProgress(req.vm_uuid, Since(t0), processed, remaining);
        if (!downtime_set) {
          if (virDomainMigrateSetMaxDowntime(
                  dom, static_cast<unsigned long long>(req.options.max_downtime.count()), 0) != 0) {
            BLOG(kInfo) << "migration of " << req.vm_name << ": max downtime not set: "
                        << LastError("virDomainMigrateSetMaxDowntime").message();
          }
          downtime_set = true;
        }
      }
      virResetLastError();
      if (Since(t0) > req.options.timeout || AbortRequested()) {
        BLOG(kWarning) << "aborting the migration of " << req.vm_name << " from " << req.from_host
                       << " to " << req.to_host << " after " << Since(t0).count() << " ms";
        if (virDomainAbortJob(dom) != 0) {
          BLOG(kError) << LastError("virDomainAbortJob(" + req.vm_name + ")").message();
        }
        return true;
      }
    }
    return false;
  }

  static void ReadCompletedStats(virDomainPtr dom, MigrationResult* r) {
    libvirt::TypedParams stats;
    int type = 0;
    if (virDomainGetJobStats(dom, &type, stats.ptr(), stats.count(),
                             VIR_DOMAIN_JOB_STATS_COMPLETED) != 0) {
      virResetLastError();
      return;
    }
    unsigned long long v = 0;
    if (virTypedParamsGetULLong(stats.get(), stats.n(), VIR_DOMAIN_JOB_DOWNTIME, &v) == 1) {
      r->downtime = std::chrono::milliseconds(v);
    }
    if (virTypedParamsGetULLong(stats.get(), stats.n(), VIR_DOMAIN_JOB_DATA_PROCESSED, &v) == 1) {
      r->bytes = v;
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<MigrationRequest> queue_;
  std::map<std::string, MigrationProgress> in_flight_;  // by VM UUID
  std::set<std::string> running_;
  std::vector<MigrationResult> finished_;
  bool stop_ = false;
  bool abort_all_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<MigrationActuator> MakeLibvirtActuator(int workers) {
  return std::make_unique<LibvirtActuator>(workers);
}

}  // namespace ballast
