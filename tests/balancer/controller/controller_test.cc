#include "balancer/controller/controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/core/plan.h"
#include "balancer/core/policy.h"
#include "balancer/policy/loader.h"
#include "tests/balancer/controller/fake_env.h"
#include "tests/common/test_samples.h"

// The controller driven as the daemon drives it, with fakes for its Env: a sample per host
// every simulated second, then Tick(); outcomes and hypervisor answers are handed back by the
// test between calls. No sleeps, no wall clock: time moves only with FakeClock::Advance.

namespace ballast::controller {
namespace {

using namespace std::chrono_literals;
using fake::CountingObserver;
using fake::FakeClock;
using fake::FakeCoordinator;
using fake::MemoryJournal;
using fake::MemoryStateStore;
using fake::ScriptedActuator;
using fake::ScriptedHypervisor;

std::string Uuid(const std::string& vm) { return "uuid-" + vm; }
std::string Uri(const std::string& host) { return "qemu+tcp://" + host + "/system"; }

// What the collectors would report: hosts with VMs whose cumulative CPU counters grow at
// their load (cpu_ns = cores x time), as libvirt's do.
class TestCluster {
 public:
  void AddHost(const std::string& name, double cores = 2) {
    hosts_.push_back({name, cores, 0, false});
  }
  // The VM's UUID is Uuid(name).
  void AddVm(const std::string& name, const std::string& host, double cores) {
    vms_.push_back({name, host, cores, 0});
  }
  void SetLoad(const std::string& vm, double cores) { Vm(vm).cores = cores; }
  std::string NameOf(const std::string& vm_uuid) const {
    for (const auto& v : vms_) {
      if (Uuid(v.name) == vm_uuid) return v.name;
    }
    return "";
  }
  void MoveVm(const std::string& vm_uuid, const std::string& host) {
    for (auto& v : vms_) {
      if (Uuid(v.name) == vm_uuid) v.host = host;
    }
  }
  void Silence(const std::string& host, bool silent) {
    for (auto& h : hosts_) {
      if (h.name == host) h.silent = silent;
    }
  }
  // What the host's samples claim from now on (empty: Uri(host), 127.0.0.1 as the fixture's
  // inventory says).
  void Claim(const std::string& host, std::string uri, std::string migration_address = "") {
    for (auto& h : hosts_) {
      if (h.name != host) continue;
      h.uri = std::move(uri);
      h.address = std::move(migration_address);
    }
  }
  // The VM is listed by `host` too (in `state`), besides its own host; "" stops it.
  void AlsoReport(const std::string& vm, const std::string& host,
                  VmState state = VmState::kPaused) {
    Vm(vm).also_on = host;
    Vm(vm).also_state = state;
  }

  // Advances every VM's counter by `dt` at its load; one sample per reporting host, taken at
  // collector time `monotonic_ns`.
  std::vector<HostSample> Advance(std::chrono::nanoseconds dt, std::uint64_t monotonic_ns) {
    for (auto& v : vms_) v.cpu_ns += v.cores * static_cast<double>(dt.count());
    std::vector<HostSample> out;
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      HostEntry& h = hosts_[i];
      if (h.silent) continue;
      HostSample s = ::ballast::testing::MakeHost(h.name, ++h.seq, monotonic_ns);
      s.host.uuid = "00000000-0000-0000-0000-00000000000" + std::to_string(i);
      s.host.libvirt_uri = h.uri.empty() ? Uri(h.name) : h.uri;
      if (!h.address.empty()) s.host.migration_address = h.address;
      s.capacity.cpu_cores = h.cores;
      for (const auto& v : vms_) {
        if (v.host != h.name && v.also_on != h.name) continue;
        s.vms.push_back(
            ::ballast::testing::MakeVm(Uuid(v.name), v.name, static_cast<std::uint64_t>(v.cpu_ns)));
        if (v.host != h.name) s.vms.back().state = v.also_state;
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  struct HostEntry {
    std::string name;
    double cores;
    std::uint64_t seq;
    bool silent;
    std::string uri = {};
    std::string address = {};
  };
  struct VmEntry {
    std::string name;
    std::string host;
    double cores;
    double cpu_ns;
    std::string also_on = {};
    VmState also_state = VmState::kPaused;
  };
  VmEntry& Vm(const std::string& name) {
    for (auto& v : vms_) {
      if (v.name == name) return v;
    }
    ADD_FAILURE() << "no VM " << name;
    return vms_.front();
  }

  std::vector<HostEntry> hosts_;
  std::vector<VmEntry> vms_;
};

// The end-to-end tests' rules (tests/integration/hotspot_policy.yaml) on 2-core hosts.
std::shared_ptr<const core::Policy> MakePolicy(
    std::string_view mode, const std::function<void(core::Policy&)>& tweak = {}) {
  const std::string yaml = std::string(R"(apiVersion: ballast/v1
name: unit
mode: )") + std::string(mode) +
                           R"(
interval_seconds: 1
thresholds:
  cpu: {hot: 0.85, relieved: 0.70}
detection: {k: 3, n: 5, forecast: ewma, ewma_alpha: 0.5}
strategies: [hotspot, drain]
limits:
  max_moves_per_round: 2
  max_concurrent: 2
  max_per_host_out: 1
  max_per_host_in: 1
  vm_cooldown_seconds: 300
  return_cooldown_seconds: 1800
migration:
  timeout_seconds: 120
  failure_backoff_seconds: 30
)";
  auto loaded = policy::LoadPolicyFromString(yaml, "unit.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  core::Policy p = loaded.ok() ? *loaded : core::Policy{};
  if (tweak) tweak(p);
  const auto issues = core::ValidatePolicy(p);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  return std::make_shared<const core::Policy>(std::move(p));
}

nlohmann::json StartedRecord(const std::string& id, const std::string& vm, const std::string& from,
                             const std::string& to) {
  return {{"event", "migration_started"}, {"id", id},         {"vm", vm},
          {"vm_uuid", Uuid(vm)},          {"from", from},     {"to", to},
          {"from_uri", Uri(from)},        {"to_uri", Uri(to)}};
}

nlohmann::json FinishedRecord(const std::string& id, const std::string& vm, const std::string& from,
                              const std::string& to, WallTime at) {
  return {{"event", "migration_finished"},
          {"id", id},
          {"vm", vm},
          {"vm_uuid", Uuid(vm)},
          {"from", from},
          {"to", to},
          {"vm_on", to},
          {"at_ms",
           std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count()}};
}

class ControllerTest : public ::testing::Test {
 protected:
  // The hosts' samples claim Uri(name) and 127.0.0.1 (test_samples.h): the inventory says so.
  ControllerTest() : actuator_(&journal_) {
    options_.inventory.SetPattern({"qemu+tcp://{host}/system", "127.0.0.1"});
  }

  // Builds the controller (with options_ as set by the test) and starts it.
  void Start(std::shared_ptr<const core::Policy> policy,
             const std::vector<nlohmann::json>& records = {}) {
    Env env;
    env.clock = &clock_;
    env.actuator = &actuator_;
    env.hypervisor = &hv_;
    env.journal = &journal_;
    env.state = &state_;
    env.observer = &observer_;
    if (ha_) env.coordinator = &coordinator_;
    ctl_ = std::make_unique<Controller>(options_, env, std::move(policy));
    ctl_->Start(records);
  }

  // One simulated second: every reporting host publishes a sample, then time is ticked.
  // With auto_answer_jobs_, libvirt then answers each AskActiveJobs: no job running.
  void Step(int seconds = 1) {
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(1s);
      const auto mono = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Steady().time_since_epoch())
              .count());
      for (const HostSample& s : cluster_.Advance(1s, mono)) ctl_->OnSample(s);
      ctl_->Tick();
      if (auto_answer_jobs_) AnswerJobs();
    }
  }

  // Steps until `done` holds; false if it did not within `max_seconds`.
  bool StepUntil(const std::function<bool()>& done, int max_seconds) {
    for (int i = 0; i < max_seconds; ++i) {
      if (done()) return true;
      Step();
    }
    return done();
  }
  bool StepUntilStarts(std::size_t n, int max_seconds = 20) {
    return StepUntil([&] { return actuator_.started().size() >= n; }, max_seconds);
  }

  void AnswerJobs(const std::vector<ActiveJob>& jobs = {}) {
    for (const auto& q : hv_.TakeJobQuestions()) ctl_->OnActiveJobs(q.host, jobs);
  }

  // Delivers the outcome of started request `i`; a success also moves the VM in the
  // simulated cluster, so the collectors report it on its new host from the next second.
  void Deliver(std::size_t i, MigrationOutcome outcome, std::string error = "") {
    MigrationResult r = actuator_.Outcome(i, outcome, std::move(error));
    if (outcome == MigrationOutcome::kSucceeded) {
      cluster_.MoveVm(r.request.vm_uuid, r.request.to_host);
    }
    ctl_->OnMigrationResult(r);
  }

