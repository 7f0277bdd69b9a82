#include "sim/recording_replay.h"

#include <memory>
#include <optional>

#include "common/recording.h"
#include "common/wire.h"

namespace ballast::sim {
namespace {

// Time as the recording says it was: wall = arrival, steady = since the first arrival.
class ReplayClock final : public controller::Clock {
 public:
  void Set(std::int64_t unix_ns) { unix_ns_ = unix_ns; }
  controller::SteadyTime Steady() const override {
    return controller::SteadyTime{} + std::chrono::hours(1) + std::chrono::nanoseconds(unix_ns_);
  }
  controller::WallTime Wall() const override {
    return controller::WallTime{} + std::chrono::duration_cast<controller::WallTime::duration>(
                                        std::chrono::nanoseconds(unix_ns_));
  }

 private:
  std::int64_t unix_ns_ = 0;
};

// Nothing moves in a replay (recommend mode); hypervisors know of no jobs.
class ReplayWorld final : public controller::Actuator,
                          public controller::HypervisorQueries,
                          public controller::DecisionJournal,
                          public controller::StateStore,
                          public controller::Observer {
 public:
  explicit ReplayWorld(const ReplayClock* clock, std::int64_t t0) : clock_(clock), t0_(t0) {}
  Status Start(const MigrationRequest&) override {
    return Status::FailedPrecondition("a replay moves nothing");
  }
  void AskActiveJobs(const std::string& host, const std::string&) override {
    hosts_.push_back(host);
  }
  void AskWhereIs(const controller::VmProbeRequest& p) override { probes_.push_back(p.vm_uuid); }
  Status Append(nlohmann::json, controller::WallTime) override { return Status::Ok(); }
  Result<std::optional<controller::PersistedState>> Load() override {
    return std::optional<controller::PersistedState>();
  }
  Status Save(const controller::PersistedState&) override { return Status::Ok(); }
  void OnPlan(const core::Plan& plan, std::chrono::nanoseconds,
              std::optional<std::chrono::nanoseconds>) override {
    const auto ns = clock_->Wall().time_since_epoch() - std::chrono::nanoseconds(t0_);
    plans.push_back({std::chrono::duration<double>(ns).count(), plan});
  }
  // Answers after the controller's step, as the daemon's loop delivers them.
  void Deliver(controller::Controller& c) {
    for (const auto& h : std::exchange(hosts_, {})) c.OnActiveJobs(h, std::vector<ActiveJob>{});
    for (const auto& v : std::exchange(probes_, {})) {
      controller::VmProbe p;
      p.answered = true;
      c.OnVmProbe(v, p);
    }
  }
  std::vector<ReplayedPlan> plans;

 private:
  const ReplayClock* clock_;
  std::int64_t t0_;
  std::vector<std::string> hosts_;
  std::vector<std::string> probes_;
};

}  // namespace

Result<ReplayResult> ReplayRecording(const std::string& path, const core::Policy& policy,
                                     const ReplayOptions& options) {
  auto reader = RecordingReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<RecordedSample> records;
  for (;;) {
    auto r = (*reader)->Next();
    if (!r.ok()) return r.status();
    if (!r->has_value()) break;
    records.push_back(std::move(**r));
  }
  ReplayResult out;
  if (records.empty()) return out;
  auto p = std::make_shared<core::Policy>(policy);
  if (p->mode == core::Mode::kAutomatic) p->mode = core::Mode::kRecommend;
  ReplayClock clock;
  const std::int64_t t0 = records.front().arrival_unix_ns;
  clock.Set(t0);
  ReplayWorld world(&clock, t0);
  controller::Env env{&clock, &world, &world, &world, &world, &world};
  controller::Controller c(options.controller, env, p);
  c.Start({});
  const std::int64_t tick_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.tick).count();
  std::int64_t now = t0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const RecordedSample& rec = records[i];
    // The loop's passes while it waited for this sample.
    while (now + tick_ns < rec.arrival_unix_ns) {
      now += tick_ns;
      clock.Set(now);
      world.Deliver(c);
      c.Tick();
    }
    now = std::max(now, rec.arrival_unix_ns);
    clock.Set(now);
    DecodeResult d = DecodeHostSample(rec.encoded);
    if (!d.ok()) {
      ++out.rejected;
      continue;
    }
    ++out.samples;
    c.OnSample(d.sample());
    world.Deliver(c);
    c.Tick();
  }
  out.plans = std::move(world.plans);
  return out;
}

}  // namespace ballast::sim
