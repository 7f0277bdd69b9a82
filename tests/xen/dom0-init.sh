#!/bin/sh
# /init of the real-Xen test's dom0 (built by run-xen-test.sh, runs under QEMU TCG).
# Brings up the Xen toolstack, starts one busy and one idle PVH guest, runs the real
# ballast-collector twice and prints its JSON between markers on the console, then powers
# the emulated machine off. Every wait is bounded; on any failure it prints what it knows
# and powers off, so the host side never waits for its own timeout when it can be avoided.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib/x86_64-linux-gnu

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/log/xen/console /var/lock
exec </dev/null >/dev/console 2>&1
dmesg -n 1

say() { echo "BALLAST-DOM0: $*"; }
finish() {
  say "finished: $1"
  echo "BALLAST-XEN-TEST-END $1"
  sync
  poweroff -f
  sleep 5
  echo o >/proc/sysrq-trigger
}
# Waits up to $1 seconds for the command in "$2..." to succeed.
wait_for() {
  limit=$1
  shift
  i=0
  while ! "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -ge "$limit" ] && return 1
    sleep 1
  done
}

say "booted in $(cut -d' ' -f1 /proc/uptime) s"
for m in $(cat /etc/ballast-modules); do
  insmod "/lib/modules/$m" || say "insmod $m failed"
done
mount -t xenfs xenfs /proc/xen || finish "FAIL no xenfs"
grep -q control_d /proc/xen/capabilities || finish "FAIL not dom0"

xenstored --pid-file=/run/xenstored.pid || finish "FAIL xenstored"
wait_for 30 test -S /run/xenstored/socket || finish "FAIL no xenstored socket"
timeout 60 xen-init-dom0 || finish "FAIL xen-init-dom0"
timeout 30 xenconsoled --pid-file=/run/xenconsoled.pid --log=guest \
  --log-dir=/var/log/xen/console || finish "FAIL xenconsoled"
say "toolstack up at $(cut -d' ' -f1 /proc/uptime) s"

timeout 120 xl create /etc/xen/idle.cfg || finish "FAIL xl create idle"
timeout 120 xl create /etc/xen/busy.cfg || finish "FAIL xl create busy"
say "guests created at $(cut -d' ' -f1 /proc/uptime) s"
timeout 30 xl list

# Both guests print BALLAST-GUEST-UP on their console once their init runs.
guest_up() { grep -q BALLAST-GUEST-UP "/var/log/xen/console/guest-$1.log"; }
if ! wait_for 150 guest_up idle || ! wait_for 60 guest_up busy; then
  timeout 30 xl list
  for g in busy idle; do
    echo "--- console of $g"
    tail -n 30 "/var/log/xen/console/guest-$g.log"
  done
  finish "FAIL guests did not come up"
fi
say "guests up at $(cut -d' ' -f1 /proc/uptime) s"
# Let the idle guest's boot settle before measuring.
sleep 3
timeout 30 xl list

for n in 1 2; do
  [ "$n" = 2 ] && sleep 6
  if ! timeout 60 ballast-collector --config /etc/ballast/collector.yaml --once --json \
      >/tmp/sample$n.json 2>/tmp/collector$n.err; then
    cat /tmp/collector$n.err
    finish "FAIL collector run $n"
  fi
  echo "BALLAST-SAMPLE-BEGIN $n"
  cat /tmp/sample$n.json
  echo "BALLAST-SAMPLE-END $n"
  echo "--- collector stderr $n"
  cat /tmp/collector$n.err
done
timeout 30 xl list
for g in busy idle; do
  echo "--- console of $g"
  tail -n 40 "/var/log/xen/console/guest-$g.log"
done
finish OK