  // h1 is hot (hot1 1.0 + hot2 0.8 cores of 2 = 90 % > 85 %), h2 is cold (cold1 0.1). Moving
  // hot1 relieves h1 (40 %) and keeps h2 under the relieved mark (55 %).
  void HotspotCluster() {
    cluster_.AddHost("h1");
    cluster_.AddHost("h2");
    cluster_.AddVm("hot1", "h1", 1.0);
    cluster_.AddVm("hot2", "h1", 0.8);
    cluster_.AddVm("cold1", "h2", 0.1);
  }

  // A VM that (per the journal) moved from h1 to h2, on a hot h2 where it is the only movable
  // VM ("stay" is excluded): without a cooldown the hotspot moves it straight back to h1.
  void MovedBackCandidateCluster(const std::string& mover_on) {
    cluster_.AddHost("h1");
    cluster_.AddHost("h2");
    cluster_.AddVm("mover", mover_on, 1.0);
    cluster_.AddVm("stay", "h2", 0.8);
    cluster_.AddVm("idle", "h1", 0.1);
  }
  static std::shared_ptr<const core::Policy> ExcludingStay(std::string_view mode = "automatic") {
    return MakePolicy(mode, [](core::Policy& p) { p.rules.exclude_vms = {"stay*"}; });
  }

  // Whether the last plan left `host` unrelieved with `blocker` among the reasons.
  bool Unrelieved(const std::string& host, core::Blocker blocker) const {
    for (const auto& u : ctl_->last_plan().unrelieved) {
      if (u.host != host) continue;
      auto it = u.blockers.find(blocker);
      if (it != u.blockers.end() && it->second > 0) return true;
    }
    return false;
  }
  bool Planned(const std::string& vm) const {
    for (const auto& m : ctl_->last_plan().moves) {
      if (m.vm_uuid == Uuid(vm)) return true;
    }
    return false;
  }

  FakeClock clock_;
  MemoryJournal journal_;
  ScriptedActuator actuator_;
  ScriptedHypervisor hv_;
  MemoryStateStore state_;
  CountingObserver observer_;
  ControllerOptions options_;
  TestCluster cluster_;
  std::unique_ptr<Controller> ctl_;
  bool auto_answer_jobs_ = true;
  bool ha_ = false;  // with a coordinator (high availability)
  FakeCoordinator coordinator_;
};

// --- reconciliation with the hypervisors -------------------------------------------------

TEST_F(ControllerTest, NoMoveBeforeEveryFreshHostAnsweredActiveJobs) {
  options_.reconcile_wait = 60s;  // longer than the test: only answers unblock
  auto_answer_jobs_ = false;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(10);                                 // h1 has been hot for several rounds
  EXPECT_EQ(hv_.JobQuestionsFor("h1"), 1);  // one outstanding question per host, not one a tick
  EXPECT_EQ(hv_.JobQuestionsFor("h2"), 1);
  EXPECT_EQ(hv_.job_questions()[0].uri, Uri("h1"));
  EXPECT_FALSE(ctl_->Reconciled());

  ctl_->OnActiveJobs("h1", std::vector<ActiveJob>{});  // h2 still silent
  Step(5);
  EXPECT_FALSE(ctl_->Reconciled());
  EXPECT_EQ(ctl_->plans(), 0u);
  EXPECT_EQ(actuator_.calls(), 0);

  ctl_->OnActiveJobs("h2", std::vector<ActiveJob>{});
  EXPECT_TRUE(ctl_->Reconciled());
  ASSERT_TRUE(StepUntilStarts(1, 2));
  EXPECT_EQ(actuator_.started()[0].request.from_host, "h1");
}

TEST_F(ControllerTest, ErroringHostIsAskedAgainAfterQueryRetryAndBlocksPlanning) {
  options_.reconcile_wait = 60s;
  options_.query_retry = 3s;
  auto_answer_jobs_ = false;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step();  // first samples: both hosts asked
  ASSERT_EQ(hv_.TakeJobQuestions().size(), 2u);
  ctl_->OnActiveJobs("h2", std::vector<ActiveJob>{});
  ctl_->OnActiveJobs("h1", Status::Unavailable("connection refused"));

  Step(2);  // retry due 3 s after the error
  EXPECT_EQ(hv_.JobQuestionsFor("h1"), 1);
  Step();
  EXPECT_EQ(hv_.JobQuestionsFor("h1"), 2);
  ASSERT_EQ(hv_.TakeJobQuestions().size(), 1u);
  ctl_->OnActiveJobs("h1", Status::Unavailable("connection refused"));

  Step(5);  // h1 is hot by now, but unreconciled
  EXPECT_EQ(hv_.JobQuestionsFor("h1"), 3);
  EXPECT_EQ(ctl_->plans(), 0u);
  EXPECT_EQ(actuator_.calls(), 0);

  AnswerJobs();  // the outstanding question: no job
  ASSERT_TRUE(StepUntilStarts(1, 2));
}

TEST_F(ControllerTest, SilentHostIsPlannedAnywayAfterReconcileWait) {
  options_.reconcile_wait = 10s;
  auto_answer_jobs_ = false;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step();  // both asked at +1 s
  hv_.TakeJobQuestions();
  ctl_->OnActiveJobs("h2", std::vector<ActiveJob>{});  // h1's libvirt never answers

  Step(10);  // +11 s: 10 s since the question, not more
  EXPECT_EQ(journal_.Count("reconcile_timeout"), 0);
  EXPECT_EQ(actuator_.calls(), 0);

  ASSERT_TRUE(StepUntilStarts(1, 3));
  ASSERT_EQ(journal_.Count("reconcile_timeout"), 1);
  EXPECT_EQ(journal_.Events("reconcile_timeout")[0]["host"], "h1");
  EXPECT_EQ(hv_.JobQuestionsFor("h1"), 1);  // never asked twice while outstanding
  Step(3);
  EXPECT_EQ(journal_.Count("reconcile_timeout"), 1);  // said once
}

TEST_F(ControllerTest, ExternalJobKeepsItsVmUnmovedUntilTheProbeSaysItEnded) {
  auto_answer_jobs_ = false;
  HotspotCluster();
  // hot2 may not move: hot1 is the only way to relieve h1.
  Start(MakePolicy("automatic", [](core::Policy& p) { p.rules.exclude_vms = {"hot2"}; }));
  Step();
  for (const auto& q : hv_.TakeJobQuestions()) {
    ctl_->OnActiveJobs(q.host, q.host == "h1" ? std::vector<ActiveJob>{{Uuid("hot1"), "hot1"}}
                                              : std::vector<ActiveJob>{});
  }
  EXPECT_TRUE(ctl_->Reconciled());  // someone else's job does not block planning
  ASSERT_EQ(journal_.Count("external_job_seen"), 1);
  EXPECT_EQ(journal_.Events("external_job_seen")[0]["vm"], "hot1");
  EXPECT_TRUE(ctl_->InFlight(Uuid("hot1")));

  Step(10);
  EXPECT_GT(ctl_->plans(), 0u);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(Unrelieved("h1", core::Blocker::kInFlight));
  auto probes = hv_.TakeProbes();
  ASSERT_EQ(probes.size(), 1u);  // one outstanding probe, not one a tick
  EXPECT_EQ(probes[0].vm_uuid, Uuid("hot1"));
  EXPECT_EQ(probes[0].from, "h1");
  EXPECT_EQ(probes[0].from_uri, Uri("h1"));

  ctl_->OnVmProbe(Uuid("hot1"), {true, true, "h1"});  // the job still runs
  Step(5);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(ctl_->InFlight(Uuid("hot1")));
  ASSERT_EQ(hv_.TakeProbes().size(), 1u);  // asked again

  ctl_->OnVmProbe(Uuid("hot1"), {true, false, "h1"});  // ended; hot1 stayed on h1
  EXPECT_FALSE(ctl_->InFlight(Uuid("hot1")));
  // Someone else's job: nothing of ours to record.
  EXPECT_EQ(journal_.Count("migration_finished") + journal_.Count("migration_failed"), 0);
  ASSERT_TRUE(StepUntilStarts(1, 3));
  EXPECT_EQ(actuator_.started()[0].request.vm_uuid, Uuid("hot1"));
}

// KNOWN DEFECT (issue 13 a), not fixed here: a host whose libvirt answers every question with
// an error at once is asked again after query_retry, so its question is never outstanding for
// reconcile_wait, the timeout never fires, and Reconciled() stays false: no plan for any host,
// for good. Wanted: such a host is left out (neither source nor target) and the rest plans.
TEST_F(ControllerTest, FastErroringHostDoesNotBlockTheRestForever) {
  options_.reconcile_wait = 10s;
  options_.query_retry = 1s;
  auto_answer_jobs_ = false;
  HotspotCluster();
  cluster_.AddHost("h3");  // its libvirt URI is wrong: every question fails at once
  Start(MakePolicy("automatic"));
  for (int i = 0; i < 60 && actuator_.started().empty(); ++i) {
    Step();
    for (const auto& q : hv_.TakeJobQuestions()) {
      if (q.host == "h3") {
        ctl_->OnActiveJobs(q.host, Status::Unavailable("authentication failed"));
      } else {
        ctl_->OnActiveJobs(q.host, std::vector<ActiveJob>{});
      }
    }
  }
  ASSERT_FALSE(actuator_.started().empty()) << "h1's hotspot was never relieved";
  EXPECT_EQ(actuator_.started()[0].request.from_host, "h1");
  EXPECT_EQ(actuator_.started()[0].request.to_host, "h2");  // never onto the unreconciled h3
}

// --- restart: what the journal left ----------------------------------------------------

TEST_F(ControllerTest, UnfinishedMigrationFoundOnTargetIsFinishedAndCoolsDown) {
  MovedBackCandidateCluster("h2");  // it did arrive
  Start(ExcludingStay(), {StartedRecord("m-7", "mover", "h1", "h2")});
  EXPECT_FALSE(ctl_->Reconciled());
  EXPECT_TRUE(ctl_->InFlight(Uuid("mover")));

  Step(10);  // h2 is hot, every host answered; the journal's migration is not resolved
  EXPECT_EQ(ctl_->plans(), 0u);
  EXPECT_EQ(actuator_.calls(), 0);
  auto probes = hv_.TakeProbes();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].vm_uuid, Uuid("mover"));
  EXPECT_EQ(probes[0].from, "h1");
  EXPECT_EQ(probes[0].to, "h2");
  EXPECT_EQ(probes[0].from_uri, Uri("h1"));
  EXPECT_EQ(probes[0].to_uri, Uri("h2"));

  ctl_->OnVmProbe(Uuid("mover"), {false, false, ""});  // libvirt did not answer
  Step(2);
  EXPECT_EQ(ctl_->plans(), 0u);
  ASSERT_FALSE(hv_.TakeProbes().empty());  // asked again

  ctl_->OnVmProbe(Uuid("mover"), {true, false, "h2"});
  ASSERT_EQ(journal_.Count("migration_finished"), 1);
  const auto fin = journal_.Events("migration_finished")[0];
  EXPECT_EQ(fin["id"], "m-7");
  EXPECT_EQ(fin["vm_on"], "h2");
  EXPECT_EQ(fin["reconciled"], true);
  EXPECT_TRUE(ctl_->Reconciled());
  ASSERT_EQ(ctl_->recent().size(), 1u);
  EXPECT_EQ(ctl_->recent()[0].vm_uuid, Uuid("mover"));

  Step(20);  // h2 stays hot; mover is in cooldown and is not moved back
  EXPECT_GT(ctl_->plans(), 0u);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(Unrelieved("h2", core::Blocker::kCooldown));
}

