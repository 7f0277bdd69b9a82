#!/usr/bin/env bash
# End-to-end (g): the policy file edited while the balancer runs. Host a runs at about 80%
# (2 x 40%; duty-cycle guests jitter a few points) under a hot mark of 95%: nothing moves. A broken edit is reported precisely and
# the old policy stays in force; a valid edit lowering the mark to 65% takes effect without
# a restart and relieves a with a real migration.
#   policy_reload_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-reload-$$"
lab_start_host a 1
lab_start_host b 2
lab_boot_guest a g1 load40 64
lab_boot_guest a g2 load40 64
sed 's/hot: 0.85, relieved: 0.70/hot: 0.95, relieved: 0.70/' "$E2E_DIR/hotspot_policy.yaml" >"$LAB/policy.yaml"
harness_start_balancer
harness_start_collector a
harness_start_collector b
lab_wait 30 "the first plans" harness_status 's["plans"] > 3 and len(hosts) == 2'
sleep 6
[[ $(harness_journal_count migration_started) -eq 0 ]] || { echo "moved under the 95% mark"; exit 1; }

echo "--- a broken edit: a typo"
sed 's/hot: 0.85, relieved: 0.70/hot: 0.75, relieved: 0.50, hott: 1/' "$E2E_DIR/hotspot_policy.yaml" >"$LAB/policy.yaml"
lab_wait 15 "the broken policy to be rejected" harness_status 's["policy"]["reload_failures"] >= 1'
harness_status 's["policy"]["generation"] == 1 and s["policy"]["cpu_hot"] == 0.95'
err=$(e2e_journal '[r["error"] for r in records if r["event"] == "policy_rejected"][0]')
echo "rejected: $err"
[[ $err == *"policy.yaml:8:36: "*"thresholds.cpu.hott"*"did you mean"* ]] || { echo "imprecise error"; exit 1; }
grep -q "keeping policy 'e2e' generation 1" "$LAB/balancer.log"
sleep 5
[[ $(harness_journal_count migration_started) -eq 0 ]] || { echo "the broken policy took effect"; exit 1; }

echo "--- a valid edit: hot mark 65%"
# 15 points below the guests' 80 %: a 75 % mark (5 points) failed once in CI while a build
# ran beside it (busy duty-cycle guests read low).
sed 's/hot: 0.85, relieved: 0.70/hot: 0.65, relieved: 0.45/' "$E2E_DIR/hotspot_policy.yaml" >"$LAB/policy.yaml"
lab_wait 15 "the new policy" harness_status 's["policy"]["generation"] == 2 and s["policy"]["cpu_hot"] == 0.65'
moved() { [[ $(harness_journal_count migration_finished) -ge 1 ]]; }
lab_wait 60 "a relieving migration under the new mark" moved
lab_wait 30 "a below 65%" harness_status 'hosts["a"]["cpu_utilization"] < 0.65 and not s["in_flight"]'
echo "PASS policy_reload_test"
