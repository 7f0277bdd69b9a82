#!/usr/bin/env bash
# Integration: two real libvirt hosts, real QEMU guests, the real collector and balancer
# binaries over CURVE on loopback. Asserts what an admin would see in the balancer's view:
# the spinning guest near 100% of a vCPU, the idle one near 0, memory as configured, both on
# host a, host b empty; and that an unknown key or a plaintext publisher cannot inject a host.
#   cluster_view_test.sh BIN_DIR
set -euo pipefail
BALLAST_BIN=$(cd "$1" && pwd)
export BALLAST_BIN
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../../deploy/lab/lab.sh"
source "$HERE/harness.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-view-$$"
lab_start_host a 1
lab_start_host b 2
lab_boot_guest a spin spin 64
lab_boot_guest a idle idle 96

harness_start_balancer
harness_start_collector a
harness_start_collector b

check_view() {
  python3 - "$STATUS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
hosts = {h["name"]: h for h in s["hosts"]}
a, b = hosts.get("a"), hosts.get("b")
assert a and b, f"hosts seen: {sorted(hosts)}"
vms = {v["name"]: v for v in a["vms"]}
assert set(vms) == {"spin", "idle"}, f"VMs on a: {sorted(vms)}"
assert b["vms"] == [], f"VMs on b: {[v['name'] for v in b['vms']]}"
spin, idle = vms["spin"]["cpu_cores"], vms["idle"]["cpu_cores"]
assert spin is not None and idle is not None, "no rates yet"
assert 0.7 <= spin <= 1.1, f"spin uses {spin:.3f} cores"
assert idle <= 0.1, f"idle uses {idle:.3f} cores"
assert vms["spin"]["memory_bytes"] == 64 << 20, vms["spin"]["memory_bytes"]
assert vms["idle"]["memory_bytes"] == 96 << 20, vms["idle"]["memory_bytes"]
assert not a["stale"] and not b["stale"]
assert a["capacity"]["cpu_cores"] == 1
assert 0.8 <= a["cpu_utilization"] <= 1.2, a["cpu_utilization"]
assert b["cpu_utilization"] == 0
print(f"view ok: spin {spin:.2f} cores, idle {idle:.3f} cores, a at {a['cpu_utilization']:.0%}")
PY
}
# Rates settle after two samples; give TCG guests and a busy machine some slack.
lab_wait 60 "the balancer to show spin ~1 core and idle ~0 on host a" check_view 2>/dev/null ||
  { check_view || true; cat "$STATUS"; exit 1; }

# Security: a collector with a key the balancer does not know, and a plaintext one, both
# claiming to be host "intruder" with a hot spinning guest.
"$BALLAST_BIN/ballast-keygen" --dir "$LAB/rogue" intruder >/dev/null
harness_collector_config intruder a "$LAB/rogue/intruder.key" >"$LAB/intruder.yaml"
harness_collector_config intruder a "" plaintext >"$LAB/plain.yaml"
"$BALLAST_BIN/ballast-collector" --config "$LAB/intruder.yaml" >"$LAB/intruder.log" 2>&1 &
lab_track intruder $!
"$BALLAST_BIN/ballast-collector" --config "$LAB/plain.yaml" >"$LAB/plain.log" 2>&1 &
lab_track plain $!
rejected() {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["auth_rejected"]>=2 else 1)' "$STATUS"
}
lab_wait 30 "the balancer to reject both rogue publishers" rejected
sleep 3  # several publishing intervals
python3 - "$STATUS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
names = [h["name"] for h in s["hosts"]]
assert "intruder" not in names, f"forged host accepted: {names}"
assert s["decode_errors"] == 0
print(f"rogue publishers rejected ({s['auth_rejected']} handshakes refused); hosts: {names}")
PY
grep -q "refused this collector's CURVE key" "$LAB/intruder.log" ||
  { echo "the rogue collector was not told why it was refused"; cat "$LAB/intruder.log"; exit 1; }
grep -q "is not in the allowlist" "$LAB/balancer.log"
# Which side notices the plaintext peer first is a race: either way the log says plaintext.
grep -Eq "it does not speak CURVE|it hung up during the handshake \(plaintext collector" "$LAB/balancer.log"

# The table an admin reads on SIGUSR1.
# Asked again until it shows a ok: while the balancer migrates a VM off a, a's collector can
# block in libvirt long enough for a to read STALE in one table.
table_shows_a_ok() {
  kill -USR1 "$(cat "$LAB/pids/balancer")"
  sleep 0.5
  grep -Eq "^a +[0-9.]+% .*ok$" "$LAB/balancer.out"
}
lab_wait 20 "the cluster table on stdout, host a ok" table_shows_a_ok
grep -A3 '^HOST' "$LAB/balancer.out" | tail -4
echo "PASS cluster_view_test"
