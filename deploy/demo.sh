#!/usr/bin/env bash
# Ballast demo: three real libvirt test hosts on this machine, real QEMU guests, one
# collector per host and the balancer, all over CURVE on loopback. Host a gets two busy
# guests (a hotspot on a 1-CPU test host); the balancer detects it under
# policies/default.yaml, explains its decision, relieves it with a real live migration and
# shows the relieved cluster. Every process is torn down at the end (or on Ctrl-C); the logs,
# journal and configs stay in the lab directory it names.
#
# A Prometheus (Debian's) scrapes the balancer and the collectors meanwhile; the demo prints
# where. With --keep it stays up after the migration until Ctrl-C, to look around.
#
#   deploy/demo.sh [--build-dir DIR] [--keep]
#
# Needs: deploy/install-deps.sh (as root) and a build (cmake -S . -B build && cmake --build build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

journal() {  # journal EVENT FORMAT: prints the first record of EVENT with FORMAT (str.format)
  python3 - "$JOURNAL" "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == sys.argv[2]:
        print(sys.argv[3].format(**r))
        break
PY
}
has_event() { [[ -n $(journal "$1" x) ]]; }

say "Starting three libvirt test hosts (an unprivileged libvirtd each, QEMU TCG guests)"
# Keep the directory after a clean run too: the demo points at its journal and logs.
export LAB_KEEP_DIR=1
lab_init "${TMPDIR:-/tmp}/ballast-demo-$$"
lab_start_host a 1
lab_start_host b 2
lab_start_host c 3

say "Booting guests: two busy guests (60% of a vCPU each) and an idle one on host a, one idle on b"
lab_boot_guest a web-1 load60 128
lab_boot_guest a batch-1 load60 128
lab_boot_guest a cache-1 idle 256
lab_boot_guest b db-1 idle 512

say "Starting the balancer (policy: policies/default.yaml) and a collector per host, over CURVE"
cp "$ROOT/policies/default.yaml" "$LAB/policy.yaml"
export HARNESS_INTERVAL=1s
harness_start_balancer
echo "The balancer connects (and sends migration traffic) only where its inventory says:"
sed -n '/^inventory:/,/^  pattern/p' "$LAB/balancer.yaml"
for h in a b c; do harness_start_collector "$h"; done
start_prometheus() {
  command -v prometheus >/dev/null || { echo "(prometheus not installed: skipping it)"; return; }
  PROM_PORT=$(lab_free_port)
  {
    echo "global: {scrape_interval: 2s, evaluation_interval: 2s}"
    echo "rule_files: [$ROOT/deploy/prometheus/ballast-alerts.yml]"
    echo "scrape_configs:"
    echo "  - job_name: ballast-balancer"
    echo "    static_configs: [{targets: ['127.0.0.1:$BALANCER_METRICS_PORT'], labels: {cluster: demo}}]"
    echo "  - job_name: ballast-collector"
    echo "    static_configs:"
    for h in a b c; do
      echo "      - {targets: ['127.0.0.1:$(cat "$LAB/metrics-port-$h")'], labels: {cluster: demo, host: $h}}"
    done
  } >"$LAB/prometheus.yml"
  [[ -f $ROOT/deploy/prometheus/ballast-alerts.yml ]] || sed -i '/^rule_files/d' "$LAB/prometheus.yml"
  prometheus --config.file="$LAB/prometheus.yml" --storage.tsdb.path="$LAB/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$LAB/prometheus.log" 2>&1 &
  lab_track prometheus $!
  echo "Prometheus: http://127.0.0.1:$PROM_PORT  (try: ballast_host_utilization_ratio, ballast_migrations_finished_total)"
  echo "Metrics:    balancer http://127.0.0.1:$BALANCER_METRICS_PORT/metrics; Grafana dashboards in grafana/"
}
start_prometheus

lab_wait 30 "all three hosts to report" python3 -c '
import json,sys; s=json.load(open(sys.argv[1]))
sys.exit(0 if len(s["hosts"])==3 and all(v["cpu_cores"] is not None for h in s["hosts"] for v in h["vms"]) else 1)' "$STATUS"

say "The cluster as the balancer sees it (each test host offers 1 CPU: two busy guests make host a hot)"
table

say "Waiting for the balancer to confirm the hotspot (3 of the last 5 samples over 85%, and the forecast)"
lab_wait 60 "a decision" has_event migration_started
journal migration_started "Decision: {explanation}"

say "Live migration under way (libvirt peer-to-peer)"
lab_wait 60 "the migration to finish" bash -c "grep -q '\"migration_\(finished\|failed\|aborted\)\"' '$JOURNAL'"
if has_event migration_finished; then
  journal migration_finished "Migrated {vm} from {from} to {to} in {duration_ms} ms (downtime {downtime_ms} ms)."
else
  journal migration_failed "Migration failed: {error}" || true
  exit 1
fi
vm=$(journal migration_finished "{vm}")
to=$(journal migration_finished "{to}")
echo "libvirt on host $to: $vm is $(lab_virsh "$to" domstate "$vm")"

say "The relieved cluster"
lab_wait 20 "host a to drop below the hot mark" python3 -c '
import json,sys; s=json.load(open(sys.argv[1])); h={x["name"]:x for x in s["hosts"]}
sys.exit(0 if h["a"]["cpu_utilization"] < 0.85 and not s["in_flight"] else 1)' "$STATUS"
sleep 1
table

say "Every decision is in the journal ($JOURNAL):"
python3 - "$JOURNAL" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f'  {r["ts"]}  {r["event"]:<20} {r.get("vm", r.get("policy", ""))}')
PY
if [[ $KEEP == 1 ]]; then
  say "Still running (--keep): Prometheus at http://127.0.0.1:${PROM_PORT:-?}; press Ctrl-C to tear down"
  while sleep 3600; do :; done
fi
say "Tearing down (guests destroyed, daemons stopped by pid); logs, journal and configs stay in $LAB"
