#!/bin/sh
# /init of each dom0 in the real-Xen migration test (built by run-xen-migrate-test.sh, runs
# under QEMU TCG). Brings up the Xen toolstack (dom0-common.sh), the private link to the
# other dom0 (eth1, $ballast_ip), libvirtd with the libxl driver listening on TCP for the
# other dom0's libvirtd and the balancer, and this host's ballast-collector (source:
# xenstat). Then it serves a shell on port 2323 of eth0 (QEMU user networking, forwarded to
# the test's loopback) through which the test drives the rest, and waits to be powered off.
# The kernel hands unknown command-line parameters to init as environment variables:
# ballast_host (the host's name) and ballast_ip (its address on the link).
. /etc/dom0-common.sh

[ -n "${ballast_host:-}" ] && [ -n "${ballast_ip:-}" ] || finish "FAIL no ballast_host/ballast_ip"
hostname "$ballast_host"
ip link set lo up
# eth0: QEMU user networking (the test's control shell); eth1: the link between the dom0s.
ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || finish "FAIL eth0"
ip addr add "$ballast_ip/24" dev eth1 && ip link set eth1 up || finish "FAIL eth1"
say "network up at $(uptime_s) s: $(ip -o -4 addr show dev eth1 | awk '{print $4}')"

# The test's shell first, so a dom0 whose daemons do not come up can still be looked into.
nc -ll -p 2323 -e /bin/sh &

mkdir -p /var/run/libvirt /var/lib/libvirt/libxl /var/log/libvirt/libxl /var/cache/libvirt \
  /run/ballast /var/lib/ballast
libvirtd --listen --daemon --pid-file=/run/libvirtd.pid || finish "FAIL libvirtd"
if ! wait_for 120 timeout 10 virsh -c xen:///system version; then
  tail -n 40 /var/log/libvirt/libvirtd.log 2>/dev/null
  finish "FAIL libvirtd with the libxl driver did not answer"
fi
say "libvirtd (libxl) up at $(uptime_s) s"

ballast-collector --config /etc/ballast/collector.yaml >/var/log/collector.log 2>&1 &
echo $! >/run/collector.pid
say "READY $ballast_host at $(uptime_s) s"
while :; do sleep 3600; done