TEST_F(ControllerTest, UnfinishedMigrationFoundOnSourceIsFailed) {
  MovedBackCandidateCluster("h1");  // it never left
  Start(ExcludingStay(), {StartedRecord("m-7", "mover", "h1", "h2")});
  Step(3);
  ASSERT_EQ(hv_.TakeProbes().size(), 1u);
  ctl_->OnVmProbe(Uuid("mover"), {true, false, "h1"});
  ASSERT_EQ(journal_.Count("migration_failed"), 1);
  const auto failed = journal_.Events("migration_failed")[0];
  EXPECT_EQ(failed["id"], "m-7");
  EXPECT_EQ(failed["vm_on"], "h1");
  EXPECT_EQ(failed["reconciled"], true);
  EXPECT_EQ(journal_.Count("migration_finished"), 0);
  EXPECT_TRUE(ctl_->recent().empty());
  EXPECT_EQ(ctl_->model().vm(Uuid("mover"))->host, "h1");
  EXPECT_TRUE(ctl_->Reconciled());
  EXPECT_FALSE(ctl_->InFlight(Uuid("mover")));
}

TEST_F(ControllerTest, FinishedRecordsWithinTheCooldownRestoreCooldowns) {
  MovedBackCandidateCluster("h2");
  const WallTime now = clock_.Wall();
  Start(ExcludingStay(), {StartedRecord("m-1", "old", "h1", "h2"),
                          FinishedRecord("m-1", "old", "h1", "h2", now - 2h),  // past both
                          StartedRecord("m-2", "mover", "h1", "h2"),
                          FinishedRecord("m-2", "mover", "h1", "h2", now - 60s)});
  EXPECT_TRUE(hv_.probes().empty());  // nothing left open
  ASSERT_EQ(ctl_->recent().size(), 1u);
  EXPECT_EQ(ctl_->recent()[0].vm_uuid, Uuid("mover"));
  EXPECT_EQ(ctl_->recent()[0].finished_at, now - 60s);

  Step(20);
  EXPECT_GT(ctl_->plans(), 0u);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(Unrelieved("h2", core::Blocker::kCooldown));
}

TEST_F(ControllerTest, DryRunRecordsAreNeitherCooldownsNorOpenMigrations) {
  MovedBackCandidateCluster("h2");
  const WallTime now = clock_.Wall();
  auto started = StartedRecord("m-2", "mover", "h1", "h2");
  auto finished = FinishedRecord("m-2", "mover", "h1", "h2", now - 60s);
  auto open = StartedRecord("m-3", "idle", "h1", "h2");
  for (auto* r : {&started, &finished, &open}) (*r)["dry_run"] = true;
  Start(ExcludingStay(), {started, finished, open});
  EXPECT_TRUE(ctl_->recent().empty());
  EXPECT_TRUE(ctl_->external().empty());

  ASSERT_TRUE(StepUntilStarts(1));  // nothing really moved: mover may go back
  EXPECT_TRUE(hv_.probes().empty());
  EXPECT_EQ(actuator_.started()[0].request.vm_uuid, Uuid("mover"));
  EXPECT_EQ(actuator_.started()[0].request.to_host, "h1");
}

TEST_F(ControllerTest, DryRunControllerMarksItsMigrationRecordsForTheNextStart) {
  options_.dry_run = true;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  Deliver(0, MigrationOutcome::kSucceeded);
  ASSERT_EQ(journal_.Count("migration_started"), 1);
  ASSERT_EQ(journal_.Count("migration_finished"), 1);
  EXPECT_EQ(journal_.Events("migration_started")[0]["dry_run"], true);
  EXPECT_EQ(journal_.Events("migration_finished")[0]["dry_run"], true);

  // A restart reading that journal finds neither a cooldown nor an open migration.
  std::vector<nlohmann::json> records = journal_.records();
  options_.dry_run = false;
  Start(MakePolicy("automatic"), records);
  EXPECT_TRUE(ctl_->recent().empty());
  EXPECT_TRUE(ctl_->external().empty());
}

// --- admission -------------------------------------------------------------------------

TEST_F(ControllerTest, ModeOffPlansNoMoves) {
  HotspotCluster();
  Start(MakePolicy("off"));
  Step(15);
  EXPECT_GT(ctl_->plans(), 0u);
  EXPECT_TRUE(ctl_->last_plan().moves.empty());
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_EQ(journal_.Count("recommended"), 0);
  EXPECT_EQ(journal_.Count("migration_started"), 0);
}

TEST_F(ControllerTest, RecommendJournalsTheMoveOnceAndStartsNothing) {
  HotspotCluster();
  Start(MakePolicy("recommend"));
  Step(15);
  EXPECT_FALSE(ctl_->last_plan().moves.empty());  // still planned, round after round
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_EQ(journal_.Count("migration_started"), 0);
  ASSERT_EQ(journal_.Count("recommended"), 1);
  EXPECT_EQ(observer_.recommended, 1);
  const auto rec = journal_.Events("recommended")[0];
  EXPECT_EQ(rec["from"], "h1");
  EXPECT_EQ(rec["to"], "h2");
  EXPECT_EQ(rec["reason"]["strategy"], "hotspot");
}

TEST_F(ControllerTest, AutomaticStartsThePlannedMove) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(2);  // startup grace
  EXPECT_EQ(ctl_->plans(), 0u);
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest& req = actuator_.started()[0].request;
  EXPECT_EQ(req.from_host, "h1");
  EXPECT_EQ(req.to_host, "h2");
  EXPECT_EQ(req.from_uri, Uri("h1"));
  EXPECT_EQ(req.to_uri, Uri("h2"));
  EXPECT_EQ(req.strategy, "hotspot");
  EXPECT_EQ(req.options.timeout, 120s);
  EXPECT_EQ(observer_.started, 1);
  ASSERT_EQ(ctl_->in_flight().count(req.vm_uuid), 1u);
  EXPECT_EQ(ctl_->in_flight().at(req.vm_uuid).request.id, req.id);
}

TEST_F(ControllerTest, PausedStartsNothingUntilResumed) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  EXPECT_TRUE(ctl_->SetPaused(true, "change window", "alice"));
  EXPECT_FALSE(ctl_->SetPaused(true, "again", "alice"));  // no change
  ASSERT_TRUE(state_.state().has_value());
  EXPECT_TRUE(state_.state()->paused);
  EXPECT_EQ(state_.saves(), 1);
  ASSERT_EQ(journal_.Count("paused"), 1);
  EXPECT_EQ(journal_.Events("paused")[0]["admin"], "alice");
  EXPECT_EQ(observer_.paused_changes, (std::vector<bool>{false, true}));

  Step(15);
  EXPECT_FALSE(ctl_->last_plan().moves.empty());  // planned, not started
  EXPECT_EQ(actuator_.calls(), 0);

  EXPECT_TRUE(ctl_->SetPaused(false, "", "alice"));
  EXPECT_FALSE(state_.state()->paused);
  EXPECT_EQ(journal_.Count("resumed"), 1);
  ASSERT_TRUE(StepUntilStarts(1, 2));
}

