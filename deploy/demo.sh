#!/usr/bin/env bash
# Ballast demo: three real libvirt test hosts on this machine, real QEMU guests, one
# collector per host and the balancer, all over CURVE on loopback. Host a gets two spinning
# guests (a hotspot on a 1-CPU test host); the balancer shows the live cluster.
# Everything is torn down at the end (or on Ctrl-C).
#
#   deploy/demo.sh [--build-dir DIR] [--seconds N]
#
# Needs: deploy/install-deps.sh (as root) and a build (cmake -S . -B build && cmake --build build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
SHOW_SECONDS=12
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --seconds) SHOW_SECONDS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
export BALLAST_BIN="$BUILD/bin"
for b in ballast-balancer ballast-collector ballast-keygen; do
  [[ -x $BALLAST_BIN/$b ]] || { echo "demo.sh: $BALLAST_BIN/$b missing: build first (see README)" >&2; exit 2; }
done
source "$ROOT/deploy/lab/lab.sh"
source "$ROOT/tests/integration/harness.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Asks the balancer for its table (SIGUSR1) and prints what it adds to its stdout.
table() {
  local off
  off=$(stat -c %s "$LAB/balancer.out")
  kill -USR1 "$(cat "$LAB/pids/balancer")"
  lab_wait 5 "the cluster table" bash -c "tail -c +$((off + 1)) '$LAB/balancer.out' | grep -q '^HOST'"
  sleep 0.2
  tail -c +$((off + 1)) "$LAB/balancer.out"
}

say "Starting three libvirt test hosts (unprivileged libvirtd each, QEMU TCG guests)"
lab_init "${TMPDIR:-/tmp}/ballast-demo-$$"
for i in 1 2 3; do lab_start_host "$(printf '%b' "\x$(printf %x $((96 + i)))")" "$i"; done

say "Booting guests: two CPU-bound guests and an idle one on host a, an idle one on host b"
lab_boot_guest a web-1 spin 128
lab_boot_guest a batch-1 spin 128
lab_boot_guest a cache-1 idle 256
lab_boot_guest b db-1 idle 512

say "Starting the balancer and one collector per host (CURVE keys from ballast-keygen)"
harness_start_balancer
for h in a b c; do harness_start_collector "$h"; done
lab_wait 30 "all three hosts to report" python3 -c '
import json,sys; s=json.load(open(sys.argv[1]))
sys.exit(0 if len(s["hosts"])==3 and all(v["cpu_cores"] is not None for h in s["hosts"] for v in h["vms"]) else 1)' "$STATUS"

say "The cluster as the balancer sees it (1 CPU per test host: host a is a hotspot)"
table
end=$((SECONDS + SHOW_SECONDS))
while ((SECONDS < end)); do
  sleep 4
  say "$(date +%T)"
  table
done
say "Tearing down (guests destroyed, daemons stopped by pid)"
