#!/usr/bin/env bash
# End-to-end (c): host a hovers at the hot mark (guests at 50% + 35% of its one CPU, 85%),
# host b is idle. Over a bounded window the balancer may relieve a once, but never moves a
# VM back to a host it left, and never moves more than once.
#   ping_pong_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
WINDOW=${PING_PONG_WINDOW:-45}

lab_init "${TMPDIR:-/tmp}/ballast-it-pingpong-$$"
lab_start_host a 1
lab_start_host b 2
lab_boot_guest a g50 load50 64
lab_boot_guest a g35 load35 64
e2e_policy
harness_start_balancer
harness_start_collector a
harness_start_collector b
lab_wait 30 "both hosts in the balancer's view" harness_status 'len(hosts) == 2 and s["plans"] > 0'
sleep "$WINDOW"
python3 - "$JOURNAL" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
moves = [(r["vm"], r["from"], r["to"]) for r in records if r["event"] == "migration_finished"]
started = [r for r in records if r["event"] == "migration_started"]
print(f"{len(started)} migration(s) started, finished: {moves}")
assert len(started) <= 1, "more than one move for one hovering host"
left = set()
for vm, frm, to in moves:
    assert (vm, to) not in left, f"{vm} returned to {to}"
    left.add((vm, frm))
PY
for g in g50 g35; do
  [[ $(harness_where "$g" a b | wc -l) -eq 1 ]] || { echo "$g is not running exactly once"; exit 1; }
done
echo "PASS ping_pong_test"
