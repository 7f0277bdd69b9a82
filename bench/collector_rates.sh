#!/usr/bin/env bash
# collector_rates.sh -- the rates the balancer derives from two ballast-collector binaries on
# the same guests (issue 19 target 3: nothing the balancer uses may get less accurate).
#
# usage (as root): bench/collector_rates.sh BIN_DIR BEFORE_COLLECTOR [WINDOW_S] [ROUNDS]
#
# One real libvirt test host (deploy/lab/lab.sh) with four guests of known load: spin (100 %
# of a vCPU), load60 and load33 (60 % and 33 %, timed by the guest's BIOS clock) and idle (with
# a NIC on a tap, so it has network counters; with no OS it never drains its NIC, so their
# rate is 0 whoever reads them). The real balancer ingests over CURVE; the two
# collectors take turns, ROUNDS times each (default 3), each turn publishing for WINDOW_S
# seconds (default 30) after a 5 s warm-up. Every second the balancer's status gives each
# VM's CPU rate (cores) and network rate; the table shows, per VM and collector, the mean and
# standard deviation of those rates over all turns, and memory and vCPUs as the balancer
# holds them. Everything started here is stopped by pid at exit (lab_teardown).
set -euo pipefail
[[ $# -ge 2 && $1 != -h && $1 != --help ]] ||
  { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
BALLAST_BIN=$(cd "$1" && pwd)
BEFORE=$(realpath "$2")
WINDOW=${3:-30} ROUNDS=${4:-3}
export BALLAST_BIN
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../deploy/lab/lab.sh"
source "$HERE/../tests/integration/harness.sh"
[[ $(id -u) -eq 0 ]] || lab_die "run as root (the idle guest's NIC needs a tap device)"

lab_init "${TMPDIR:-/tmp}/ballast-collector-rates-$$"
lab_start_host a 1
lab_boot_guest a spin spin 64
lab_boot_guest a load60 load60 64
lab_boot_guest a load33 load33 64
lab_boot_guest a idle idle 96 nic
harness_start_balancer

HARNESS_INTERVAL=1s HARNESS_CPU_CORES=4 harness_collector_setup a
: >"$LAB/rates.jsonl"
for r in $(seq "$ROUNDS"); do
  for which in before after; do
    bin=$BALLAST_BIN/ballast-collector
    [[ $which == before ]] && bin=$BEFORE
    "$bin" --config "$LAB/collector-a.yaml" >"$LAB/collector-$which-$r.log" 2>&1 &
    lab_track collector $!
    sleep 5
    for _ in $(seq "$WINDOW"); do
      python3 - "$STATUS" "$which" >>"$LAB/rates.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for h in s["hosts"]:
    if h["name"] == "a" and not h["stale"]:
        for v in h["vms"]:
            print(json.dumps({"who": sys.argv[2], "vm": v["name"], "cpu": v["cpu_cores"],
                              "net": v["net_bits_per_second"], "mem": v["memory_bytes"],
                              "vcpus": v["vcpus"]}))
PY
      sleep 1
    done
    kill -TERM "$(cat "$LAB/pids/collector")"
    wait "$(cat "$LAB/pids/collector")" 2>/dev/null || true
    sleep 3  # the host goes stale; the next collector's first sample has no rate yet
  done
done
python3 - "$LAB/rates.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def fmt(xs, scale=1, nd=3):
    xs = [x * scale for x in xs if x is not None]
    if not xs:
        return "-"
    sd = statistics.pstdev(xs)
    return f"{statistics.mean(xs):.{nd}f} ± {sd:.{nd}f} (n={len(xs)})"
print("| VM | CPU cores, before | CPU cores, after | net kbit/s, before | net kbit/s, after | memory MiB, vCPUs (before / after) |")
print("|---|---|---|---|---|---|")
for vm in sorted({r["vm"] for r in rows}):
    b = [r for r in rows if r["vm"] == vm and r["who"] == "before"]
    a = [r for r in rows if r["vm"] == vm and r["who"] == "after"]
    mem = lambda rs: sorted({(r["mem"] >> 20, r["vcpus"]) for r in rs})
    print(f"| {vm} | {fmt([r['cpu'] for r in b])} | {fmt([r['cpu'] for r in a])} | "
          f"{fmt([r['net'] for r in b], 1e-3, 2)} | {fmt([r['net'] for r in a], 1e-3, 2)} | "
          f"{mem(b)} / {mem(a)} |")
PY
