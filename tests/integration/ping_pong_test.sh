#!/usr/bin/env bash
# End-to-end (c): hysteresis, and nothing else, keeps a relieved hotspot from bouncing.
#
# Host a runs guests at 60% and 33% of its one CPU (93%: above the hot mark, 85%). Host b
# runs one guest whose load steps from 14% (its first ~60 s) to 40% (the next ~60 s). The
# cooldowns are 5 s, far shorter than the window, so they cannot be what stops a second move.
#
# With hysteresis (a move may fill a target only up to the relieved mark, 55%) the balancer
# cannot put the 60% guest on b (>= 60% > 55% whatever b's guest does) and moves the 33% guest
# (14 + 33 = 47%); when b's guest steps up, b reaches 40 + 33 = 73%, still under 85%: one
# move, and b is never hot over the high phase. Without hysteresis (a target filled up to the
# hot mark) the 60% guest goes to b (14 + 60 = 74% <= 85%), b reaches 40 + 60 = 100% when its
# guest steps up, turns hot, and a second move follows. The test demands exactly one move, of
# the 33% guest, no VM back on a host it left, and b seen in its high phase and never hot.
#   ping_pong_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-pingpong-$$"
lab_start_host a 1
lab_start_host b 2
# b's guest first: its low phase starts at its boot and must cover the first move.
lab_boot_guest b wave wave14to40 64
wave_boot=$SECONDS
lab_boot_guest a g60 load60 64
lab_boot_guest a g33 load33 64
e2e_policy
python3 - "$LAB/policy.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("relieved: 0.70", "relieved: 0.55")
s = re.sub(r"vm_cooldown_seconds: \d+", "vm_cooldown_seconds: 5", s)
s = re.sub(r"return_cooldown_seconds: \d+", "return_cooldown_seconds: 5", s)
assert "hot: 0.85, relieved: 0.55" in s and "cooldown_seconds: 5" in s, s
open(p, "w").write(s)
PY
harness_start_balancer
harness_start_collector a
harness_start_collector b
lab_wait 30 "both hosts in the balancer's view" harness_status 'len(hosts) == 2 and s["plans"] > 0'
lab_wait 45 "host a relieved by a move" harness_status \
  '(vms.get("g33") == "b" or vms.get("g60") == "b") and hosts["a"]["cpu_utilization"] < 0.85'
(( SECONDS - wave_boot < 60 )) || lab_die "the first move came after b's low phase; retime the test"
# Into b's high phase (it starts ~60 s after its guest booted), then 40 s of it: far longer
# than the 5 s cooldowns and than the 3-of-5 one-second rounds that detect a hotspot.
sleep $(( wave_boot + 60 - SECONDS ))  # > 0: checked just above
lab_wait 20 "b's guest in its high phase (b above 55%)" harness_status \
  'hosts["b"]["cpu_utilization"] > 0.55'
# 40 s of the high phase, the balancer's status read twice a second: b's level, and whether
# the balancer's own detection (3 of 5 rounds over the mark, with the forecast) calls it hot.
python3 - "$STATUS" "$JOURNAL" <<'PY'
import json, sys, time
levels, hot_reads = [], 0
end = time.time() + 40
while time.time() < end:
    try:
        s = json.load(open(sys.argv[1]))
        b = next(h for h in s["hosts"] if h["name"] == "b")
        levels.append(b["cpu_utilization"])
        hot_reads += bool(b["hot"]["cpu"])
    except (ValueError, StopIteration, KeyError):
        pass
    time.sleep(0.5)
levels.sort()
print(f"b over 40 s of its guest's high phase: median {levels[len(levels) // 2]:.0%}, "
      f"max {levels[-1]:.0%} (single samples), detected hot in {hot_reads} of {len(levels)} reads")
records = [json.loads(l) for l in open(sys.argv[2])]
started = [(r["vm"], r["from"], r["to"]) for r in records if r["event"] == "migration_started"]
moves = [(r["vm"], r["from"], r["to"]) for r in records if r["event"] == "migration_finished"]
print(f"{len(started)} migration(s) started: {started}; finished: {moves}")
left = set()
for vm, frm, to in moves:
    assert (vm, to) not in left, f"{vm} returned to {to}"
    left.add((vm, frm))
assert started == [("g33", "a", "b")], "wanted exactly one move, of g33 from a to b"
assert hot_reads == 0, "b turned hot after the move"
assert levels[len(levels) // 2] > 0.55, "b's guest was not in its high phase"
PY
for g in g60 g33 wave; do
  [[ $(harness_where "$g" a b | wc -l) -eq 1 ]] || { echo "$g is not running exactly once"; exit 1; }
done
echo "PASS ping_pong_test"
