#!/usr/bin/env bash
# Stops everything a lab started (see lab.sh): guests first (a killed libvirtd leaves QEMU
# running), then every recorded process by pid. Idempotent.
#   lab-teardown.sh LAB            tear down now
#   lab-teardown.sh --watch PID LAB  wait until PID exits, then tear down (the watchdog)
set -u
if [[ ${1:-} == --watch ]]; then
  parent=$2
  LAB=$3
  while kill -0 "$parent" 2>/dev/null; do sleep 1; done
  [[ -d $LAB/pids ]] || exit 0
else
  LAB=$1
fi
[[ -d $LAB ]] || exit 0

as_user() {
  local owner
  owner=$(stat -c %U "$LAB/hosts" 2>/dev/null || id -un)
  if [[ $(id -u) -eq 0 && $owner != root ]]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

# Our own processes (collectors, balancer, prometheus...) first, so nothing reacts to the
# guests going away.
for f in "$LAB"/pids/*; do
  [[ -f $f ]] || continue
  name=$(basename "$f")
  [[ $name == libvirtd-* || $name == watchdog ]] && continue
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null
done
for _ in $(seq 1 20); do
  alive=0
  for f in "$LAB"/pids/*; do
    [[ -f $f ]] || continue
    name=$(basename "$f")
    [[ $name == libvirtd-* || $name == watchdog ]] && continue
    kill -0 "$(cat "$f")" 2>/dev/null && alive=1
  done
  [[ $alive == 0 ]] && break
  sleep 0.1
done
for f in "$LAB"/pids/*; do
  [[ -f $f ]] || continue
  name=$(basename "$f")
  [[ $name == libvirtd-* || $name == watchdog ]] && continue
  pid=$(cat "$f")
  kill -KILL "$pid" 2>/dev/null
  rm -f "$f"
done

if [[ -f $LAB/hosts.list ]]; then
  while read -r host; do
    sock="$LAB/hosts/$host/sock/libvirt-sock"
    [[ -S $sock ]] || continue
    uri="qemu+unix:///session?socket=$sock"
    for dom in $(timeout 20 virsh -q -c "$uri" list --name 2>/dev/null); do
      timeout 20 virsh -q -c "$uri" destroy "$dom" >/dev/null 2>&1
    done
  done <"$LAB/hosts.list"
fi

for f in "$LAB"/pids/libvirtd-*; do
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$f"
done

# Any QEMU still alive that belongs to this lab (its pidfile lives under LAB).
for pidfile in "$LAB"/hosts/*/run/libvirt/qemu/run/*.pid "$LAB"/hosts/*/cfg/libvirt/qemu/run/*.pid; do
  [[ -f $pidfile ]] || continue
  kill -KILL "$(cat "$pidfile")" 2>/dev/null
done
# Tap devices made for guests with a NIC.
if [[ -f $LAB/taps ]]; then
  while read -r tap; do ip link del "$tap" 2>/dev/null; done <"$LAB/taps"
  rm -f "$LAB/taps"
fi
if [[ -f $LAB/pids/watchdog && ${1:-} != --watch ]]; then
  kill "$(cat "$LAB/pids/watchdog")" 2>/dev/null
  rm -f "$LAB/pids/watchdog"
fi
exit 0
