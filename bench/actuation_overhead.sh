#!/usr/bin/env bash
# Actuation overhead (issue 19, target 5): a migration Ballast starts against a bare
#   virsh migrate --live --p2p GUEST DEST_URI --migrateuri tcp://127.0.0.1
# of the same guest between the same two test hosts (two libvirt daemons with QEMU/TCG on
# loopback, deploy/lab/lab.sh), interleaved: each round moves the guest a -> b -> a twice,
# once by each method, alternating which goes first and which direction each takes, so both
# see the same directions equally often. Target: Ballast's median <= 1.05 x virsh's.
#
# Measured per migration:
#   ballast: the journal's duration_ms (migration_started is written before the actuator's
#            call, migration_finished after it returns: the actuator's whole cost, journal
#            writes included) and the wall time of `ballastctl migrate --wait`;
#   virsh:   the wall time of the virsh command (process start and connection included:
#            what an admin's bare migration costs).
# (libvirt's own job time, `virsh domjobinfo --completed`, is not comparable: the actuator
# reads and so clears the completed job's statistics for its journal record, and on these
# hosts the copy itself is tens of milliseconds of the ~0.65 s; most of the rest is the
# destination QEMU's start and libvirt's checks of it: bench/README.)
#
#   bench/actuation_overhead.sh BUILD_BIN_DIR [ROUNDS]     (root; about 1 min for 8 rounds)
# BENCH_POLICY_EXTRA: YAML appended to the policy (e.g. a `migration:` section to try settings).
set -euo pipefail
BALLAST_BIN=$(cd "${1:?usage: actuation_overhead.sh BUILD_BIN_DIR [ROUNDS]}" && pwd)
ROUNDS=${2:-8}
export BALLAST_BIN
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../deploy/lab/lab.sh"
source "$HERE/../tests/integration/harness.sh"

lab_init "${TMPDIR:-/tmp}/ballast-bench-actuation-$$"
lab_start_host a 1
lab_start_host b 2
lab_boot_guest a g load33 64

# Manual moves only: recommend mode plans nothing here (no hotspot), and no cooldown keeps
# the guest from moving back and forth.
cat >"$LAB/policy.yaml" <<YAML
apiVersion: ballast/v1
name: bench-actuation
mode: recommend
interval_seconds: 1
thresholds:
  cpu: {hot: 0.95, relieved: 0.90}
strategies: [hotspot]
limits:
  vm_cooldown_seconds: 0
  return_cooldown_seconds: 0
${BENCH_POLICY_EXTRA:-}
YAML
harness_start_balancer
harness_start_collector a
harness_start_collector b
lab_wait 30 "the balancer to see g on a" harness_status "vms.get('g') == 'a'"

now_ms() { date +%s%3N; }

move_ballast() {  # move_ballast TO
  local to=$1 t0 t1 before
  before=$(harness_journal_count migration_finished)
  t0=$(now_ms)
  BALLAST_ENDPOINT=$BALLAST_ENDPOINT "$BALLAST_BIN/ballastctl" migrate g "$to" --wait >/dev/null
  t1=$(now_ms)
  lab_wait 10 "the journal's migration_finished" \
    test "$(harness_journal_count migration_finished)" -gt "$before"
  local journal
  journal=$(python3 -c '
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if "\"migration_finished\"" in l][-1]
print(last["duration_ms"])' "$JOURNAL")
  echo "ballast $to $journal $((t1 - t0))" >>"$LAB/results"
}

move_virsh() {  # move_virsh FROM TO
  local from=$1 to=$2 t0 t1
  t0=$(now_ms)
  lab_virsh "$from" migrate --live --p2p g "$(lab_uri "$to")" --migrateuri tcp://127.0.0.1 \
    >/dev/null
  t1=$(now_ms)
  echo "virsh $to $((t1 - t0)) $((t1 - t0))" >>"$LAB/results"
}

# Before each Ballast move its view must show where g is (virsh moves it behind its back).
settle() { lab_wait 30 "the balancer to see g on $1" harness_status "vms.get('g') == '$1' and not s['in_flight']"; }

: >"$LAB/results"
for round in $(seq 1 "$ROUNDS"); do
  if ((round % 2)); then
    move_ballast b; settle b
    move_virsh b a; settle a
  else
    move_virsh a b; settle b
    move_ballast a; settle a
  fi
  lab_log "round $round of $ROUNDS done"
done

python3 - "$LAB/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(method, i):
    return [float(r[i]) for r in rows if r[0] == method and len(r) > i and r[i]]
b_journal, b_wall = col("ballast", 2), col("ballast", 3)
v_wall = col("virsh", 3)
med = statistics.median
print(f"migrations: {len(b_journal)} by Ballast, {len(v_wall)} by bare virsh (same guest, same hosts, interleaved)")
print(f"  Ballast, journal start->finish: median {med(b_journal):.0f} ms   (each: {' '.join(f'{x:.0f}' for x in b_journal)})")
print(f"  Ballast, ballastctl --wait wall: median {med(b_wall):.0f} ms")
print(f"  virsh migrate --live --p2p wall: median {med(v_wall):.0f} ms   (each: {' '.join(f'{x:.0f}' for x in v_wall)})")
ratio = med(b_journal) / med(v_wall)
print(f"Ballast / virsh: {ratio:.3f} (target <= 1.05): {'met' if ratio <= 1.05 else 'NOT met'}")
PY
