#!/usr/bin/env bash
# collector_overhead.sh -- what ballast-collector costs its whole host (its own CPU, libvirtd's
# and QEMU's above an idle baseline) side by side with collectd's virt plugin and
# prometheus-libvirt-exporter, on one real libvirt host (issue 19 target 3).
#
# usage (as root):
#   bench/collector_overhead.sh BIN_DIR [-n "20 60"] [-w WINDOW_S] [-r REPEATS] [-b BEFORE_BIN]
#
#   BIN_DIR   the build's bin directory (ballast-collector, ballast-balancer, ballast-keygen)
#   -n LIST   guest counts, one harness invocation each (default "20 60")
#   -w S      measurement window per run (default 60)
#   -r K      repeats per collector, interleaved (default 3)
#   -b PATH   another ballast-collector binary measured in the same invocations, as
#             "ballast-before" (e.g. a build of the commit before a change)
#
# It drives ../shared/bench/collector-overhead (its README has the method and the columns):
# per guest count, one unprivileged session libvirtd and N idle 16 MiB TCG guests serve every
# run; runs are interleaved none, [ballast-before], ballast, collectd-virt, libvirt-exporter.
# The collectors publish to a real ballast-balancer over CURVE (a recommend-only policy, so
# nothing moves); at the end the balancer's own counters show that every accepted sample
# carried N VMs. Needs collectd-core and prometheus-libvirt-exporter (apt-get install -y
# --no-install-recommends collectd-core prometheus-libvirt-exporter); a peer that is missing
# is left out, with a warning. Results: $WORK/results.csv and a markdown table on stdout
# (summarize.py: medians, whole-host ms per VM-sample). Everything started here is stopped by
# pid on exit.
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 && $1 != -h && $1 != --help ]] || usage
BIN=$(cd "$1" && pwd)
shift
COUNTS="20 60" WINDOW=60 REPEATS=3 BEFORE=""
while getopts n:w:r:b:h o; do
  case $o in
    n) COUNTS=$OPTARG ;; w) WINDOW=$OPTARG ;; r) REPEATS=$OPTARG ;; b) BEFORE=$OPTARG ;;
    *) usage ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root (the harness starts a libvirt host as user lvma)" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=${HARNESS:-$HERE/../../shared/bench/collector-overhead}
[[ -x $HARNESS/collector-overhead.sh ]] || { echo "no harness at $HARNESS (set HARNESS)" >&2; exit 1; }
for b in ballast-collector ballast-balancer ballast-keygen; do
  [[ -x $BIN/$b ]] || { echo "$BIN/$b missing: build it first" >&2; exit 1; }
done
[[ -z $BEFORE || -x $BEFORE ]] || { echo "-b $BEFORE is not an executable" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ballast-collector-overhead.XXXXXX)
chmod 755 "$WORK"
export WORK RESULTS=$WORK/results.csv SCRATCH=$WORK/scratch
BPID=""
cleanup() {
  local rc=$?
  if [[ -n $BPID ]] && kill -0 "$BPID" 2>/dev/null; then
    kill -TERM "$BPID"
    for _ in $(seq 50); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$BPID" 2>/dev/null || true
  fi
  echo "results and logs kept in $WORK" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The balancer: CURVE, the collector's key in its allowlist, an inventory entry for the host.
mkdir -p "$WORK/keys" "$WORK/allow"
"$BIN/ballast-keygen" --dir "$WORK/keys" balancer >/dev/null
"$BIN/ballast-keygen" --dir "$WORK/keys" bench >/dev/null
cp "$WORK/keys/bench.pub" "$WORK/allow/"
port=$(free_port) mport=$(free_port)
cp "$HERE/../policies/recommend-only.yaml" "$WORK/policy.yaml"
cat >"$WORK/balancer.yaml" <<YAML
listen: tcp://127.0.0.1:$port
server_key_file: $WORK/keys/balancer.key
allowlist_dir: $WORK/allow
policy_file: $WORK/policy.yaml
journal_file: $WORK/journal.jsonl
status_file: $WORK/status.json
table_interval: 0s
metrics_listen: 127.0.0.1:$mport
inventory:
  hosts: {bench: {libvirt_uri: "qemu:///system"}}
YAML
"$BIN/ballast-balancer" --config "$WORK/balancer.yaml" >"$WORK/balancer.out" 2>"$WORK/balancer.log" &
BPID=$!
for _ in $(seq 100); do [[ -s $WORK/status.json ]] && break; sleep 0.1; done
[[ -s $WORK/status.json ]] || { cat "$WORK/balancer.log" >&2; echo "balancer did not start" >&2; exit 1; }

# The collector's config; the harness puts the host's URI in for @URI@.
cmport=$(free_port)
cat >"$WORK/collector.tmpl" <<YAML
host: {name: bench, libvirt_uri: "@URI@"}
interval: 1s
balancer:
  endpoint: tcp://127.0.0.1:$port
  key_file: $WORK/keys/bench.key
  server_public_key_file: $WORK/keys/balancer.pub
metrics_listen: 127.0.0.1:$cmport
YAML
ballast_cmd() {  # ballast_cmd BINARY
  printf 'sed "s|@URI@|$URI|" %q > "$RUNDIR/c.yaml" && exec %q --config "$RUNDIR/c.yaml"' \
    "$WORK/collector.tmpl" "$1"
}
entries=(none 'exec sleep 1000000')
[[ -n $BEFORE ]] && entries+=(ballast-before "$(ballast_cmd "$BEFORE")")
entries+=(ballast "$(ballast_cmd "$BIN/ballast-collector")")
pull=()
if [[ -x /usr/sbin/collectd ]]; then
  entries+=(collectd-virt "$HARNESS/collectd-virt.sh")
else
  echo "warning: collectd-core not installed: collectd-virt left out" >&2
fi
if command -v prometheus-libvirt-exporter >/dev/null; then
  entries+=(libvirt-exporter
    'exec prometheus-libvirt-exporter --libvirt.uri=$URI --web.listen-address=127.0.0.1:$PORT')
  pull=(-p libvirt-exporter)
else
  echo "warning: prometheus-libvirt-exporter not installed: left out" >&2
fi

metric() {  # metric NAME: the balancer's counter
  curl -sf "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m { printf "%d", $2 }'
}
for n in $COUNTS; do
  s0=$(metric ballast_samples_received_total) v0=$(metric ballast_vm_samples_received_total)
  "$HARNESS/collector-overhead.sh" -n "$n" -w "$WINDOW" -r "$REPEATS" "${pull[@]}" "${entries[@]}"
  s=$(($(metric ballast_samples_received_total) - s0))
  v=$(($(metric ballast_vm_samples_received_total) - v0))
  echo "N=$n: the balancer accepted $s samples with $v VM entries ($(python3 -c "print(round($v / max($s, 1), 2))") a sample; expected $n)"
  [[ $s -gt 0 && $v -eq $((s * n)) ]] || { echo "samples were lost or incomplete" >&2; exit 1; }
done
python3 "$HARNESS/summarize.py" "$RESULTS"