TEST_F(ControllerTest, SavedPauseIsRestoredAtStart) {
  HotspotCluster();
  state_.set_state({{}, true});
  Start(MakePolicy("automatic"));
  EXPECT_TRUE(ctl_->paused());
  EXPECT_EQ(observer_.paused_changes, (std::vector<bool>{true}));
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
}

TEST_F(ControllerTest, MaxConcurrentCountsMovesWhoseOutcomeIsNotDelivered) {
  // Two hotspots, each with a cold partner; one migration at a time.
  cluster_.AddHost("h1");
  cluster_.AddHost("h2");
  cluster_.AddHost("h3");
  cluster_.AddHost("h4");
  cluster_.AddVm("a1", "h1", 1.0);
  cluster_.AddVm("a2", "h1", 0.8);
  cluster_.AddVm("b1", "h3", 1.0);
  cluster_.AddVm("b2", "h3", 0.8);
  Start(MakePolicy("automatic", [](core::Policy& p) { p.limits.max_concurrent = 1; }));
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest first = actuator_.started()[0].request;

  // The actuator may have finished long ago: until its outcome is delivered the migration
  // is in flight, its VM is never planned again and the cap stays taken.
  for (int i = 0; i < 20; ++i) {
    Step();
    EXPECT_FALSE(Planned(first.vm_name)) << "second " << i;
  }
  EXPECT_EQ(actuator_.calls(), 1);
  EXPECT_EQ(observer_.Skipped("in_flight"), 0);  // the core already knew
  EXPECT_TRUE(Unrelieved(first.from_host == "h1" ? "h3" : "h1", core::Blocker::kClusterCap));

  Deliver(0, MigrationOutcome::kSucceeded);
  ASSERT_TRUE(StepUntilStarts(2, 3));
  EXPECT_NE(actuator_.started()[1].request.from_host, first.from_host);
  EXPECT_EQ(actuator_.StartsOf(first.vm_uuid), 1);
}

// --- outcomes --------------------------------------------------------------------------

TEST_F(ControllerTest, SuccessMovesTheVmInTheModelAtOnceAndClearsBothHistories) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest req = actuator_.started()[0].request;
  ASSERT_FALSE(ctl_->model().host("h1")->history[0].empty());
  ASSERT_FALSE(ctl_->model().host("h2")->history[0].empty());

  Deliver(0, MigrationOutcome::kSucceeded);
  // Before any collector reports it there.
  EXPECT_EQ(ctl_->model().vm(req.vm_uuid)->host, "h2");
  for (const char* h : {"h1", "h2"}) {
    for (const auto& d : ctl_->model().host(h)->history) EXPECT_TRUE(d.empty()) << h;
  }
  EXPECT_TRUE(ctl_->in_flight().empty());
  EXPECT_EQ(observer_.finished, 1);
  ASSERT_EQ(journal_.Count("migration_finished"), 1);
  const auto fin = journal_.Events("migration_finished")[0];
  EXPECT_EQ(fin["id"], req.id);
  EXPECT_EQ(fin["vm_on"], "h2");
  ASSERT_EQ(ctl_->recent().size(), 1u);
  EXPECT_EQ(ctl_->recent()[0].finished_at, clock_.Wall());
  EXPECT_EQ(ctl_->recent()[0].to, "h2");
}

// The journal says how libvirt was asked (issue 15: "the flags that libxl accepted"): the
// actuator's flags, typed parameters and whether the driver refused the optional ones.
TEST_F(ControllerTest, TheJournalKeepsTheFlagsAndParametersTheMoveUsed) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  MigrationResult r = actuator_.Outcome(0, MigrationOutcome::kSucceeded);
  r.flags = {"live", "peer2peer", "persist_dest", "undefine_source"};
  r.params = {"migrate_uri=tcp://192.168.77.2"};
  r.retried_minimal = true;
  cluster_.MoveVm(r.request.vm_uuid, r.request.to_host);
  ctl_->OnMigrationResult(r);
  ASSERT_EQ(journal_.Count("migration_finished"), 1);
  const auto fin = journal_.Events("migration_finished")[0];
  EXPECT_EQ(fin["flags"], nlohmann::json(r.flags));
  EXPECT_EQ(fin["params"], nlohmann::json(r.params));
  EXPECT_EQ(fin["retried_minimal"], true);
}

TEST_F(ControllerTest, VmCooldownHoldsOnALaterHotspot) {
  // mover leaves hot h1 for h2; then h2 turns hot while h3 has room: only the cooldown keeps
  // mover where it is.
  cluster_.AddHost("h1");
  cluster_.AddHost("h2");
  cluster_.AddHost("h3");
  cluster_.AddVm("mover", "h1", 1.0);
  cluster_.AddVm("stay1", "h1", 0.8);
  cluster_.AddVm("stay2", "h2", 0.1);
  cluster_.AddVm("stay3", "h3", 1.2);  // no room for mover yet
  Start(MakePolicy("automatic", [](core::Policy& p) {
    p.rules.exclude_vms = {"stay*"};
    p.limits.vm_cooldown = 60s;
  }));
  ASSERT_TRUE(StepUntilStarts(1));
  ASSERT_EQ(actuator_.started()[0].request.to_host, "h2");
  Deliver(0, MigrationOutcome::kSucceeded);
  const SteadyTime moved_at = clock_.Steady();
  cluster_.SetLoad("stay2", 0.8);  // h2: 90 %
  cluster_.SetLoad("stay3", 0.1);  // h3 could take mover (55 %)

  while (clock_.Steady() - moved_at < 58s) {
    Step();
    ASSERT_EQ(actuator_.calls(), 1) << "moved again within its cooldown";
  }
  EXPECT_TRUE(Unrelieved("h2", core::Blocker::kCooldown));
  ASSERT_TRUE(StepUntilStarts(2, 5));
  EXPECT_EQ(actuator_.started()[1].request.vm_uuid, Uuid("mover"));
  EXPECT_EQ(actuator_.started()[1].request.to_host, "h3");
}

TEST_F(ControllerTest, FailedMoveBacksOffThePairWithADoublingDelay) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest req = actuator_.started()[0].request;
  Deliver(0, MigrationOutcome::kFailed, "connection reset");
  SteadyTime failed_at = clock_.Steady();
  ASSERT_EQ(journal_.Count("migration_failed"), 1);
  const auto rec = journal_.Events("migration_failed")[0];
  EXPECT_EQ(rec["id"], req.id);
  EXPECT_EQ(rec["error"], "connection reset");
  EXPECT_EQ(rec["vm_on"], "h1");
  EXPECT_EQ(ctl_->model().vm(req.vm_uuid)->host, "h1");
  for (const auto& d : ctl_->model().host("h1")->history) EXPECT_TRUE(d.empty());
  EXPECT_TRUE(ctl_->recent().empty());

  // The first back-off: failure_backoff (30 s).
  ASSERT_TRUE(StepUntilStarts(2, 40));
  EXPECT_GE(clock_.Steady() - failed_at, 30s);
  EXPECT_LE(clock_.Steady() - failed_at, 31s);
  EXPECT_GT(observer_.Skipped("pair_backoff"), 20);  // every round...
  const auto skipped = journal_.Events("skipped");
  ASSERT_EQ(skipped.size(), 1u);  // ...journaled once
  EXPECT_EQ(skipped[0]["from"], "h1");
  EXPECT_EQ(skipped[0]["to"], "h2");
  EXPECT_NE(skipped[0]["skip_reason"].get<std::string>().find("connection reset"),
            std::string::npos);

  // It fails again: twice as long.
  Deliver(1, MigrationOutcome::kFailed, "connection reset");
  failed_at = clock_.Steady();
  ASSERT_TRUE(StepUntilStarts(3, 70));
  EXPECT_GE(clock_.Steady() - failed_at, 60s);
  EXPECT_LE(clock_.Steady() - failed_at, 61s);

  // A success resets the pair.
  Deliver(2, MigrationOutcome::kSucceeded);
  EXPECT_TRUE(ctl_->in_flight().empty());
}

// Seen on Xen (tests/xen/run-xen-migrate-test.sh): a target that refuses one VM (a domain of
// that name runs there) may take another. When the pair's back-off ends, the planner moves
// another VM of the hot host; the one that failed waits three back-offs.
TEST_F(ControllerTest, AfterAFailedMoveAnotherVmRelievesTheHostFirst) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const std::string first = actuator_.started()[0].request.vm_uuid;
  Deliver(0, MigrationOutcome::kFailed, "domain 'hot1' already exists with uuid 0000");
  const SteadyTime failed_at = clock_.Steady();
  ASSERT_TRUE(StepUntilStarts(2, 40));
  EXPECT_LE(clock_.Steady() - failed_at, 31s) << "waited past the pair's back-off";
  EXPECT_NE(actuator_.started()[1].request.vm_uuid, first) << "the failed VM was tried again";
  EXPECT_EQ(actuator_.started()[1].request.to_host, "h2");
}

