// The equivalence test (issue 12): one recording, replayed through the daemon's path (its
// decode, its Env pieces: the dry-run actuator, the journal file, the state file; its
// configuration's controller options) and through the simulator's (sim::ReplayRecording),
// gives the same plans, move for move, at the same times.

#include "sim/recording_replay.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "balancer/daemon/balancer_config.h"
#include "balancer/daemon/real_env.h"
#include "balancer/journal/journal.h"
#include "balancer/policy/loader.h"
#include "common/recording.h"
#include "common/wire.h"
#include "tests/common/temp_path.h"
#include "tests/common/test_samples.h"

namespace ballast::sim {
namespace {

constexpr char kPolicy[] = R"(apiVersion: ballast/v1
name: equivalence
mode: recommend
interval_seconds: 2
thresholds:
  cpu: {hot: 0.85, relieved: 0.70}
detection: {k: 3, n: 5, forecast: ewma, ewma_alpha: 0.5}
strategies: [hotspot, balance]
limits: {max_moves_per_round: 2, max_concurrent: 2, max_per_host_out: 1, max_per_host_in: 1}
)";

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

struct Guest {
  std::string uuid;
  double cores;  // CPU load
  std::uint64_t cpu_ns = 0;
};

// Three hosts: h0 hot (three busy guests), h1 half busy, h2 idle; samples every second for a
// minute, with a little jitter in arrival and load, as a real stream has.
void WriteRecording(const std::string& path) {
  auto rec = SampleRecorder::Open(path);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  std::vector<std::vector<Guest>> hosts = {
      {{"a0", 0.7}, {"a1", 0.6}, {"a2", 0.55}}, {{"b0", 0.5}, {"b1", 0.3}}, {{"c0", 0.05}}};
  std::uint64_t seq = 0;
  for (int s = 1; s <= 60; ++s) {
    ++seq;
    for (std::size_t h = 0; h < hosts.size(); ++h) {
      HostSample hs = testing::MakeHost("h" + std::to_string(h), seq,
                                        static_cast<std::uint64_t>(s) * 1'000'000'000);
      hs.host.libvirt_uri = "qemu+tcp://h" + std::to_string(h) + "/system";
      for (Guest& g : hosts[h]) {
        const double jitter = 0.02 * ((s * 7 + static_cast<int>(g.uuid[1])) % 5 - 2);
        g.cpu_ns += static_cast<std::uint64_t>((g.cores + jitter) * 1e9);
        hs.vms.push_back(testing::MakeVm(g.uuid, "vm-" + g.uuid, g.cpu_ns));
      }
      auto encoded = EncodeHostSample(hs);
      ASSERT_TRUE(encoded.ok()) << encoded.status().message();
      const std::int64_t arrival = kT0 + std::int64_t{s} * 1'000'000'000 +
                                   static_cast<std::int64_t>(h) * 3'000'000 + (s % 3) * 7'000'000;
      ASSERT_TRUE((*rec)->Append(*encoded, arrival).ok());
    }
  }
  ASSERT_TRUE((*rec)->Flush().ok());
}

class FixedClock final : public controller::Clock {
 public:
  std::int64_t unix_ns = 0;
  controller::SteadyTime Steady() const override {
    return controller::SteadyTime{} + std::chrono::hours(1) + std::chrono::nanoseconds(unix_ns);
  }
  controller::WallTime Wall() const override {
    return controller::WallTime{} + std::chrono::duration_cast<controller::WallTime::duration>(
                                        std::chrono::nanoseconds(unix_ns));
  }
};

// The daemon answers reconciliation questions on detached threads; here they are answered at
// the next loop pass, which is when the daemon's loop would see a fast answer.
class NextPassQueries final : public controller::HypervisorQueries {
 public:
  void AskActiveJobs(const std::string& host, const std::string&) override {
    hosts.push_back(host);
  }
  void AskWhereIs(const controller::VmProbeRequest&) override {}
  void Deliver(controller::Controller& c) {
    for (const auto& h : std::exchange(hosts, {})) c.OnActiveJobs(h, std::vector<ActiveJob>{});
  }
  std::vector<std::string> hosts;
};

// Plan times in seconds since the first sample, as ReplayRecording gives them.
class PlanLog final : public controller::Observer {
 public:
  explicit PlanLog(const FixedClock* clock) : clock_(clock) {}
  void OnPlan(const core::Plan& plan, std::chrono::nanoseconds,
              std::optional<std::chrono::nanoseconds>) override {
    plans.push_back({static_cast<double>(clock_->unix_ns - first_arrival) / 1e9, plan});
  }
  std::vector<ReplayedPlan> plans;
  std::int64_t first_arrival = 0;

 private:
  const FixedClock* clock_;
};

// The daemon's loop (balancer/daemon/daemon.cc Run), with the socket replaced by the
// recording and the wall clock by the recorded arrival times: receive (decode, ingest),
// answers, outcomes, then Tick; a pass at least every 50 ms.
std::vector<ReplayedPlan> DaemonPath(const std::string& recording, const std::string& dir,
                                     const BalancerConfig& config,
                                     std::shared_ptr<const core::Policy> policy) {
  auto journal = Journal::Open({dir + "/journal.jsonl", 1 << 20, 1, false});
  EXPECT_TRUE(journal.ok());
  FixedClock clock;
  auto actuator = std::shared_ptr<MigrationActuator>(MakeDryRunActuator());
  balancer_internal::ActuatorEnv act(actuator);
  NextPassQueries queries;
  balancer_internal::JournalEnv journal_env(journal->get());
  balancer_internal::StateFile state(dir + "/state.json");
  PlanLog log(&clock);
  controller::Env env{&clock, &act, &queries, &journal_env, &state, &log};
  auto reader = RecordingReader::Open(recording);
  EXPECT_TRUE(reader.ok());
  std::vector<RecordedSample> records;
  for (;;) {
    auto r = (*reader)->Next();
    if (!r.ok() || !r->has_value()) break;
    records.push_back(std::move(**r));
  }
  clock.unix_ns = records.front().arrival_unix_ns;
  log.first_arrival = clock.unix_ns;
  controller::Controller c(ControllerOptionsFor(config), env, std::move(policy));
  c.Start(Journal::ReadAll(dir + "/journal.jsonl"));
  std::int64_t now = clock.unix_ns;
  auto pass = [&] {
    queries.Deliver(c);
    act.Deliver(c);
    c.Tick();
  };
  for (const RecordedSample& rec : records) {
    while (now + 50'000'000 < rec.arrival_unix_ns) {
      now += 50'000'000;
      clock.unix_ns = now;
      pass();
    }
    now = std::max(now, rec.arrival_unix_ns);
    clock.unix_ns = now;
    DecodeResult d = DecodeHostSample(rec.encoded, "");
    EXPECT_TRUE(d.ok());
    if (d.ok()) c.OnSample(d.sample());
    pass();
  }
  return std::move(log.plans);
}

std::vector<std::string> Moves(const std::vector<ReplayedPlan>& plans) {
  std::vector<std::string> out;
  for (const auto& p : plans) {
    for (const auto& m : p.plan.moves) {
      out.push_back(std::to_string(p.seconds) + " " + m.vm_name + " " + m.from + ">" + m.to + ": " +
                    m.explanation);
    }
  }
  return out;
}

TEST(ReplayRecording, DaemonPathAndSimulatorPathPlanTheSameMoves) {
  const std::string dir = ballast::testing::TempPath("replay_equivalence");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  WriteRecording(dir + "/stream.rec");
  auto policy = policy::LoadPolicyFromString(kPolicy, "equivalence");
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  auto shared = std::make_shared<const core::Policy>(*policy);

  BalancerConfig config;  // the daemon's defaults (host_load: counters, 3 s grace...)
  config.startup_grace = std::chrono::seconds(1);
  // The recording's hosts claim qemu+tcp://hN/system and 127.0.0.1, as this inventory says.
  config.inventory.SetPattern({"qemu+tcp://{host}/system", "127.0.0.1"});
  const auto daemon = DaemonPath(dir + "/stream.rec", dir, config, shared);

  ReplayOptions ro;
  ro.controller = ControllerOptionsFor(config);
  auto sim = ReplayRecording(dir + "/stream.rec", *policy, ro);
  ASSERT_TRUE(sim.ok()) << sim.status().message();
  EXPECT_EQ(sim->samples, 180);

  // The hot host is relieved in the replay at all (otherwise equality proves nothing).
  const auto daemon_moves = Moves(daemon);
  ASSERT_FALSE(daemon_moves.empty());
  EXPECT_NE(daemon_moves.front().find(" h0>"), std::string::npos) << daemon_moves.front();
  ASSERT_EQ(daemon.size(), sim->plans.size());
  for (std::size_t i = 0; i < daemon.size(); ++i) {
    EXPECT_DOUBLE_EQ(daemon[i].seconds, sim->plans[i].seconds) << "plan " << i;
    EXPECT_EQ(daemon[i].plan.unrelieved.size(), sim->plans[i].plan.unrelieved.size());
  }
  EXPECT_EQ(daemon_moves, Moves(sim->plans));

  // And the comparison can fail: the simulator with the model's history kept shorter than
  // the daemon's plans differently.
  ReplayOptions other = ro;
  other.controller.model.history_length = 2;
  auto diverged = ReplayRecording(dir + "/stream.rec", *policy, other);
  ASSERT_TRUE(diverged.ok());
  EXPECT_NE(daemon_moves, Moves(diverged->plans));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ballast::sim
