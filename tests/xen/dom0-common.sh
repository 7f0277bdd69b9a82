# shellcheck shell=sh
# Sourced by the real-Xen tests' dom0 /init scripts (built by xen-lab.sh, run under QEMU
# TCG): mounts, kernel modules and the Xen toolstack (xenstored, xen-init-dom0,
# xenconsoled). Every wait is bounded; on any failure it prints what it knows and powers off,
# so the host side never waits for its own timeout when it can be avoided.
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
uptime_s() { cut -d' ' -f1 /proc/uptime; }

say "booted in $(uptime_s) s"
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
say "toolstack up at $(uptime_s) s"
