#!/usr/bin/env bash
# The real-Xen migration test (issue 15): two Xen 4.17 hosts, each Debian's hypervisor with a
# Debian dom0 booted under QEMU TCG, joined by a private link (a QEMU socket netdev on
# 127.0.0.1). Each dom0 runs xenstored, libvirtd with libvirt's libxl driver and the real
# ballast-collector (source: xenstat); dom0 A also runs the real ballast-balancer. Two busy
# PVH guests make A hot; the balancer decides, and libvirt's libxl driver live-migrates one
# guest to B. First the failure case: B already runs an unrelated guest of the same name as
# the guest the balancer picks first, so libvirt's libxl driver on B refuses the incoming
# migration; that guest must stay on A, once, journaled. Then the balancer moves the other
# guest for real.
#
# Why the balancer runs in dom0 A: migrations are peer to peer (the source libvirtd dials the
# destination URI the balancer names), so the balancer must name each host by an address
# every dom0 reaches. The link's addresses are reachable from both dom0s and not from this
# machine; the balancer sits on that "management network" as it would on a real cluster.
# The test drives and observes both dom0s through a shell each serves on a forwarded
# loopback port (QEMU user networking).
#
# Usage: run-xen-migrate-test.sh --bin DIR [--work DIR] [--cache DIR] [--timeout SECONDS]
#   --bin: the folder with the built ballast-collector, ballast-balancer and ballast-keygen.
# Exit 0 = pass. On failure both serial console logs and the dom0s' logs are printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/../.." && pwd)
bin=
work=${TMPDIR:-/tmp}/ballast-xen-migrate-test
cache=/var/cache/ballast/xen-test
timeout_s=660
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-xen-migrate-test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

t0=$(date +%s)
phase_t=$t0
fail() { echo "run-xen-migrate-test.sh: FAIL: $*" >&2; exit 1; }
log() { echo "run-xen-migrate-test.sh: [$(($(date +%s) - t0))s] $*"; }
# Ends a phase: prints how long it took (issue 15 asks for each phase's time).
phase() {
  local now
  now=$(date +%s)
  echo "run-xen-migrate-test.sh: [$((now - t0))s] PHASE $1: $((now - phase_t)) s"
  phase_t=$now
}

for p in ballast-collector ballast-balancer ballast-keygen; do
  [[ -x $bin/$p ]] || fail "--bin must name the folder of the built binaries (no $p in '$bin')"
done
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing (deploy/install-deps.sh)"
XL_WORK=$work
XL_CACHE=$cache
# shellcheck source=tests/xen/xen-lab.sh
. "$here/xen-lab.sh"

rm -rf "$work"
mkdir -p "$work"
declare -A qemu_pid=() ctl_port=()
hosts=(xen-a xen-b)
declare -A host_ip=([xen-a]=192.168.77.1 [xen-b]=192.168.77.2)

