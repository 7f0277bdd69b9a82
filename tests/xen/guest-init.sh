#!/bin/sh
# /init of the real-Xen test's tiny PVH guests. The kernel hands unknown command-line
# parameters to init as environment variables: `ballast_role=busy` spins one vCPU forever,
# anything else sleeps.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/null >/dev/console 2>&1
echo "BALLAST-GUEST-UP ${ballast_role:-idle}"
if [ "${ballast_role:-}" = busy ]; then
  while :; do :; done
fi
while :; do sleep 3600; done
