#!/usr/bin/env bash
# End-to-end (f): the balancer is killed (SIGKILL) right after it starts a migration and is
# started again. The peer-to-peer migration carries on in libvirt; the new balancer finds the
# unfinished record in its journal, waits for libvirt's outcome, records it, and does not
# move the VM (or any other) a second time.
#   balancer_restart_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-restart-$$"
for h in a b c; do lab_start_host "$h" "$(( $(printf '%d' "'$h") - 96 ))"; done
lab_boot_guest a web load60 64
lab_boot_guest a batch load60 64
# 1 MiB/s: the move takes a few seconds, long enough to kill the balancer in the middle.
e2e_policy "migration: {bandwidth_mib_per_second: 1}"
harness_start_balancer
for h in a b c; do harness_start_collector "$h"; done
started() { [[ $(harness_journal_count migration_started) -ge 1 ]]; }
LAB_POLL=0.1 lab_wait 90 "a migration to start" started
kill -KILL "$(cat "$LAB/pids/balancer")"
read -r vm to < <(e2e_journal '" ".join([(r["vm"], r["to"]) for r in records if r["event"] == "migration_started"][0])')
echo "killed the balancer while migrating $vm to $to"
[[ $(harness_journal_count migration_finished) -eq 0 ]] ||
  { echo "the migration finished before the kill: nothing to reconcile"; exit 1; }
harness_restart_balancer
reconciled() { [[ $(e2e_journal 'sum(1 for r in records if r["event"] == "migration_finished" and r.get("reconciled"))') -ge 1 ]]; }
lab_wait 60 "the restarted balancer to reconcile the migration" reconciled
lab_wait 30 "the view to show $vm on $to and a relieved" harness_status \
  "vms.get('$vm') == '$to' and hosts['a']['cpu_utilization'] < 0.85 and s['reconciled']"
sleep 6  # several planning rounds
[[ $(harness_journal_count migration_started) -eq 1 ]] || { echo "a duplicate move was made"; exit 1; }
[[ $(harness_where "$vm" a b c) == "$to" ]] || { echo "$vm runs on: $(harness_where "$vm" a b c)"; exit 1; }
grep -q "reconciled migration" "$LAB/balancer.log"
echo "PASS balancer_restart_test"
