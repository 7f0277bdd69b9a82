#!/usr/bin/env bash
# End-to-end: the balancer connects and sends migration traffic only where its inventory
# says (issue 14, item 2). Three real libvirt test hosts: a is hot (two guests at 60% of its
# one vCPU), b runs an idle guest, c is empty and so the roomiest target. c's collector
# claims a's libvirt URI (host.advertised_uri) and a foreign migration address, as a stolen
# collector key might. The balancer must flag c (journal once, status, metric, ballastctl),
# start no migration from or to it (nor by hand, even forced), and relieve a onto b with the
# inventory's URI. Once c's collector claims the right endpoints, c is planned again.
#   host_inventory_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh" "$1"
CTL="$BALLAST_BIN/ballastctl"

lab_init "${TMPDIR:-/tmp}/ballast-it-inventory-$$"
for h in a b c; do lab_start_host "$h" "$(($(printf '%d' "'$h") - 96))"; done
lab_boot_guest a web load60 64
lab_boot_guest a batch load60 64
lab_boot_guest b db idle 64
e2e_policy

# The lying collector: reads c's own libvirt (its stats are true) but claims a's URI and an
# address of its choice.
lying_config() {
  harness_collector_config c c "$LAB/keys/c.key" |
    sed "s|^  migration_address: 127.0.0.1\$|  advertised_uri: \"$(lab_uri a)\"\n  migration_address: 192.0.2.66|"
}
start_collector_c() {
  "$BALLAST_BIN/ballast-collector" --config "$LAB/collector-c.yaml" \
    >>"$LAB/collector-c.log" 2>&1 &
  lab_track collector-c $!
}

harness_start_balancer
harness_start_collector a
harness_start_collector b
lab_free_port >"$LAB/metrics-port-c"
lab_keygen c
cp "$LAB/keys/c.pub" "$LAB/allow/"
lying_config >"$LAB/collector-c.yaml"
grep -q "advertised_uri: \"$(lab_uri a)\"" "$LAB/collector-c.yaml" || lab_die "lying config not written"
start_collector_c

# (The page is read whole first: grep -q closing the pipe early would fail curl under pipefail.)
mismatch_metric_is() {
  local page
  page=$(curl -sf "http://127.0.0.1:$BALANCER_METRICS_PORT/metrics") || return 1
  grep -qx "ballast_hosts_claims_mismatch $1" <<<"$page"
}

finished() { [[ $(harness_journal_count migration_finished) -ge 1 ]]; }
lab_wait 90 "a migration off host a to finish" finished
sleep 3  # a few more plan rounds: nothing may go to c meanwhile

# Never from or to c; the move off a went to b at the inventory's URI and address.
e2e_journal '[ (r["from"], r["to"]) for r in records if r["event"] == "migration_started"]'
python3 - "$JOURNAL" "$(lab_uri a)" "$(lab_uri b)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
uri_a, uri_b = sys.argv[2], sys.argv[3]
started = [r for r in recs if r["event"] == "migration_started"]
assert started, "no migration started"
for r in started:
    assert "c" not in (r["from"], r["to"]), "a migration from/to the flagged host c: %s" % r
first = started[0]
assert first["from"] == "a" and first["to"] == "b", first
assert first["from_uri"] == uri_a and first["to_uri"] == uri_b, first
mism = [r for r in recs if r["event"] == "host_claims_mismatch"]
assert len(mism) == 1, "host_claims_mismatch journaled %d times, want once: %s" % (len(mism), mism)
m = mism[0]
assert m["host"] == "c" and m["reason"] == "libvirt_uri", m
assert m["claimed_libvirt_uri"] == uri_a and m["claimed_migration_address"] == "192.0.2.66", m
assert m["inventory_libvirt_uri"].endswith("/hosts/c/sock/libvirt-sock"), m
print("flagged once:", m["host"], m["reason"], "; moved", first["vm"], "a -> b")
PY
vm=$(e2e_journal '[r["vm"] for r in records if r["event"] == "migration_finished"][0]')
[[ $(harness_where "$vm" a b c) == b ]] || { echo "$vm does not run on b alone"; exit 1; }
[[ -z $(harness_where web c) && -z $(harness_where batch c) ]] || { echo "a guest reached c"; exit 1; }

# Status JSON, metric, log (once), ballastctl.
harness_status "hosts['c']['claims_mismatch']['reason'] == 'libvirt_uri' and s['claims_mismatch_hosts'] == ['c'] and hosts['b']['claims_mismatch'] is None" ||
  { echo "status does not flag c"; python3 -m json.tool "$STATUS" | head -60; exit 1; }
mismatch_metric_is 1 || { echo "ballast_hosts_claims_mismatch is not 1"; exit 1; }
[[ $(grep -c "host 'c' left out of planning: it claims libvirt_uri" "$LAB/balancer.log") -eq 1 ]] ||
  { echo "the mismatch is not logged exactly once"; grep "host 'c'" "$LAB/balancer.log"; exit 1; }
"$CTL" --no-color status | grep -E '^c +.*CLAIMS-MISMATCH\(libvirt_uri\)' ||
  { echo "ballastctl status does not mark c"; "$CTL" --no-color status; exit 1; }
rc=0
out=$("$CTL" migrate db c --force 2>&1) || rc=$?
if [[ $rc -eq 0 ]] || ! grep -q "inventory" <<<"$out"; then
  echo "a forced manual move to c was not refused (rc $rc): $out"
  exit 1
fi
echo "forced manual move to c refused (rc $rc): $out"

# c's collector fixed: claims what the inventory says; c is planned again.
old=$(cat "$LAB/pids/collector-c")
kill "$old"
lab_wait 10 "the lying collector to exit (its metrics port is reused)" \
  bash -c "! kill -0 $old 2>/dev/null"
harness_collector_config c c "$LAB/keys/c.key" >"$LAB/collector-c.yaml"
start_collector_c
match() { [[ $(harness_journal_count host_claims_match) -ge 1 ]]; }
lab_wait 30 "c's claims to match again" match
lab_wait 10 "status to clear c" harness_status "hosts['c']['claims_mismatch'] is None and s['claims_mismatch_hosts'] == []"
mismatch_metric_is 0 || { echo "ballast_hosts_claims_mismatch is not back to 0"; exit 1; }

bash "$E2E_DIR/check_no_secrets.sh" "$LAB" "http://127.0.0.1:$BALANCER_METRICS_PORT/metrics"
echo "PASS host_inventory_test"
