#!/usr/bin/env bash
# Integration (issue 19 target 3): the collector reads everything the balancer uses without
# sending one command to a guest's QEMU monitor, and what it reads are libvirt's own numbers.
# One real session libvirtd that logs every monitor command it sends (LAB_MONITOR_LOG), a
# spinning guest and an idle one (with a NIC on a tap of its own when run as root); the real
# collector publishing to the real balancer over CURVE.
#   collector_cost_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"

export LAB_MONITOR_LOG=1
lab_init "${TMPDIR:-/tmp}/ballast-it-cost-$$"
lab_start_host a 1
lab_boot_guest a spin spin 64
nic=""
[[ $(id -u) -eq 0 ]] && nic=nic
lab_boot_guest a idle idle 96 $nic

LOG="$LAB/hosts/a/libvirtd.log"
monitor_commands() { grep -c 'QEMU_MONITOR_SEND_MSG' "$LOG" || true; }

# 1. The log is not blind: the stats groups the collector used to ask for (cpu, balloon, vcpu,
#    block) do send monitor commands, and libvirtd logs them.
mark=$(monitor_commands)
lab_virsh a domstats --cpu-total --balloon --vcpu --block >/dev/null
sent=$(($(monitor_commands) - mark))
[[ $sent -gt 0 ]] ||
  lab_die "libvirtd logged no monitor command for virsh domstats: the check below would be blind"
echo "virsh domstats --cpu-total --balloon --vcpu --block sent $sent monitor commands for 2 guests"

# 2. The collector publishes for a while; the balancer sees the right rates and sizes; libvirtd
#    sent no monitor command meanwhile.
harness_start_balancer
mark=$(monitor_commands)
harness_start_collector a
check_view() {
  python3 - "$STATUS" "$nic" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
a = {h["name"]: h for h in s["hosts"]}.get("a")
assert a, "host a not seen yet"
vms = {v["name"]: v for v in a["vms"]}
assert set(vms) == {"spin", "idle"}, sorted(vms)
spin, idle = vms["spin"], vms["idle"]
assert spin["cpu_cores"] is not None and idle["cpu_cores"] is not None, "no rates yet"
assert 0.7 <= spin["cpu_cores"] <= 1.1, spin["cpu_cores"]
assert idle["cpu_cores"] <= 0.1, idle["cpu_cores"]
assert spin["memory_bytes"] == 64 << 20 and idle["memory_bytes"] == 96 << 20
assert spin["vcpus"] == 1 and idle["vcpus"] == 1, (spin["vcpus"], idle["vcpus"])
if sys.argv[2]:
    assert idle["net_bits_per_second"] is not None, "no network rate for the guest with a NIC"
print(f"view ok: spin {spin['cpu_cores']:.2f} cores, idle {idle['cpu_cores']:.3f}")
PY
}
lab_wait 60 "the balancer to show spin ~1 core and idle ~0 on host a" check_view 2>/dev/null ||
  { check_view || true; cat "$STATUS"; exit 1; }
sleep 5  # ten more 500 ms reads
samples=$(curl -sf "http://127.0.0.1:$BALANCER_METRICS_PORT/metrics" |
  awk '$1 == "ballast_samples_received_total" { printf "%d", $2 }')
[[ ${samples:-0} -ge 10 ]] || lab_die "the balancer accepted only ${samples:-0} samples"
sent=$(($(monitor_commands) - mark))
if [[ $sent -ne 0 ]]; then
  grep QEMU_MONITOR_SEND_MSG "$LOG" | tail -5 >&2
  lab_die "libvirtd sent $sent monitor commands while the collector read (samples: $samples)"
fi
echo "no monitor command in $samples samples"

