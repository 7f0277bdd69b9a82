#!/bin/sh
# /init of the real-Xen collector test's dom0 (built by run-xen-test.sh, runs under QEMU
# TCG). Brings up the Xen toolstack (dom0-common.sh), starts one busy and one idle PVH
# guest, runs the real ballast-collector twice and prints its JSON between markers on the
# console, then powers the emulated machine off.
. /etc/dom0-common.sh

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
