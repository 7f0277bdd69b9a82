#!/usr/bin/env bash
# Reaction time (issue 19, target 4): from the first sample over the hot mark to
# migration_started, end to end on real test hosts (deploy/lab/lab.sh: libvirt daemons with
# QEMU/TCG guests on loopback). Host a (one CPU) runs a steady 33 % guest and a `wave` guest
# (deploy/lab/guests/wave.asm) at 10 % of its vCPU for its first ~22 s, then at 60 %: a steps
# over the 85 % hot mark at a moment nobody scheduled, with no VM joining or leaving (which
# would restart the host's history). Host b is idle. The balancer runs the end-to-end tests' policy
# (tests/integration/hotspot_policy.yaml: 1 s interval, k = 3 of n = 5, EWMA forecast) and
# records the samples it ingests; ballast_bench_reaction replays the recording through the
# balancer's model and prints the reaction against the target (k intervals + 50 ms).
# Sandpiper (NSDI'07) reports about 20 s for the same.
#
#   bench/reaction_time.sh BUILD_BIN_DIR [RUNS]      (root; about 40 s per run)
set -euo pipefail
BALLAST_BIN=$(cd "${1:?usage: reaction_time.sh BUILD_BIN_DIR [RUNS]}" && pwd)
RUNS=${2:-1}
export BALLAST_BIN
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../deploy/lab/lab.sh"
source "$HERE/../tests/integration/harness.sh"
POLICY_SRC="$HERE/../tests/integration/hotspot_policy.yaml"
K=$(sed -n 's/^detection: {k: \([0-9]*\),.*/\1/p' "$POLICY_SRC")
MARK=$(sed -n 's/^  cpu: {hot: \([0-9.]*\),.*/\1/p' "$POLICY_SRC")
[[ -n $K && -n $MARK ]] || { echo "cannot read k and the hot mark from $POLICY_SRC" >&2; exit 1; }

run_once() {
  local run=$1
  lab_init "${TMPDIR:-/tmp}/ballast-bench-reaction-$$-$run"
  lab_start_host a 1
  lab_start_host b 2
  # 10 % (1 timer tick spinning of 10) for 40 cycles of 0.55 s, then 60 % for 218 of 0.27 s.
  lab_make_wave_image step10to60 1 9 40 3 2 218
  lab_boot_guest a steady load33 64
  lab_boot_guest a step step10to60 64
  cp "$POLICY_SRC" "$LAB/policy.yaml"
  HARNESS_BALANCER_EXTRA="record_file: $LAB/stream.rec"
  harness_start_balancer
  harness_start_collector a
  harness_start_collector b
  started() { [[ $(harness_journal_count migration_started) -ge 1 ]]; }
  lab_wait 60 "the balancer to start a migration off a" started
  sleep 2  # the recording is flushed every second
  "$BALLAST_BIN/ballast_bench_reaction" "$LAB/stream.rec" "$JOURNAL" a "$MARK" "$K"
}

for run in $(seq 1 "$RUNS"); do
  # Each run in its own shell: lab_init's EXIT trap tears that run's lab down.
  (run_once "$run")
done