# 3. The same numbers as libvirt's stats groups, read at (nearly) the same moment.
harness_collector_config a a "" plaintext >"$LAB/once.yaml"
compare() {
  lab_virsh a domstats --cpu-total --balloon --vcpu --interface >"$LAB/domstats.txt"
  local t0 t1
  t0=$(date +%s%N)
  "$BALLAST_BIN/ballast-collector" --config "$LAB/once.yaml" --once --json >"$LAB/once.json" \
    2>/dev/null
  t1=$(date +%s%N)
  python3 - "$LAB/domstats.txt" "$LAB/once.json" $((t1 - t0)) <<'PY'
import json, re, sys
groups, dom = {}, None
for line in open(sys.argv[1]):
    m = re.match(r"Domain: '(.*)'", line.strip())
    if m:
        dom = groups.setdefault(m.group(1), {})
    elif "=" in line and dom is not None:
        k, v = line.strip().split("=", 1)
        dom[k] = v
once = {v["name"]: v for v in json.load(open(sys.argv[2]))["vms"]}
slack = int(sys.argv[3]) + 50_000_000  # the collector ran after virsh; 10 ms ticks
for name, d in groups.items():
    v = once[name]
    cpu = int(d["cpu.time"])
    assert 0 <= v["cpu_ns"] - cpu <= slack, (name, v["cpu_ns"], cpu, slack)
    assert v["memory_current_bytes"] == int(d["balloon.current"]) * 1024, name
    assert v["memory_max_bytes"] == int(d["balloon.maximum"]) * 1024, name
    assert v["vcpus"] == int(d["vcpu.current"]), name
    rx = sum(int(x) for k, x in d.items() if re.fullmatch(r"net\.\d+\.rx\.bytes", k))
    if rx:
        assert 0 <= v["net_rx_bytes"] - rx <= 65536, (name, v["net_rx_bytes"], rx)
    assert "block_rd_bytes" not in v, "block counters read although block_stats is off"
    print(f"{name}: cpu {v['cpu_ns']} ns (libvirt's cpu group {cpu}), "
          f"memory {v['memory_current_bytes']} of {v['memory_max_bytes']}, {v['vcpus']} vCPU")
PY
}
compare

# 4. libvirt.block_stats: true adds the block group, and with it its monitor commands.
{ cat "$LAB/once.yaml"; printf 'libvirt:\n  block_stats: true\n'; } >"$LAB/block.yaml"
mark=$(monitor_commands)
"$BALLAST_BIN/ballast-collector" --config "$LAB/block.yaml" --once --json >"$LAB/block.json" \
  2>/dev/null
sent=$(($(monitor_commands) - mark))
python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["vms"]; assert all("block_rd_bytes" in x for x in v), v' \
  "$LAB/block.json"
grep QEMU_MONITOR_SEND_MSG "$LOG" | tail -n "$sent" | grep query-blockstats >/dev/null ||
  lab_die "block_stats: true sent no query-blockstats"
echo "block_stats: true: block counters read, $sent monitor commands"
# 5. libvirtd dies (its guests run on): the collector publishes nothing rather than a host
#    with fewer VMs, says so, and is back with both VMs once the daemon is.
kill -KILL "$(cat "$LAB/pids/libvirtd-a")"
python3 - "$STATUS" <<'PY'
import json, sys, time
end = time.monotonic() + 5
while time.monotonic() < end:
    try:
        s = json.load(open(sys.argv[1]))
    except ValueError:  # caught mid-write
        continue
    a = {h["name"]: h for h in s["hosts"]}["a"]
    names = sorted(v["name"] for v in a["vms"])
    assert names == ["idle", "spin"], f"with libvirtd gone the balancer saw VMs {names} on a"
    time.sleep(0.2)
PY
lab_wait 10 "the collector to notice libvirtd is gone" \
  grep -Eq "lost libvirt connection|not publishing" "$LAB/collector-a.log"
lab_start_host a 1
fresh() {
  check_view >/dev/null &&
    python3 -c 'import json,sys; a={h["name"]:h for h in json.load(open(sys.argv[1]))["hosts"]}["a"]; sys.exit(0 if a["age_seconds"] < 2 else 1)' "$STATUS"
}
lab_wait 60 "the collector to be back with both VMs" fresh
grep -q "is back" "$LAB/collector-a.log"
echo "libvirtd killed and restarted: no false sample, collector back"
echo "PASS collector_cost_test"
