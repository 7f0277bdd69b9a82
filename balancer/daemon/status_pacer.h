#ifndef BALLAST_BALANCER_DAEMON_STATUS_PACER_H_
#define BALLAST_BALANCER_DAEMON_STATUS_PACER_H_

#include <algorithm>
#include <chrono>

namespace ballast {

// When the daemon rewrites its status file. The file lists every VM, so at 10,000 hosts a
// write costs a good part of a second; the pacer spaces writes so they never take more than a
// twentieth of the balancer's CPU, whatever status_interval asks, and never further apart than
// kMaxGap.
//
// The cost it paces on is the CPU the write used, not the wall time it spanned: a process that
// was stopped (SIGSTOP, a VM pause) or preempted mid-write must not stretch the gap to minutes.
class StatusPacer {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr int kCpuShare = 20;  // a write costs at most 1/20 of the time between writes
  static constexpr Duration kMaxGap = std::chrono::seconds(60);

  explicit StatusPacer(Duration interval) : interval_(interval) {}

  bool Due(TimePoint now) const { return now >= next_; }

  // A write that started at `started` used `cpu` of this thread's CPU time.
  void Wrote(TimePoint started, Duration cpu) { next_ = started + Gap(cpu); }

  Duration Gap(Duration cpu) const {
    return std::clamp<Duration>(kCpuShare * cpu, interval_, std::max(interval_, kMaxGap));
  }
  // True when a write of this cost stretches the gap beyond status_interval.
  bool Stretched(Duration cpu) const { return Gap(cpu) > interval_; }

 private:
  Duration interval_;
  TimePoint next_{};  // the first write is due at once
};

// CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID).
std::chrono::nanoseconds ThreadCpuTime();

}  // namespace ballast

#endif  // BALLAST_BALANCER_DAEMON_STATUS_PACER_H_
