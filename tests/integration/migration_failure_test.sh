#!/usr/bin/env bash
# End-to-end (d) and (e): migrations that fail must leave the VM running exactly once, on
# its source.
#  (d) A guest that dirties 200 MiB continuously, under a 10 MiB/s bandwidth cap, cannot
#      converge: after the policy's timeout the balancer aborts it; the VM stays on a.
#  (e) The destination's libvirtd is killed mid-migration: the migration fails, the VM keeps
#      running on a, and b (its daemon restarted) does not run it.
#   migration_failure_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
export HARNESS_CPU_CORES=2

lab_init "${TMPDIR:-/tmp}/ballast-it-failure-$$"
lab_start_host a 1
lab_start_host b 2
lab_boot_guest a dirty dirty200 256
lab_boot_guest a steady load40 64

# a: dirty (1 core) + steady (0.4) of 2 cores = 70% > 60% hot; only `dirty` may move, and b
# after the move (50%) is under the relieved mark (55%).
policy() {
  sed -e 's/hot: 0.85, relieved: 0.70/hot: 0.60, relieved: 0.55/' "$E2E_DIR/hotspot_policy.yaml"
  cat <<YAML
rules:
  exclude_vms: [steady]
migration:
  timeout_seconds: $1
  bandwidth_mib_per_second: 10
  failure_backoff_seconds: 600
YAML
}
policy 8 >"$LAB/policy.yaml"
harness_start_balancer
harness_start_collector a
harness_start_collector b

echo "--- (d) non-converging migration is aborted after its timeout"
aborted() { [[ $(harness_journal_count migration_aborted dirty) -ge 1 ]]; }
lab_wait 90 "the migration of dirty to be aborted" aborted
e2e_journal '[(r["vm_on"], r["duration_ms"], r["error"]) for r in records if r["event"] == "migration_aborted"][0]'
[[ $(e2e_journal '[r for r in records if r["event"] == "migration_aborted"][0]["vm_on"]') == a ]]
[[ $(harness_where dirty a b) == a ]] || { echo "dirty runs on: $(harness_where dirty a b)"; exit 1; }
sleep 5  # the failed pair backs off: no retry storm
[[ $(harness_journal_count migration_started dirty) -eq 1 ]] ||
  { echo "retried despite the back-off"; exit 1; }
harness_status 'hosts["a"]["vms"] and vms["dirty"] == "a"'

echo "--- (e) destination daemon killed mid-migration"
kill -TERM "$(cat "$LAB/pids/balancer")"
lab_wait 40 "the balancer to stop" bash -c "! kill -0 $(cat "$LAB/pids/balancer") 2>/dev/null"
policy 600 >"$LAB/policy.yaml"
harness_restart_balancer
in_flight() { harness_status 'any(m["vm"] == "dirty" and m.get("data_processed", 0) > 0 for m in s["in_flight"])'; }
lab_wait 60 "a new migration of dirty to be under way" in_flight
sleep 2
kill -KILL "$(cat "$LAB/pids/libvirtd-b")"
echo "killed b's libvirtd mid-migration"
failed() { [[ $(e2e_journal 'sum(1 for r in records if r["event"] in ("migration_failed", "migration_aborted") and r["vm"] == "dirty")') -ge 2 ]]; }
lab_wait 60 "the migration to be reported failed" failed
e2e_journal '[(r["event"], r["vm_on"], r["error"]) for r in records if r["event"] in ("migration_failed", "migration_aborted")][-1]'
[[ $(e2e_journal '[r for r in records if r["event"] in ("migration_failed", "migration_aborted")][-1]["vm_on"]') == a ]]
lab_start_host b 2  # the daemon comes back; it must not run a second copy
sleep 2
[[ $(harness_where dirty a b) == a ]] || { echo "dirty runs on: $(harness_where dirty a b)"; exit 1; }
[[ $(lab_virsh a domstate dirty) == running ]]
echo "PASS migration_failure_test"
