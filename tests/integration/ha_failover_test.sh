#!/usr/bin/env bash
# High availability end-to-end (a), failover: b1 leads, b2 is a warm standby; a is hot (two
# 60% guests on one CPU). b1 starts a migration (1 MiB/s, so it takes seconds) and is killed
# (SIGKILL) in the middle. b2 takes over, adopts b1's intent record from etcd, reconciles its
# outcome with libvirt, moves no VM twice and leaves a relieved. Prints the failover time
# (leader killed -> standby leads -> first plan). Also: a mutating ballastctl verb on the
# standby is refused with the leader's name; a read verb is answered.
#   ha_failover_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
source "$E2E_DIR/ha_harness.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-ha-failover-$$"
for h in a b c; do lab_start_host "$h" "$(( $(printf '%d' "'$h") - 96 ))"; done
lab_boot_guest a web load60 64
lab_boot_guest a batch load60 64
e2e_policy "migration: {bandwidth_mib_per_second: 1}"
ha_start_etcd
ha_start_balancer b1
lab_wait 15 "b1 to lead" ha_status b1 's["ha"]["leading"]'
ha_start_balancer b2
lab_wait 15 "b2 to be a standby of b1" ha_status b2 's["ha"]["leader"] == "b1" and not s["ha"]["leading"]'

# ballastctl against the standby: status answers, drain is refused naming the leader.
CTL=(env BALLAST_ENDPOINT="$(cat "$LAB/b2/control")" BALLAST_ADMIN_KEY="$LAB/keys/admin.key"
  BALLAST_SERVER_KEY="$LAB/keys/balancer.pub" "$BALLAST_BIN/ballastctl")
"${CTL[@]}" status | grep "b2 is a standby; leader: b1" >/dev/null || lab_die "ballastctl status on b2"
if "${CTL[@]}" drain c >"$LAB/drain.out" 2>&1; then lab_die "the standby accepted a drain"; fi
grep -q "not_leader: .*standby; ask the leader 'b1'" "$LAB/drain.out" ||
  lab_die "refusal does not name the leader: $(cat "$LAB/drain.out")"

for h in a b c; do ha_start_collector "$h"; done
started() { [[ $(ha_journal b1 'sum(r["event"] == "migration_started" for r in records)') -ge 1 ]]; }
LAB_POLL=0.05 lab_wait 90 "b1 to start a migration" started
kill -KILL "$(ha_pid b1)"
t0=$(date +%s.%N)
read -r vm to < <(ha_journal b1 '" ".join([(r["vm"], r["to"]) for r in records if r["event"] == "migration_started"][0])')
lab_log "killed the leader b1 while it migrated $vm to $to"
[[ $(ha_journal b1 'sum(r["event"] == "migration_finished" for r in records)') -eq 0 ]] ||
  lab_die "the migration finished before the kill: nothing to take over"

LAB_POLL=0.05 lab_wait 30 "b2 to lead" ha_status b2 's["ha"]["leading"]'
t1=$(date +%s.%N)
LAB_POLL=0.05 lab_wait 60 "b2's first plan as leader" ha_status b2 \
  's["ha"]["leading"] and s["plans"] > s["ha"]["plans_at_takeover"]'
t2=$(date +%s.%N)
adopted() { [[ $(ha_journal b2 'sum(r["event"] == "migration_finished" and r.get("reconciled") for r in records)') -ge 1 ]]; }
lab_wait 60 "b2 to reconcile b1's migration" adopted
[[ $(ha_journal b2 'sum(r["event"] == "migration_adopted" for r in records)') -eq 1 ]] ||
  lab_die "b2 did not adopt exactly one migration"
lab_wait 30 "b2's view: $vm on $to, a relieved" ha_status b2 \
  "vms.get('$vm') == '$to' and hosts['a']['cpu_utilization'] < 0.85 and s['reconciled']"
sleep 6  # several planning rounds
[[ $(ha_journal b2 'sum(r["event"] == "migration_started" for r in records)') -eq 0 ]] ||
  lab_die "b2 moved a VM again: $(ha_journal b2 '[r for r in records if r["event"] == "migration_started"]')"
[[ $(harness_where "$vm" a b c) == "$to" ]] || lab_die "$vm runs on: $(harness_where "$vm" a b c)"
[[ $(harness_where web a b c | wc -w) -eq 1 && $(harness_where batch a b c | wc -w) -eq 1 ]] ||
  lab_die "a guest runs twice or nowhere"
[[ $(ha_metric b2 ballast_leader) == 1 ]] || lab_die "b2's ballast_leader is not 1"
python3 - "$t0" "$t1" "$t2" "${HA_LEASE_TTL:-4s}" "${HA_RENEW:-1s}" <<'PY'
import sys
t0, t1, t2 = map(float, sys.argv[1:4])
print("FAILOVER (lease_ttl %s, renew_interval %s): leader killed -> standby leads %.1f s, "
      "-> first plan %.1f s" % (sys.argv[4], sys.argv[5], t1 - t0, t2 - t0))
PY
echo "PASS ha_failover_test ($vm's migration taken over and reconciled, nothing moved twice)"