# dom0 NAME COMMAND: runs COMMAND in that dom0's shell and prints its output; the exit status
# is the command's (its marker goes on a line of its own: output need not end in a newline). Bounded: a dom0 that does not answer within 60 s is an error.
dom0() {
  local out rc
  out=$(timeout 60 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 97
    printf "%s\nexit\n" "$2" >&3
    cat <&3' _ "${ctl_port[$1]}" "( $2 ) 2>&1; printf '\\nBALLAST-RC=%s\\n' \$?") || true
  rc=$(sed -n 's/^BALLAST-RC=//p' <<<"$out" | tail -n1)
  sed '/^BALLAST-RC=/d' <<<"$out"
  [[ -n $rc ]] || return 98
  return "$rc"
}

# The balancer's files in dom0 A.
status_json() { dom0 xen-a 'cat /run/ballast/status.json'; }
journal() { dom0 xen-a 'cat /var/lib/ballast/journal.jsonl 2>/dev/null'; }
# journal_count EVENT [VM]
journal_count() {
  journal | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") == sys.argv[1] and (len(sys.argv) < 3 or r.get("vm") == sys.argv[2]):
        n += 1
print(n)' "$@"
}
# running_on UUID: the hosts whose Xen runs that domain (running or blocked, not paused,
# shut down or dying), by UUID: B's decoy has the same name as one of A's guests.
running_on() {
  local h
  for h in "${hosts[@]}"; do
    if dom0 "$h" "xl list -v" 2>/dev/null | awk -v u="$1" '$7 == u && $5 !~ /[psdc]/' | grep -q .; then
      echo "$h"
    fi
  done
}
# wait_until SECONDS WHAT COMMAND...
wait_until() {
  local limit=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [[ $(date +%s) -lt $end ]] || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 2
  done
}

on_exit() {
  local rc=$? h
  if [[ $rc -ne 0 ]]; then
    for h in "${hosts[@]}"; do
      if [[ -n ${ctl_port[$h]:-} ]]; then
        echo "===== $h: xl list, logs ====="
        dom0 "$h" 'xl list; for d in $(virsh -c xen:///system list --all --name); do echo "libvirt: $d $(virsh -c xen:///system domstate $d --reason)"; done; for f in /var/log/collector.log /var/log/balancer.log /var/log/libvirt/libvirtd.log /var/log/libvirt/libxl/libxl-driver.log /var/log/xen/console/*.log; do [ -f $f ] && { echo "--- $f"; tail -n 60 $f; }; done' 2>/dev/null || true
      fi
      if [[ -f $work/serial-$h.log ]]; then
        echo "===== $h: serial console ====="
        tr -d '\r' <"$work/serial-$h.log" | tail -n 80
      fi
    done
    if [[ -n ${ctl_port[xen-a]:-} ]]; then
      echo "===== journal ====="
      journal 2>/dev/null || true
      echo "===== the balancer's view (status file) ====="
      status_json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
for h in s["hosts"]:
    print(h["name"], "cpu", h.get("cpu_utilization"), "stale", h.get("stale"), "vms", [v["name"] for v in h["vms"]])' || true
    fi
  fi
  if [[ $rc -ne 0 && ${XEN_KEEP_ON_FAIL:-0} == 1 ]]; then
    echo "XEN_KEEP_ON_FAIL=1: both hosts stay up for 20 min (control shells on 127.0.0.1:${ctl_port[xen-a]:-} and :${ctl_port[xen-b]:-})"
    sleep 1200 &
    wait $! || true
  fi
  for h in "${hosts[@]}"; do xl_stop "${qemu_pid[$h]:-}"; done
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- build ---
xl_unpack libvirt-daemon-driver-xen
[[ -f $XL_PKGROOT/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_libxl.so ]] ||
  fail "no libvirt_driver_libxl.so in libvirt-daemon-driver-xen (run deploy/install-deps.sh)"
log "unpacked Xen 4.17, kernel $XL_KVER and libvirt's libxl driver"
xl_guest_images

keys=$work/keys
for k in balancer "${hosts[@]}"; do "$bin/ballast-keygen" --dir "$keys" "$k" >/dev/null; done

base=$work/dom0-base
xl_dom0_root "$base" "$here/dom0-migrate-init.sh" \
  xen_privcmd xenfs xen_evtchn xen_gntdev xen_gntalloc xen_blkback xen_netback bridge e1000
xl_copy_with_libs "$base" "$bin/ballast-collector" /usr/bin/ballast-collector
xl_copy_with_libs "$base" /usr/sbin/libvirtd /usr/sbin/libvirtd
xl_copy_with_libs "$base" /usr/bin/virsh /usr/bin/virsh
xl_copy_with_libs "$base" \
  "$XL_PKGROOT/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_libxl.so" \
  /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_libxl.so
# The libxl driver decodes the host CPU with libvirt's CPU map; it cannot start without it.
mkdir -p "$base/etc/libvirt" "$base/root" "$base/usr/share/libvirt"
cp -r /usr/share/libvirt/cpu_map "$base/usr/share/libvirt/"
# TEST STAND-IN for one CPU feature: QEMU's TCG does not emulate VME, which every real x86-64
# CPU has and every model in libvirt's CPU map requires, so on an emulated host the libxl
# driver finds no model for the host CPU and does not start ("Cannot find suitable CPU model
# for given data"). The dom0s' copy of the map drops VME from the models; nothing else in it
# changes, and on a real host none of this applies.
for f in "$base"/usr/share/libvirt/cpu_map/x86_*.xml; do
  [[ $f == */x86_features.xml ]] || sed -i "/<feature name='vme'\/>/d" "$f"
done
[[ -x /usr/sbin/dmidecode ]] && xl_copy_with_libs "$base" /usr/sbin/dmidecode /usr/sbin/dmidecode
echo 'root:x:0:0:root:/root:/bin/sh' >"$base/etc/passwd"
echo 'root:x:0:' >"$base/etc/group"
printf '127.0.0.1 localhost\n192.168.77.1 xen-a\n192.168.77.2 xen-b\n' >"$base/etc/hosts"
# libvirtd: plain TCP without authentication, on the test's private link only (a real
# cluster uses TLS: docs/xen.md).
cat >"$base/etc/libvirt/libvirtd.conf" <<'EOF'
listen_tls = 0
listen_tcp = 1
auth_tcp = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
cat >"$base/etc/libvirt/libxl.conf" <<'EOF'
autoballoon = 0
EOF
# The guests, as libvirt domains: what `virsh domxml-from-native xen-xl` makes of
# xl_guest_cfg's PVH config (machine xenpvh, TSC native), without the mouse and keyboard.
guest_xml() {  # NAME UUID MEMORY_MIB ROLE
  cat <<EOF
<domain type='xen'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory unit='MiB'>$3</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='xenpvh'>xenpvh</type>
    <kernel>/guest/vmlinux</kernel>
    <initrd>/guest/guest.cpio</initrd>
    <cmdline>console=hvc0 rdinit=/init mitigations=off init_on_alloc=0 ballast_role=$4</cmdline>
  </os>
  <clock offset='utc'><timer name='tsc' mode='native'/></clock>
  <on_crash>preserve</on_crash>
  <devices><console type='pty'><target type='xen' port='0'/></console></devices>
</domain>
EOF
}
# web is smaller, so the hotspot strategy picks it first (best CPU per GiB moved). 128 MiB
# is about the least these guests boot in (their kernel alone is a 63 MB ELF).
web_uuid=7a1c0de1-0000-4000-8000-00000000000a
batch_uuid=7a1c0de1-0000-4000-8000-00000000000b
decoy_uuid=7a1c0de1-0000-4000-8000-0000000000dc
guest_xml web $web_uuid 128 busy >"$base/etc/xen/web.xml"
guest_xml batch $batch_uuid 160 busy >"$base/etc/xen/batch.xml"
# On B: another domain named web (idle, its own UUID). libvirt refuses a second domain of
# that name, so the migration of A's web is refused on B.
guest_xml web $decoy_uuid 128 idle >"$base/etc/xen/decoy-web.xml"

for h in "${hosts[@]}"; do
  r=$work/dom0-$h
  cp -a "$base" "$r"
  install -m 600 "$keys/$h.key" "$r/etc/ballast/$h.key"
  install -m 644 "$keys/balancer.pub" "$r/etc/ballast/balancer.pub"
  cat >"$r/etc/ballast/collector.yaml" <<EOF
source: xenstat
host:
  name: $h
  # What the balancer's inventory says of this host; a mismatch leaves it out of planning.
  advertised_uri: xen+tcp://${host_ip[$h]}/system
  migration_address: ${host_ip[$h]}
interval: 1s
balancer:
  endpoint: tcp://192.168.77.1:7710
  key_file: /etc/ballast/$h.key
  server_public_key_file: /etc/ballast/balancer.pub
EOF
done
# The balancer, in dom0 A.
ra=$work/dom0-xen-a
xl_copy_with_libs "$ra" "$bin/ballast-balancer" /usr/bin/ballast-balancer
install -m 600 "$keys/balancer.key" "$ra/etc/ballast/balancer.key"
mkdir -p "$ra/etc/ballast/allow"
cp "$keys/xen-a.pub" "$keys/xen-b.pub" "$ra/etc/ballast/allow/"
cat >"$ra/etc/ballast/balancer.yaml" <<'EOF'
listen: tcp://192.168.77.1:7710
server_key_file: /etc/ballast/balancer.key
allowlist_dir: /etc/ballast/allow
table_interval: 0s
status_file: /run/ballast/status.json
status_interval: 1s
policy_file: /etc/ballast/policy.yaml
journal_file: /var/lib/ballast/journal.jsonl
startup_grace: 2s
# Host load as the sum of the guests' CPU. Under emulation dom0's own work (this balancer,
# libvirtd, the migration stream) costs many times what it does on hardware and swings by
# 20 points; counted in, it would leave a relieved host "hot" by noise alone.
host_load: vm_sum
metrics_listen: 127.0.0.1:9910
inventory:
  hosts:
    xen-a: {libvirt_uri: "xen+tcp://192.168.77.1/system", migration_address: 192.168.77.1}
    xen-b: {libvirt_uri: "xen+tcp://192.168.77.2/system", migration_address: 192.168.77.2}
EOF
# The default policy's rules on an emulated cluster's clock: the guests' busy loops make A's
# two CPUs hot; migrations under TCG take minutes, so the timeout is long.
cat >"$ra/etc/ballast/policy.yaml" <<'EOF'
apiVersion: ballast/v1
name: xen-e2e
mode: automatic
interval_seconds: 2
thresholds:
  cpu: {hot: 0.75, relieved: 0.60}
detection: {k: 3, n: 5, forecast: ewma, ewma_alpha: 0.5}
strategies: [hotspot]
limits:
  max_moves_per_round: 1
  max_concurrent: 1
  max_per_host_out: 1
  max_per_host_in: 1
  vm_cooldown_seconds: 300
  return_cooldown_seconds: 1800
migration:
  timeout_seconds: 480
  failure_backoff_seconds: 10
EOF
for h in "${hosts[@]}"; do xl_cpio "$work/dom0-$h" "$work/dom0-$h.cpio"; done
log "dom0 initramfs $(($(stat -c %s "$work/dom0-xen-a.cpio") / 1024 / 1024)) MiB"
phase build

# --- boot both hosts ---
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
link_port=$(free_port)
n=0
for h in "${hosts[@]}"; do
  n=$((n + 1))
  ctl_port[$h]=$(free_port)
  if [[ $h == xen-a ]]; then link="listen=127.0.0.1:$link_port"; else link="connect=127.0.0.1:$link_port"; fi
  XL_DOM0_ARGS="ballast_host=$h ballast_ip=${host_ip[$h]} ${XEN_DOM0_EXTRA:-}"
  export XL_DOM0_ARGS
  xl_boot "$work/dom0-$h.cpio" "$work/serial-$h.log" "$work/qemu-$h.out" "$timeout_s" 2048 2 \
    -nic "user,model=e1000,mac=52:54:00:00:10:0$n,restrict=on,hostfwd=tcp:127.0.0.1:${ctl_port[$h]}-:2323" \
    -nic "socket,model=e1000,mac=52:54:00:00:77:0$n,$link"
  qemu_pid[$h]=$XL_QEMU_PID
  log "$h: QEMU pid ${qemu_pid[$h]}, control shell on 127.0.0.1:${ctl_port[$h]}"
  [[ $h == xen-a ]] && sleep 1  # B connects to A's end of the link
done
ready() { grep -q "READY $1" "$work/serial-$1.log" 2>/dev/null; }
for h in "${hosts[@]}"; do
  wait_until 240 "$h to come up" ready "$h" || fail "$h did not come up"
  grep -a "BALLAST-DOM0" "$work/serial-$h.log" | tr -d '\r' | sed "s/^/  $h: /"
done
phase boot
# XEN_HOLD=1: stop here and keep both hosts up, to look around by hand (ports in $work/ports).
if [[ ${XEN_HOLD:-0} == 1 ]]; then
  log "holding (XEN_HOLD=1): control shells on 127.0.0.1:${ctl_port[xen-a]} and :${ctl_port[xen-b]}"
  echo "${ctl_port[xen-a]} ${ctl_port[xen-b]}" >"$work/ports"
  sleep 100000 &
  wait $!  # in the background: bash runs the TERM trap (and cleanup) only between commands
fi

# --- two busy PVH guests on A, defined in libvirt as an admin would ---
for g in web batch; do
  dom0 xen-a "virsh -c xen:///system define /etc/xen/$g.xml && timeout 120 virsh -c xen:///system start $g" ||
    fail "starting guest $g on xen-a"
done
dom0 xen-b "virsh -c xen:///system define /etc/xen/decoy-web.xml && timeout 120 virsh -c xen:///system start web" ||
  fail "starting the decoy guest web on xen-b"
guests_running() {
  [[ $(running_on $web_uuid) == xen-a && $(running_on $batch_uuid) == xen-a &&
     $(running_on $decoy_uuid) == xen-b ]]
}
wait_until 60 "web and batch to run on xen-a, the decoy web on xen-b" guests_running ||
  fail "the guests did not start"
dom0 xen-a 'xl list' | sed 's/^/  xen-a: /'
dom0 xen-b 'xl list' | sed 's/^/  xen-b: /'
phase guests

# --- the balancer, in dom0 A ---
dom0 xen-a 'ballast-balancer --config /etc/ballast/balancer.yaml >/var/log/balancer.out 2>/var/log/balancer.log & echo $! >/run/balancer.pid' ||
  fail "starting the balancer"
# status PYTHON_EXPR over the balancer's status JSON (s; hosts by name; vms: name -> host).
status() {
  status_json | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
hosts = {h["name"]: h for h in s["hosts"]}
vms = {v["name"]: h["name"] for h in s["hosts"] for v in h["vms"]}
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
# It decides within seconds of hearing both hosts: watch for its first move right away.
started() { [[ $(journal_count migration_started) -ge 1 ]]; }
wait_until 120 "the balancer to start a migration (xen-a is hot)" started ||
  fail "no migration started: $(dom0 xen-a 'tail -n 5 /var/log/balancer.log')"
phase decision

# --- failure first: libvirt on B refuses web (a domain of that name runs there) ---
first=$(journal | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("event") == "migration_started":
        print(r["vm_uuid"], r["vm"]); break')
first_uuid=${first% *}
first_vm=${first#* }
journal | grep -m1 '"migration_started"' | sed 's/^/  journal: /'
journal | grep -m1 '"migration_started"' | grep -q 'xen-a is hot on cpu' ||
  fail "the first move is not explained by xen-a's CPU hotspot"
[[ $first_uuid == "$web_uuid" ]] ||
  fail "the balancer moved $first_vm first, not web: the refusal was not exercised"
ended() { [[ $(($(journal_count migration_failed) + $(journal_count migration_aborted) + $(journal_count migration_finished))) -ge 1 ]]; }
wait_until 240 "the migration of web to end" ended || fail "the refused migration never ended"
[[ $(journal_count migration_finished) -eq 0 ]] ||
  fail "a migration finished first although B's libvirt should have refused web"
journal | grep -m1 '"migration_failed"\|"migration_aborted"' | sed 's/^/  journal: /'
where=$(running_on $web_uuid | xargs)
[[ $where == xen-a ]] || fail "after the refused migration web runs on '$where', not on xen-a once"
# The journal must say where it is. (libvirt 9.0's libxl driver itself then reports web
# "paused (migrating)" while Xen runs it, and refuses to resume it: docs/xen.md.)
dom0 xen-a 'virsh -c xen:///system domstate web --reason' | head -n1 | sed 's/^/  libvirt on xen-a: web /'
vm_on=$(journal | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("event") in ("migration_failed", "migration_aborted"):
        print(r.get("vm_on", "")); break')
[[ $vm_on == xen-a ]] || fail "the journal says the refused web runs on '$vm_on', not xen-a"
[[ $(running_on $decoy_uuid) == xen-b ]] || fail "the decoy web on xen-b is not running any more"
log "after the refusal web runs on xen-a only (and B's own web still runs)"
phase failure

# --- the balancer moves the other guest for real ---
finished() { [[ $(journal_count migration_finished) -ge 1 ]]; }
wait_until 300 "a migration to finish" finished || fail "no migration finished"
fin=$(journal | grep -m1 '"migration_finished"')
echo "  journal: $fin"
moved=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["vm"])' "$fin")
moved_uuid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["vm_uuid"])' "$fin")
[[ $moved_uuid == "$batch_uuid" ]] || fail "the move that finished is $moved, not batch"
python3 - "$fin" <<'PY' || fail "the journal's migration_finished lacks what an admin needs"
import json, sys
r = json.loads(sys.argv[1])
problems = []
if r.get("from") != "xen-a" or r.get("to") != "xen-b":
    problems.append(f"from/to {r.get('from')}->{r.get('to')}")
if not r.get("duration_ms", 0) > 0:
    problems.append("no duration_ms")
if "live" not in r.get("flags", []) or "peer2peer" not in r.get("flags", []):
    problems.append(f"flags {r.get('flags')}")
if not any(p.startswith("migrate_uri=tcp://192.168.77.2") for p in r.get("params", [])):
    problems.append(f"params {r.get('params')}")
for p in problems:
    print("migration_finished:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
phase migration

# --- what an admin would check ---
where=$(running_on $batch_uuid | xargs)
[[ $where == xen-b ]] || fail "batch runs on '$where', not on xen-b once"
where=$(running_on $web_uuid | xargs)
[[ $where == xen-a ]] || fail "at the end web (whose migration was refused) runs on '$where', not on xen-a once"
dom0 xen-a "xl list" | sed 's/^/  xen-a: /'
dom0 xen-b "xl list" | sed 's/^/  xen-b: /'
on_b() { status "any(v['uuid'] == '$batch_uuid' for v in hosts['xen-b']['vms'])"; }
wait_until 60 "xen-b's collector to report batch" on_b ||
  fail "the balancer's view does not show batch on xen-b"
relieved() { status 'hosts["xen-a"]["cpu_utilization"] < 0.60'; }
wait_until 60 "xen-a below its relieved mark (60 %)" relieved ||
  fail "xen-a is not relieved: $(status_json | head -c 600)"
dom0 xen-a 'grep -m1 "migrating .* from xen-a to xen-b" /var/log/balancer.log' | sed 's/^/  balancer: /'
phase checks
log "PASS: batch live-migrated from xen-a to xen-b through libvirt's libxl driver on the balancer's decision; the refused migration left web on xen-a once"