TEST_F(ControllerTest, AbortedMoveBacksOffThePair) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  Deliver(0, MigrationOutcome::kAborted, "did not complete within 120000 ms; aborted");
  ASSERT_EQ(journal_.Count("migration_aborted"), 1);
  EXPECT_EQ(journal_.Events("migration_aborted")[0]["vm_on"], "h1");
  Step(20);
  EXPECT_EQ(actuator_.calls(), 1);
  EXPECT_GT(observer_.Skipped("pair_backoff"), 0);
  EXPECT_EQ(journal_.Count("skipped"), 1);
}

TEST_F(ControllerTest, VerificationMismatchIsJournaledWithWhereTheVmRuns) {
  HotspotCluster();
  Start(MakePolicy("automatic", [](core::Policy& p) { p.limits.max_concurrent = 4; }));
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest req = actuator_.started()[0].request;

  // libvirt said success, the VM is not running on the target: still on the source.
  MigrationResult r = actuator_.Outcome(0, MigrationOutcome::kFailed,
                                        "libvirt reported success but it is not running on h2");
  r.vm_on = "h1";
  ctl_->OnMigrationResult(r);
  ASSERT_EQ(journal_.Count("migration_failed"), 1);
  EXPECT_EQ(journal_.Events("migration_failed")[0]["vm_on"], "h1");
  EXPECT_EQ(ctl_->model().vm(req.vm_uuid)->host, "h1");
  EXPECT_TRUE(ctl_->recent().empty());

  // After the back-off, again; this time it runs nowhere.
  ASSERT_TRUE(StepUntilStarts(2, 40));
  r = actuator_.Outcome(1, MigrationOutcome::kFailed, "not running on h1 any more");
  r.vm_on = "";
  ctl_->OnMigrationResult(r);
  ASSERT_EQ(journal_.Count("migration_failed"), 2);
  const auto rec = journal_.Events("migration_failed")[1];
  EXPECT_EQ(rec["id"], actuator_.started()[1].request.id);
  ASSERT_TRUE(rec.contains("vm_on"));
  EXPECT_EQ(rec["vm_on"], "");
  EXPECT_TRUE(ctl_->recent().empty());
}

// BUG (reported to the lead, not fixed here): a failed outcome whose VM is found running on
// the TARGET (libvirt_actuator.cc returns kFailed with vm_on = to_host when the source lost
// the domain and the target has it, or when LocateAfterFailure finds it there) is treated as
// "still on the source": no recent migration, so no vm_cooldown and no return_cooldown; the
// model keeps the VM on the source. Only the pair back-off (failure_backoff, 30 s) holds it,
// after which it may be moved straight back. A restart's reconciliation treats the same fact
// (VM on the target) as migration_finished with a cooldown (OnVmProbe).
TEST_F(ControllerTest, FailedOutcomeWithTheVmOnTheTargetStartsItsCooldown) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest req = actuator_.started()[0].request;
  MigrationResult r = actuator_.Outcome(0, MigrationOutcome::kFailed, "job reported an error");
  r.vm_on = req.to_host;
  cluster_.MoveVm(req.vm_uuid, req.to_host);  // it did arrive
  ctl_->OnMigrationResult(r);
  EXPECT_EQ(ctl_->model().vm(req.vm_uuid)->host, req.to_host);
  ASSERT_EQ(ctl_->recent().size(), 1u);
  EXPECT_EQ(ctl_->recent()[0].vm_uuid, req.vm_uuid);
}

TEST_F(ControllerTest, OutcomeForAnUnknownIdIsIgnored) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const std::size_t records = journal_.size();

  MigrationResult stale = actuator_.Outcome(0, MigrationOutcome::kSucceeded);
  stale.request.id = "m-1";  // an older attempt of the same VM
  ctl_->OnMigrationResult(stale);
  MigrationResult stranger = actuator_.Outcome(0, MigrationOutcome::kFailed);
  stranger.request.vm_uuid = "uuid-nobody";
  ctl_->OnMigrationResult(stranger);

  EXPECT_EQ(journal_.size(), records);
  EXPECT_EQ(observer_.finished, 0);
  EXPECT_EQ(ctl_->in_flight().size(), 1u);
  EXPECT_EQ(ctl_->model().vm(actuator_.started()[0].request.vm_uuid)->host, "h1");
  EXPECT_TRUE(ctl_->recent().empty());
}

// --- drain -----------------------------------------------------------------------------

TEST_F(ControllerTest, MaintenanceDrainsTheHostAndSavesTheState) {
  cluster_.AddHost("h1");
  cluster_.AddHost("h2");
  cluster_.AddHost("h3");
  cluster_.AddVm("a", "h1", 0.2);
  cluster_.AddVm("b", "h1", 0.2);
  cluster_.AddVm("c", "h2", 0.1);
  cluster_.AddVm("d", "h3", 0.1);
  Start(MakePolicy("automatic"));
  Step(5);
  EXPECT_EQ(actuator_.calls(), 0);  // nothing hot

  auto changed = ctl_->SetMaintenance("h1", true, "bob");
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  ASSERT_TRUE(state_.state().has_value());
  EXPECT_EQ(state_.state()->maintenance, std::set<std::string>{"h1"});
  ASSERT_EQ(journal_.Count("drain_requested"), 1);
  EXPECT_EQ(journal_.Events("drain_requested")[0]["host"], "h1");
  EXPECT_EQ(journal_.Events("drain_requested")[0]["admin"], "bob");
  auto again = ctl_->SetMaintenance("h1", true, "bob");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(state_.saves(), 1);

  for (std::size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(StepUntilStarts(i + 1, 3)) << "move " << i;
    const MigrationRequest& req = actuator_.started()[i].request;
    EXPECT_EQ(req.from_host, "h1");
    EXPECT_NE(req.to_host, "h1");
    EXPECT_EQ(req.strategy, "drain");
    Deliver(i, MigrationOutcome::kSucceeded);
  }
  EXPECT_TRUE(ctl_->model().host("h1")->vm_uuids.empty());
  Step(5);
  EXPECT_EQ(actuator_.calls(), 2);

  auto undrained = ctl_->SetMaintenance("h1", false, "bob");
  ASSERT_TRUE(undrained.ok());
  EXPECT_TRUE(*undrained);
  EXPECT_TRUE(state_.state()->maintenance.empty());
  EXPECT_EQ(journal_.Count("undrain_requested"), 1);
}

TEST_F(ControllerTest, MaintenanceOfAnUnknownHostIsNotFound) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step();
  auto r = ctl_->SetMaintenance("h9", true, "bob");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(state_.saves(), 0);
  EXPECT_EQ(journal_.Count("drain_requested"), 0);
  EXPECT_TRUE(ctl_->maintenance().empty());
}

// --- the journal first -----------------------------------------------------------------

TEST_F(ControllerTest, MigrationStartedIsJournaledBeforeTheActuatorStarts) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const auto& s = actuator_.started()[0];
  ASSERT_TRUE(s.last_journal_record.is_object());
  EXPECT_EQ(s.last_journal_record["event"], "migration_started");
  EXPECT_EQ(s.last_journal_record["id"], s.request.id);
  EXPECT_EQ(s.last_journal_record["vm_uuid"], s.request.vm_uuid);
  EXPECT_EQ(s.last_journal_record["from_uri"], Uri("h1"));  // what a restart needs to probe
  EXPECT_EQ(s.last_journal_record["to_uri"], Uri("h2"));
  EXPECT_EQ(s.journal_records, journal_.size());  // nothing after it yet

  Deliver(0, MigrationOutcome::kSucceeded);
  const auto names = journal_.EventNames();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[names.size() - 2], "migration_started");
  EXPECT_EQ(names.back(), "migration_finished");
}

TEST_F(ControllerTest, NothingStartsWhileTheJournalFails) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  journal_.set_fail(true);
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(ctl_->in_flight().empty());
  EXPECT_GT(observer_.Skipped("journal_unavailable"), 0);
  EXPECT_EQ(observer_.started, 0);

  journal_.set_fail(false);
  ASSERT_TRUE(StepUntilStarts(1, 2));
  EXPECT_EQ(actuator_.started()[0].last_journal_record["event"], "migration_started");
}

