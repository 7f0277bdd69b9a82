#!/usr/bin/env bash
# ballastctl against a running balancer on real libvirt test hosts: every verb, through the
# CURVE control endpoint with an admin key. What an admin would see and rely on:
#  - status/plan/explain/history in table, json and yaml; json has the documented shape;
#  - pause stops automatic moves while a hotspot persists; plan and policy diff move nothing;
#  - resume lets the balancer relieve the hotspot;
#  - migrate moves a guest for real; a hard-rule violation is refused (exit 1) naming the
#    rule, and --force overrides it;
#  - drain empties a host by real live migrations and survives a balancer restart mid-drain;
#  - a wrong admin key is refused (exit 4) and logged; policy check reports file:line:col.
#   ballastctl_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
CTL="$BALLAST_BIN/ballastctl"

lab_init "${TMPDIR:-/tmp}/ballast-it-ctl-$$"
for h in a b c; do lab_start_host "$h" "$(( $(printf '%d' "'$h") - 96 ))"; done
lab_boot_guest b keep idle 64
lab_boot_guest c idle1 idle 64
lab_boot_guest c idle2 idle 64
# Drains and manual moves at 1 MiB/s take a few seconds each: time to restart mid-drain.
sed 's/^strategies: \[hotspot\]/strategies: [hotspot, drain]/' "$E2E_DIR/hotspot_policy.yaml" >"$LAB/policy.yaml"
printf 'rules: {exclude_vms: [keep]}\nmigration: {bandwidth_mib_per_second: 1}\n' >>"$LAB/policy.yaml"
harness_start_balancer
for h in a b c; do harness_start_collector "$h"; done
lab_wait 30 "three hosts" harness_status 'len(hosts) == 3 and s["reconciled"]'

echo "--- status, in three formats"
"$CTL" status | tee "$LAB/status.txt"
grep -Eq '^a +' "$LAB/status.txt" && grep -q "mode automatic" "$LAB/status.txt"
"$CTL" -o json status >"$LAB/status.json"
python3 - "$LAB/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for key in ("hosts", "policy", "paused", "maintenance", "thresholds", "in_flight", "last_plan"):
    assert key in s, key
h = {x["name"]: x for x in s["hosts"]}
assert set(h) == {"a", "b", "c"}
for x in h.values():
    for key in ("cpu_utilization", "memory_utilization", "net_utilization", "stale", "hot", "maintenance", "vms"):
        assert key in x, key
assert {v["name"] for v in h["c"]["vms"]} == {"idle1", "idle2"}
print("status json shape ok")
PY
"$CTL" -o yaml status | grep '^hosts:' >/dev/null

echo "--- pause: a hotspot appears and nothing moves"
"$CTL" pause --reason "ballastctl test" | grep -q "automation paused"
lab_boot_guest a web load60 64
lab_boot_guest a batch load60 64
planned() { "$CTL" -o json plan | python3 -c 'import json,sys; p=json.load(sys.stdin); sys.exit(0 if any(m["from"]=="a" for m in p["moves"]) and p["paused"] else 1)'; }
lab_wait 60 "a plan that would relieve host a" planned
"$CTL" plan | tee "$LAB/plan.txt"
grep -q "a is hot on cpu" "$LAB/plan.txt"
sleep 5
[[ $(harness_journal_count migration_started) -eq 0 ]] || { echo "moved while paused"; exit 1; }
"$CTL" status | grep "automation PAUSED" >/dev/null

echo "--- policy diff moves nothing"
sed 's/^mode: automatic/mode: off/' "$LAB/policy.yaml" >"$LAB/candidate.yaml"
"$CTL" policy diff "$LAB/candidate.yaml" | tee "$LAB/diff.txt"
grep -q "would plan 0" "$LAB/diff.txt" && grep -q "^- " "$LAB/diff.txt"
[[ $(harness_journal_count migration_started) -eq 0 ]]

