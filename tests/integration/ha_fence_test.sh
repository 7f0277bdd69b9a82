#!/usr/bin/env bash
# High availability end-to-end (b), the fence: balancer b1 leads, decides to relieve a
# hotspot and is frozen (SIGSTOP) between that decision and its conditional write in etcd
# (ha.test_fence_delay holds the write back 3 s, so the freeze lands inside the window). Its
# lease expires; standby b2 takes over and starts the move. b1 is resumed (SIGCONT): its
# write must fail against b2's term, so it starts no migration, and it steps down.
# With HA_TEST_UNFENCED=1 b1 writes without the condition (ha.test_unfenced) and the same
# steps must end with b1 starting a migration (the control run, integration.ha_fence_unfenced):
# the checks below would then fail, so it is the conditional write that stops b1.
#   ha_fence_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
source "$E2E_DIR/ha_harness.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-ha-fence-$$"
for h in a b c; do lab_start_host "$h" "$(( $(printf '%d' "'$h") - 96 ))"; done
lab_boot_guest a web load60 64
e2e_policy
ha_start_etcd

unfenced=""
[[ ${HA_TEST_UNFENCED:-0} == 1 ]] && unfenced="  test_unfenced: true"
ha_start_balancer b1 "  test_fence_delay: 3s
$unfenced"
lab_wait 15 "b1 to lead" ha_status b1 's["ha"]["leading"]'
ha_start_balancer b2
lab_wait 15 "b2 to see b1 as leader" ha_status b2 's["ha"]["leader"] == "b1" and not s["ha"]["leading"]'
for h in a b c; do ha_start_collector "$h"; done
lab_wait 30 "both balancers to see 3 hosts and web" ha_status b2 \
  'len(hosts) == 3 and vms.get("web") == "a" and s["reconciled"]'
lab_wait 10 "b1 to see web too" ha_status b1 'vms.get("web") == "a" and s["reconciled"]'

# The hotspot: a second 60% guest on a (120% of its one CPU).
lab_boot_guest a batch load60 64
fencing() { grep -q "fencing the migration" "$LAB/balancer-b1.log"; }
LAB_POLL=0.05 lab_wait 60 "b1 to decide a move (fence asked)" fencing
kill -STOP "$(ha_pid b1)"
frozen_at=$SECONDS
lab_log "b1 frozen after asking the fence: $(grep "fencing the migration" "$LAB/balancer-b1.log" | head -1)"

lab_wait 20 "b2 to take over" ha_status b2 's["ha"]["leading"]'
lab_log "b2 leads $((SECONDS - frozen_at)) s after b1 froze"
started() { [[ $(ha_journal b2 'sum(r["event"] == "migration_started" for r in records)') -ge 1 ]]; }
lab_wait 30 "b2 to start a move" started
b2_vm=$(ha_journal b2 'next(r["vm"] for r in records if r["event"] == "migration_started")')
lab_log "b2 started the migration of $b2_vm"

kill -CONT "$(ha_pid b1)"
lab_log "b1 resumed"
stepped_down() {
  ha_status b1 'not s["ha"]["leading"] and s["ha"]["leader"] == "b2"' &&
    [[ $(ha_journal b1 'sum(r["event"] in ("move_fenced", "migration_started") for r in records)') -ge 1 ]]
}
lab_wait 20 "b1 to step down and answer its fence" stepped_down || true
b1_started=$(ha_journal b1 'sum(r["event"] == "migration_started" for r in records)')
b1_fenced=$(ha_journal b1 'sum(r["event"] == "move_fenced" for r in records)')
lab_log "b1 after resume: $b1_started migration(s) started, $b1_fenced move(s) fenced"
if [[ ${HA_TEST_UNFENCED:-0} == 1 ]]; then
  [[ $b1_started -ge 1 ]] ||
    lab_die "control run: without the conditional write b1 should have started a migration"
  echo "PASS ha_fence_test control run: without the conditional write the deposed b1 started" \
    "$(ha_journal b1 '[(r["vm"], r["from"], r["to"]) for r in records if r["event"] == "migration_started"]')" \
    "while b2 moved $b2_vm"
  exit 0
fi
if [[ $b1_started -ne 0 ]]; then
  ha_journal b1 '[r for r in records if r["event"] == "migration_started"]'
  lab_die "the deposed leader b1 started a migration"
fi
[[ $b1_fenced -ge 1 ]] || lab_die "b1 neither started nor was fenced: the test did not exercise the fence"
grep -q "NOT starting the migration .*the fence refused it" "$LAB/balancer-b1.log" ||
  lab_die "b1's log does not say the fence refused its move"
ha_status b1 'not s["ha"]["leading"] and s["ha"]["leader"] == "b2"' || lab_die "b1 did not step down"

# b2's move completes; libvirt runs every guest exactly once.
finished() { [[ $(ha_journal b2 'sum(r["event"] == "migration_finished" for r in records)') -ge 1 ]]; }
lab_wait 60 "b2's migration to finish" finished
for vm in web batch; do
  where=$(harness_where "$vm" a b c)
  [[ $(wc -w <<<"$where") -eq 1 ]] || lab_die "$vm runs on '$where'"
done
[[ $(harness_where "$b2_vm" a b c) != a ]] || lab_die "$b2_vm is still on a"
sleep 3
[[ $(ha_journal b1 'sum(r["event"] == "migration_started" for r in records)') -eq 0 ]] ||
  lab_die "b1 started a migration later"
echo "PASS ha_fence_test (b1 fenced $b1_fenced move(s), started none; b2 moved $b2_vm)"