// Issue 13 c: a journal that cannot be written stops every start (not only the one whose
// record failed): the controller is recommend-only until a write succeeds again, says so
// once, and resumes by itself with a journal_resumed record.
TEST_F(ControllerTest, JournalDownMeansRecommendOnlyUntilItResumes) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  journal_.set_fail(true);
  // The first write that fails (the hotspot's migration_started) turns it recommend-only.
  Step(15);
  EXPECT_FALSE(ctl_->journal_ok());
  ASSERT_EQ(observer_.journal_health, std::vector<bool>({false}));
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_GT(ctl_->plans(), 1u);  // planning goes on
  EXPECT_GT(observer_.Skipped("journal_unavailable"), 1);
  journal_.set_fail(false);
  ASSERT_TRUE(StepUntil([&] { return ctl_->journal_ok(); }, 3));
  EXPECT_EQ(observer_.journal_health, std::vector<bool>({false, true}));
  EXPECT_EQ(journal_.Count("journal_resumed"), 1);
  ASSERT_TRUE(StepUntilStarts(1, 3));
}

// Issue 13 c: an outcome that arrives while the journal is down is not lost: it is written,
// in order, once the journal takes records again (a restart needs it for cooldowns).
TEST_F(ControllerTest, OutcomesDuringAJournalOutageAreWrittenWhenItComesBack) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  journal_.set_fail(true);
  Deliver(0, MigrationOutcome::kSucceeded);
  EXPECT_EQ(journal_.Count("migration_finished"), 0);
  Step(2);
  journal_.set_fail(false);
  ASSERT_TRUE(StepUntil([&] { return ctl_->journal_ok(); }, 3));
  ASSERT_EQ(journal_.Count("migration_finished"), 1);
  const auto names = journal_.EventNames();
  const auto finished = std::find(names.begin(), names.end(), "migration_finished");
  const auto resumed = std::find(names.begin(), names.end(), "journal_resumed");
  EXPECT_LT(finished - names.begin(), resumed - names.begin())
      << "what waited is written before the journal says it resumed";
}

// Issue 13 e: a host silent for retire_after is forgotten with its VMs, journaled; it joins
// again (and is reconciled again) when it reports.
TEST_F(ControllerTest, SilentHostIsRetiredWithItsVmsAndRejoinsLater) {
  options_.retire_after = 60s;
  HotspotCluster();
  Start(MakePolicy("recommend"));
  Step(3);
  ASSERT_NE(ctl_->model().host("h2"), nullptr);
  cluster_.Silence("h2", true);
  Step(30);
  EXPECT_TRUE(ctl_->model().host("h2")->stale);
  EXPECT_EQ(journal_.Count("host_retired"), 0);
  Step(35);
  EXPECT_EQ(ctl_->model().host("h2"), nullptr);
  EXPECT_EQ(ctl_->model().vm(Uuid("cold1")), nullptr);
  ASSERT_EQ(journal_.Count("host_retired"), 1);
  EXPECT_EQ(journal_.Events("host_retired")[0]["vms_forgotten"], 1);
  EXPECT_EQ(ctl_->model().hosts().size(), 1u);
  cluster_.Silence("h2", false);
  Step(2);
  ASSERT_NE(ctl_->model().host("h2"), nullptr);
  EXPECT_NE(ctl_->model().vm(Uuid("cold1")), nullptr);
  EXPECT_TRUE(ctl_->Reconciled());  // asked again and answered (auto_answer_jobs_)
}

// A host retired while its question about running migrations was still open: the late
// answer is about a host the controller has forgotten, so it must not count for the host when
// it joins again. Asked afresh; planning waits for that answer.
TEST_F(ControllerTest, LateJobsAnswerForARetiredHostDoesNotReconcileItsReturn) {
  options_.retire_after = 60s;
  options_.reconcile_wait = 600s;  // the question stays open; no timeout reconciles it
  HotspotCluster();
  Start(MakePolicy("recommend"));
  Step(3);
  ASSERT_TRUE(ctl_->Reconciled());
  cluster_.Silence("h2", true);  // retired once, answered as usual
  Step(70);
  ASSERT_EQ(ctl_->model().host("h2"), nullptr);
  auto_answer_jobs_ = false;
  cluster_.Silence("h2", false);
  Step(2);  // joins again: asked, and libvirt does not answer yet
  const int asked = hv_.JobQuestionsFor("h2");
  ASSERT_GE(asked, 2);
  EXPECT_FALSE(ctl_->Reconciled());
  cluster_.Silence("h2", true);
  Step(70);  // retired again with its question open
  ASSERT_EQ(ctl_->model().host("h2"), nullptr);
  AnswerJobs();  // the late answer: no job (about a host now forgotten)
  cluster_.Silence("h2", false);
  Step(2);
  ASSERT_NE(ctl_->model().host("h2"), nullptr);
  EXPECT_EQ(hv_.JobQuestionsFor("h2"), asked + 1) << "asked afresh when it joins again";
  EXPECT_FALSE(ctl_->Reconciled()) << "the late answer must not reconcile its return";
  AnswerJobs();
  EXPECT_TRUE(ctl_->Reconciled());
}

TEST_F(ControllerTest, RefusedStartIsJournaledAsFailed) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  actuator_.set_refuse(true);
  ASSERT_TRUE(StepUntil([&] { return actuator_.calls() >= 1; }, 20));
  const auto names = journal_.EventNames();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[names.size() - 2], "migration_started");
  EXPECT_EQ(names.back(), "migration_failed");
  const auto started = journal_.Events("migration_started")[0];
  const auto failed = journal_.Events("migration_failed")[0];
  EXPECT_EQ(failed["id"], started["id"]);
  EXPECT_EQ(failed["error"], "actuator refuses (injected)");
  EXPECT_TRUE(ctl_->in_flight().empty());
  EXPECT_EQ(observer_.started, 0);
}

// --- saved state -----------------------------------------------------------------------

TEST_F(ControllerTest, UnreadableStateStartsPausedAndSaysSo) {
  HotspotCluster();
  state_.set_fail_load(true);
  Start(MakePolicy("automatic"));
  EXPECT_TRUE(ctl_->paused());
  EXPECT_EQ(observer_.paused_changes, (std::vector<bool>{true}));
  ASSERT_EQ(journal_.Count("state_unreadable"), 1);
  const auto rec = journal_.Events("state_unreadable")[0];
  EXPECT_EQ(rec["paused"], true);
  EXPECT_NE(rec["error"].get<std::string>().find("not JSON"), std::string::npos);
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
}

// --- manual moves ----------------------------------------------------------------------

TEST_F(ControllerTest, ManualMoveRefusedByARuleIsJournaled) {
  HotspotCluster();
  Start(MakePolicy("automatic", [](core::Policy& p) { p.rules.exclude_vms = {"hot2"}; }));
  ctl_->SetPaused(true, "", "carol");  // manual moves do not wait for automation
  Step(3);
  ManualMoveResult r = ctl_->StartManualMove(Uuid("hot2"), "h2", false, "carol");
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error_code, "refused");
  EXPECT_EQ(r.check.rule, "excluded_vm");
  EXPECT_TRUE(r.check.forceable);
  EXPECT_EQ(actuator_.calls(), 0);
  ASSERT_EQ(journal_.Count("manual_refused"), 1);
  const auto rec = journal_.Events("manual_refused")[0];
  EXPECT_EQ(rec["rule"], "excluded_vm");
  EXPECT_EQ(rec["admin"], "carol");
  EXPECT_EQ(rec["force"], false);
}

TEST_F(ControllerTest, ManualMoveAllowed) {
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ctl_->SetPaused(true, "", "carol");
  Step(3);
  ManualMoveResult r = ctl_->StartManualMove(Uuid("hot2"), "h2", false, "carol");
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_TRUE(r.check.allowed);
  ASSERT_EQ(actuator_.started().size(), 1u);
  EXPECT_EQ(actuator_.started()[0].request.strategy, "manual");
  EXPECT_EQ(actuator_.started()[0].request.id, r.request.id);
  EXPECT_EQ(actuator_.started()[0].last_journal_record["event"], "migration_started");
  EXPECT_EQ(actuator_.started()[0].last_journal_record["manual"], true);
  EXPECT_EQ(actuator_.started()[0].last_journal_record["forced"], false);
  EXPECT_EQ(observer_.manual_started, 1);
  EXPECT_TRUE(ctl_->InFlight(Uuid("hot2")));

  // A second request for a VM in flight is refused.
  ManualMoveResult again = ctl_->StartManualMove(Uuid("hot2"), "h2", false, "carol");
  EXPECT_FALSE(again.started);
  EXPECT_EQ(again.check.rule, "in_flight");
}

TEST_F(ControllerTest, ManualMoveForcedOverAForceableRule) {
  HotspotCluster();
  Start(MakePolicy("automatic", [](core::Policy& p) { p.rules.exclude_vms = {"hot2"}; }));
  ctl_->SetPaused(true, "", "carol");
  Step(3);
  ManualMoveResult r = ctl_->StartManualMove(Uuid("hot2"), "h2", true, "carol");
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.check.allowed);
  EXPECT_NE(r.explanation.find("overridden with --force"), std::string::npos);
  ASSERT_EQ(actuator_.started().size(), 1u);
  const auto& rec = actuator_.started()[0].last_journal_record;
  EXPECT_EQ(rec["forced"], true);
  EXPECT_EQ(rec["reason"]["overridden_rule"], "excluded_vm");
  EXPECT_EQ(journal_.Count("manual_refused"), 0);
}