echo "--- resume: the balancer relieves a"
"$CTL" resume | grep -q "automation resumed"
relieved() { [[ $(harness_journal_count migration_finished) -ge 1 ]]; }
lab_wait 90 "the hotspot to be relieved" relieved
moved=$(e2e_journal '[r["vm"] for r in records if r["event"] == "migration_finished"][0]')
"$CTL" explain "$moved" | tee "$LAB/explain.txt"
grep -q "why there: moved from a" "$LAB/explain.txt"
"$CTL" history --vm "$moved" | grep migration_finished >/dev/null
"$CTL" -o json history --since 1h | python3 -c 'import json,sys; r=json.load(sys.stdin)["records"]; assert any(x["event"]=="paused" for x in r)'

echo "--- migrate: a refused hard rule, --force, and a real move"
set +e
"$CTL" migrate keep a 2>"$LAB/refused.txt"
rc=$?
set -e
[[ $rc -eq 1 ]] || { echo "expected exit 1, got $rc"; exit 1; }
grep -q "excluded_vm" "$LAB/refused.txt"
"$CTL" migrate keep a --force --wait | tee "$LAB/forced.txt"
grep -q "migrated keep to a" "$LAB/forced.txt"
[[ $(harness_where keep a b c) == a ]]
# A plain move. (Right after a migration a host's forecast can briefly read hot and the rules
# refuse it as a target: that is the rule working, so try again a few seconds later.)
moved_idle1() { "$CTL" migrate idle1 b --wait; }
lab_wait 30 "a manual move of idle1 to b" moved_idle1
[[ $(harness_where idle1 a b c) == b ]]

echo "--- drain c (idle2) across a balancer restart"
"$CTL" drain c --no-wait | grep -q "in maintenance"
drain_started() { [[ $(e2e_journal 'sum(1 for r in records if r["event"] == "migration_started" and r["from"] == "c")') -ge 1 ]]; }
LAB_POLL=0.2 lab_wait 60 "the drain's first migration" drain_started
kill -KILL "$(cat "$LAB/pids/balancer")"
harness_restart_balancer
lab_wait 60 "the balancer back" "$CTL" status
lab_wait 30 "all hosts back in its view" harness_status 'len(hosts) == 3'
"$CTL" drain c --wait-timeout 120 | tee "$LAB/drain.txt"
grep -q "host c is empty" "$LAB/drain.txt"
[[ -z $(harness_where idle2 c) ]]
[[ $(harness_where idle2 a b | wc -l) -eq 1 ]]
"$CTL" -o json status | python3 -c 'import json,sys; s=json.load(sys.stdin); assert "c" in s["maintenance"]'
"$CTL" undrain c | grep -q "out of maintenance"
# A drain that cannot finish says why: keep is excluded from moves by the policy.
"$CTL" drain a --no-wait >/dev/null
blocked() { "$CTL" -o json status | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if any(u["strategy"]=="drain" and u["host"]=="a" and "exclude_vms" in u["explanation"] for u in s["last_plan"]["unrelieved"]) else 1)'; }
lab_wait 60 "the drain of a to report what blocks it" blocked
"$CTL" undrain a >/dev/null

echo "--- a wrong admin key is refused and logged"
"$BALLAST_BIN/ballast-keygen" --dir "$LAB/rogue" mallory >/dev/null
set +e
"$CTL" --key "$LAB/rogue/mallory.key" --timeout 5 status 2>"$LAB/rogue.txt"
rc=$?
set -e
[[ $rc -eq 4 ]] || { echo "expected exit 4, got $rc"; cat "$LAB/rogue.txt"; exit 1; }
grep -q "refused this key" "$LAB/rogue.txt"
grep -Eq "rejected control client from .* is not in the allowlist" "$LAB/balancer.log"

echo "--- policy check"
"$CTL" policy check "$LAB/policy.yaml"
printf 'apiVersion: ballast/v1\nthresholds:\n  cpu: {hott: 0.9}\n' >"$LAB/broken.yaml"
set +e
"$CTL" policy check "$LAB/broken.yaml" 2>"$LAB/check.txt"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "broken.yaml:3:9: thresholds.cpu.hott" "$LAB/check.txt"
echo "PASS ballastctl_test"