TEST_F(ControllerTest, ManualMoveCannotForceAStaleTargetNorSkipReconciliation) {
  auto_answer_jobs_ = false;
  HotspotCluster();
  cluster_.AddHost("h3");
  Start(MakePolicy("automatic"));
  ctl_->SetPaused(true, "", "carol");
  Step();
  ManualMoveResult early = ctl_->StartManualMove(Uuid("hot1"), "h2", true, "carol");
  EXPECT_FALSE(early.started);
  EXPECT_EQ(early.error_code, "unavailable");
  AnswerJobs();

  cluster_.Silence("h3", true);
  Step(5);
  ASSERT_TRUE(ctl_->model().host("h3")->stale);
  ManualMoveResult r = ctl_->StartManualMove(Uuid("hot1"), "h3", true, "carol");
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error_code, "refused");
  EXPECT_EQ(r.check.rule, "stale_target");
  EXPECT_FALSE(r.check.forceable);
  ManualMoveResult unknown = ctl_->StartManualMove("uuid-nobody", "h2", false, "carol");
  EXPECT_EQ(unknown.error_code, "not_found");
  // Whatever the hotspot planner did meanwhile, the stale host received nothing.
  for (const auto& s : actuator_.started()) EXPECT_NE(s.request.to_host, "h3");
}

// --- the host inventory: the balancer's endpoints are the admin's, not the samples' -------

TEST_F(ControllerTest, TargetClaimingAnotherUriIsLeftOutUntilItsClaimsMatch) {
  HotspotCluster();
  // h2, the only target, claims h1's libvirt URI (as a stolen key might).
  cluster_.Claim("h2", Uri("h1"));
  Start(MakePolicy("automatic"));
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_EQ(hv_.JobQuestionsFor("h2"), 0);  // its libvirt is not even asked
  ASSERT_EQ(ctl_->claims_mismatch().count("h2"), 1u);
  EXPECT_EQ(ctl_->claims_mismatch().at("h2").reason, "libvirt_uri");
  EXPECT_EQ(ctl_->claims_mismatch().at("h2").claimed_uri, Uri("h1"));
  EXPECT_EQ(observer_.claims_mismatch, 1);
  EXPECT_TRUE(Unrelieved("h1", core::Blocker::kNoTarget));  // h2 counts as no target at all
  // Said once, not every sample.
  ASSERT_EQ(journal_.Count("host_claims_mismatch"), 1);
  const auto r = journal_.Events("host_claims_mismatch")[0];
  EXPECT_EQ(r["host"], "h2");
  EXPECT_EQ(r["claimed_libvirt_uri"], Uri("h1"));
  EXPECT_EQ(r["inventory_libvirt_uri"], Uri("h2"));

  cluster_.Claim("h2", "");  // fixed
  ASSERT_TRUE(StepUntilStarts(1, 20));
  EXPECT_EQ(journal_.Count("host_claims_match"), 1);
  EXPECT_EQ(observer_.claims_mismatch, 0);
  EXPECT_TRUE(ctl_->claims_mismatch().empty());
  const MigrationRequest& q = actuator_.started()[0].request;
  EXPECT_EQ(q.from_host, "h1");
  EXPECT_EQ(q.to_host, "h2");
  EXPECT_EQ(q.from_uri, Uri("h1"));
  EXPECT_EQ(q.to_uri, Uri("h2"));
  EXPECT_EQ(q.to_migration_address, "127.0.0.1");
}

TEST_F(ControllerTest, SourceClaimingAnotherMigrationAddressKeepsItsVms) {
  HotspotCluster();
  cluster_.Claim("h1", Uri("h1"), "203.0.113.9");
  Start(MakePolicy("automatic"));
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
  ASSERT_EQ(ctl_->claims_mismatch().count("h1"), 1u);
  EXPECT_EQ(ctl_->claims_mismatch().at("h1").reason, "migration_address");
  EXPECT_EQ(journal_.Count("host_claims_mismatch"), 1);
}

TEST_F(ControllerTest, HostNotInTheInventoryIsNeitherSourceNorTarget) {
  options_.inventory = HostInventory();
  options_.inventory.Add("h1", {Uri("h1"), "127.0.0.1"});  // h2 is not listed
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
  ASSERT_EQ(ctl_->claims_mismatch().count("h2"), 1u);
  EXPECT_EQ(ctl_->claims_mismatch().at("h2").reason, "not_in_inventory");
  EXPECT_FALSE(ctl_->EndpointsOf("h2").has_value());
  // Nor by hand, even forced.
  auto r = ctl_->StartManualMove(Uuid("cold1"), "h1", /*force=*/true, "alice");
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error_code, "refused");
  EXPECT_EQ(actuator_.calls(), 0);
}

TEST_F(ControllerTest, EmptyInventoryMovesNothing) {
  options_.inventory = HostInventory();
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(15);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_EQ(ctl_->claims_mismatch().size(), 2u);
  EXPECT_EQ(hv_.job_questions().size(), 0u);
}

TEST_F(ControllerTest, TrustingClaimsUsesTheSamplesEndpoints) {
  options_.inventory = HostInventory::TrustCollectorClaims();
  HotspotCluster();
  cluster_.Claim("h2", "qemu+tls://elsewhere/system", "198.51.100.7");
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  EXPECT_TRUE(ctl_->claims_mismatch().empty());
  EXPECT_EQ(actuator_.started()[0].request.to_uri, "qemu+tls://elsewhere/system");
  EXPECT_EQ(actuator_.started()[0].request.to_migration_address, "198.51.100.7");
}

TEST_F(ControllerTest, WireStringsInAMismatchAreBoundedAndEscaped) {
  HotspotCluster();
  cluster_.Claim("h2", "qemu://x\n\x1b[31mFAKE LOG LINE" + std::string(5000, 'a'));
  Start(MakePolicy("automatic"));
  Step(3);
  ASSERT_EQ(journal_.Count("host_claims_mismatch"), 1);
  const std::string claimed = journal_.Events("host_claims_mismatch")[0]["claimed_libvirt_uri"];
  EXPECT_LE(claimed.size(), 256u + 3);
  EXPECT_EQ(claimed.find('\n'), std::string::npos);
  EXPECT_EQ(claimed.find('\x1b'), std::string::npos);
  EXPECT_NE(claimed.find("\\x0a"), std::string::npos);
}

TEST_F(ControllerTest, JournaledMigrationIsProbedAtTheInventoryUrisNotTheJournaledOnes) {
  MovedBackCandidateCluster("h2");
  // A previous run (before the inventory) journaled URIs that came from samples.
  nlohmann::json started = StartedRecord("m-7", "mover", "h1", "h2");
  started["from_uri"] = "qemu+tcp://attacker.example/system";
  started["to_uri"] = "qemu+tcp://attacker.example/system";
  Start(ExcludingStay(), {started});
  Step(3);
  auto probes = hv_.TakeProbes();
  ASSERT_FALSE(probes.empty());
  EXPECT_EQ(probes[0].from_uri, Uri("h1"));
  EXPECT_EQ(probes[0].to_uri, Uri("h2"));
}

TEST_F(ControllerTest, MismatchedHostIsNotAskedForJobsAndDoesNotBlockReconciliation) {
  auto_answer_jobs_ = false;
  options_.reconcile_wait = 60s;
  HotspotCluster();
  cluster_.AddHost("h3");
  cluster_.Claim("h3", Uri("h3"), "192.0.2.1");
  Start(MakePolicy("automatic"));
  Step();
  for (const auto& q : hv_.TakeJobQuestions()) {
    EXPECT_NE(q.host, "h3");
    EXPECT_EQ(q.uri, Uri(q.host));
    ctl_->OnActiveJobs(q.host, std::vector<ActiveJob>{});
  }
  EXPECT_TRUE(ctl_->Reconciled());  // h3 does not hold planning back
  ASSERT_TRUE(StepUntilStarts(1));
  EXPECT_EQ(actuator_.started()[0].request.to_host, "h2");  // never the roomier h3
}

// --- a VM reported by two hosts at once ------------------------------------------------

TEST_F(ControllerTest, VmReportedByTwoHostsIsNotMovedAndFlaggedUntilItResolves) {
  options_.duplicate_vm_grace = 5s;
  HotspotCluster();
  // h2 lists hot1 too (paused, so the model keeps it on h1, where it runs): hot1 is the only
  // VM that could relieve h1 (hot2 is excluded).
  cluster_.AlsoReport("hot1", "h2");
  Start(MakePolicy("automatic", [](core::Policy& p) { p.rules.exclude_vms = {"hot2"}; }));
  Step(3);
  EXPECT_EQ(ctl_->vm_conflicts(), 0u);  // within the grace: not flagged yet...
  ASSERT_EQ(ctl_->duplicate_vms().count(Uuid("hot1")), 1u);
  Step(12);
  EXPECT_EQ(actuator_.calls(), 0);  // ...but never moved
  EXPECT_TRUE(Unrelieved("h1", core::Blocker::kDuplicateVm));
  EXPECT_EQ(ctl_->vm_conflicts(), 1u);
  EXPECT_EQ(observer_.vm_conflicts, 1);
  ASSERT_EQ(journal_.Count("vm_conflict"), 1);  // once
  EXPECT_EQ(journal_.Events("vm_conflict")[0]["hosts"], nlohmann::json::array({"h1", "h2"}));
  // Not by hand either.
  auto manual = ctl_->StartManualMove(Uuid("hot1"), "h2", /*force=*/true, "alice");
  EXPECT_FALSE(manual.started);
  EXPECT_EQ(manual.error_code, "refused");

  cluster_.AlsoReport("hot1", "");  // h2 stops listing it
  ASSERT_TRUE(StepUntilStarts(1, 20));
  EXPECT_EQ(actuator_.started()[0].request.vm_uuid, Uuid("hot1"));
  EXPECT_EQ(journal_.Count("vm_conflict_cleared"), 1);
  EXPECT_EQ(ctl_->vm_conflicts(), 0u);
  EXPECT_EQ(observer_.vm_conflicts, 0);
  EXPECT_TRUE(ctl_->duplicate_vms().empty());
}

TEST_F(ControllerTest, OwnMigrationListingTheVmOnBothHostsIsNoConflict) {
  options_.duplicate_vm_grace = 5s;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntilStarts(1));
  const MigrationRequest q = actuator_.started()[0].request;
  // Mid-migration libvirt lists the VM on the target (paused) for longer than the grace.
  cluster_.AlsoReport(cluster_.NameOf(q.vm_uuid), q.to_host);
  Step(20);
  EXPECT_TRUE(ctl_->duplicate_vms().empty());
  // Done: the target runs it; the source's last samples still list it for a moment.
  cluster_.AlsoReport(cluster_.NameOf(q.vm_uuid), "");
  Deliver(0, MigrationOutcome::kSucceeded);
  cluster_.AlsoReport(cluster_.NameOf(q.vm_uuid), q.from_host, VmState::kRunning);
  Step(2);
  cluster_.AlsoReport(cluster_.NameOf(q.vm_uuid), "");
  Step(10);
  EXPECT_EQ(journal_.Count("vm_conflict"), 0);
  EXPECT_EQ(ctl_->vm_conflicts(), 0u);
  EXPECT_TRUE(ctl_->duplicate_vms().empty());
}

TEST_F(ControllerTest, DuplicateEndsWhenOneOfItsHostsGoesStale) {
  options_.duplicate_vm_grace = 2s;
  HotspotCluster();
  cluster_.AlsoReport("cold1", "h1");
  Start(MakePolicy("automatic"));
  Step(5);
  ASSERT_EQ(ctl_->vm_conflicts(), 1u);
  cluster_.Silence("h1", true);
  Step(10);
  EXPECT_EQ(ctl_->vm_conflicts(), 0u);
  EXPECT_EQ(journal_.Count("vm_conflict_cleared"), 1);
}

}  // namespace
}  // namespace ballast::controller

// --- high availability: standby, fence, takeover -------------------------------------------

namespace ballast::controller {
namespace {

TEST_F(ControllerTest, StandbyPlansButStartsNothingAndAsksNoFence) {
  ha_ = true;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(15);
  EXPECT_TRUE(Planned("hot1")) << "a standby keeps a warm plan";
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(coordinator_.requests().empty());
  EXPECT_EQ(journal_.Count("migration_started"), 0);
  EXPECT_GT(observer_.Skipped("standby"), 0);
}

TEST_F(ControllerTest, NewLeaderFencesItsFirstMoveWithinOneIntervalFromItsWarmModel) {
  ha_ = true;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(15);  // a standby all along: histories full, h1 hot
  const std::uint64_t plans = ctl_->plans();
  ctl_->TakeOver(std::nullopt, {});
  coordinator_.set_leading(true);
  Step();  // the policy's interval is 1 s
  EXPECT_EQ(ctl_->plans(), plans + 1);
  ASSERT_EQ(coordinator_.requests().size(), 1u);
  EXPECT_EQ(coordinator_.requests()[0].vm_uuid, Uuid("hot1"));
  EXPECT_EQ(coordinator_.requests()[0].record.value("event", ""), "migration_started");
  // Nothing started or journaled as started before the fence answers.
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_EQ(journal_.Count("migration_started"), 0);
  EXPECT_TRUE(ctl_->InFlight(Uuid("hot1")));
  Step(3);
  EXPECT_EQ(coordinator_.requests().size(), 1u) << "a move waiting for its fence is in flight";

  const auto req = coordinator_.TakeRequests().at(0);
  ctl_->OnMoveFenced(req.id, Status::Ok());
  ASSERT_EQ(actuator_.started().size(), 1u);
  EXPECT_EQ(actuator_.started()[0].request.id, req.id);
  EXPECT_EQ(actuator_.started()[0].last_journal_record.value("event", ""), "migration_started");
  Deliver(0, MigrationOutcome::kSucceeded);
  ASSERT_EQ(coordinator_.finished().size(), 1u);
  EXPECT_EQ(coordinator_.finished()[0].first, req.id);
  EXPECT_EQ(coordinator_.finished()[0].second.value("event", ""), "migration_finished");
}

TEST_F(ControllerTest, RefusedFenceStartsNothingAndIsJournaled) {
  ha_ = true;
  coordinator_.set_leading(true);  // it believes it leads (say, it was frozen past its lease)
  HotspotCluster();
  Start(MakePolicy("automatic"));
  ASSERT_TRUE(StepUntil([&] { return !coordinator_.requests().empty(); }, 20));
  const auto req = coordinator_.TakeRequests().at(0);
  ctl_->OnMoveFenced(req.id, Status::FailedPrecondition("leader key has another term"));
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_EQ(journal_.Count("migration_started"), 0);
  ASSERT_EQ(journal_.Count("move_fenced"), 1);
  EXPECT_EQ(journal_.Events("move_fenced")[0].value("id", ""), req.id);
  EXPECT_EQ(observer_.Skipped("fenced"), 1);
  EXPECT_FALSE(ctl_->InFlight(Uuid("hot1")));
  // It steps down: no further fence asked, nothing started.
  coordinator_.set_leading(false);
  Step(5);
  EXPECT_TRUE(coordinator_.TakeRequests().empty());
  EXPECT_EQ(actuator_.calls(), 0);
}

TEST_F(ControllerTest, ManualMoveOnAStandbyIsRefused) {
  ha_ = true;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(5);
  const ManualMoveResult r = ctl_->StartManualMove(Uuid("cold1"), "h1", false, "alice");
  EXPECT_FALSE(r.started);
  EXPECT_EQ(actuator_.calls(), 0);
  EXPECT_TRUE(coordinator_.requests().empty());
}

TEST_F(ControllerTest, TakeOverAdoptsThePreviousLeadersMoveAndNeverRepeatsIt) {
  ha_ = true;
  HotspotCluster();
  Start(MakePolicy("automatic"));
  Step(15);
  // The previous leader started hot1 h1 -> h2 and died; its intent record is in etcd.
  ctl_->TakeOver(PersistedState{{"h3"}, false}, {StartedRecord("m-old", "hot1", "h1", "h2")});
  coordinator_.set_leading(true);
  EXPECT_FALSE(ctl_->Reconciled());
  EXPECT_EQ(ctl_->maintenance(), std::set<std::string>{"h3"});
  const std::uint64_t plans = ctl_->plans();
  Step(3);
  EXPECT_EQ(ctl_->plans(), plans) << "no plan before the adopted move is resolved";
  EXPECT_TRUE(coordinator_.requests().empty());
  ASSERT_EQ(hv_.ProbesFor(Uuid("hot1")), 1);
  // libvirt: it completed; the VM runs on h2 now.
  cluster_.MoveVm(Uuid("hot1"), "h2");
  ctl_->OnVmProbe(Uuid("hot1"), {true, false, "h2"});
  ASSERT_EQ(journal_.Count("migration_finished"), 1);
  EXPECT_TRUE(journal_.Events("migration_finished")[0].value("reconciled", false));
  ASSERT_EQ(coordinator_.finished().size(), 1u);
  EXPECT_EQ(coordinator_.finished()[0].first, "m-old");
  Step(10);
  for (const auto& r : coordinator_.requests()) EXPECT_NE(r.vm_uuid, Uuid("hot1"));
  EXPECT_EQ(actuator_.StartsOf(Uuid("hot1")), 0);
}

TEST_F(ControllerTest, TakeOverRestoresCooldownsFromFinishedRecords) {
  ha_ = true;
  MovedBackCandidateCluster("h2");
  Start(ExcludingStay());
  Step(15);
  // mover went h1 -> h2 a minute ago under the previous leader: h2 is hot, but the return
  // cooldown holds it.
  ctl_->TakeOver(std::nullopt, {FinishedRecord("m-old", "mover", "h1", "h2",
                                               clock_.Wall() - std::chrono::minutes(1))});
  coordinator_.set_leading(true);
  Step(10);
  EXPECT_TRUE(coordinator_.requests().empty());
  EXPECT_FALSE(Planned("mover"));
}

}  // namespace
}  // namespace ballast::controller
