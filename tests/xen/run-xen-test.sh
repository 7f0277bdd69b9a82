#!/usr/bin/env bash
# The real-Xen integration test: boots Debian's Xen 4.17 hypervisor with a Debian dom0 under
# QEMU TCG (no KVM needed), runs one busy and one idle PVH guest, runs the real
# `ballast-collector --once --json` (source: xenstat) twice inside dom0 and checks what it
# reports (check_samples.py). Everything comes from Debian packages that
# deploy/install-deps.sh downloads into a cache (tests/xen/fetch-debs.sh); nothing is
# downloaded here and nothing is installed on this machine.
#
# Usage: run-xen-test.sh --collector PATH [--work DIR] [--cache DIR] [--timeout SECONDS]
# Exit 0 = pass. On failure the serial console log is printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
collector=
work=${TMPDIR:-/tmp}/ballast-xen-test
cache=/var/cache/ballast/xen-test
timeout_s=420
while [[ $# -gt 0 ]]; do
  case $1 in
    --collector) collector=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    *) echo "run-xen-test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

fail() { echo "run-xen-test.sh: FAIL: $*" >&2; exit 1; }
log() { echo "run-xen-test.sh: [$(($(date +%s) - t0))s] $*"; }
t0=$(date +%s)

[[ -x $collector ]] || fail "--collector must name the built ballast-collector"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing (deploy/install-deps.sh)"
XL_WORK=$work
XL_CACHE=$cache
# shellcheck source=tests/xen/xen-lab.sh
. "$here/xen-lab.sh"

rm -rf "$work"
mkdir -p "$work"
serial=$work/serial.log
qemu_pid=
cleanup() { xl_stop "$qemu_pid"; }
on_exit() {
  local rc=$?
  cleanup
  if [[ $rc -ne 0 && -f $serial ]]; then
    echo "===== serial console log ($serial) ====="
    tr -d '\r' <"$serial" | tail -n 400
    echo "===== end of serial console log ====="
  fi
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

xl_unpack
log "unpacked Xen 4.17 and kernel $XL_KVER"
xl_guest_images
droot=$work/dom0-root
xl_dom0_root "$droot" "$here/dom0-init.sh" \
  xen_privcmd xenfs xen_evtchn xen_gntdev xen_gntalloc xen_blkback xen_netback bridge
xl_copy_with_libs "$droot" "$collector" /usr/bin/ballast-collector
busy_uuid=5d0c9a4e-1f3b-4c6d-8e2a-7b9c0d1e2f30
idle_uuid=6e1dab5f-2a4c-4d7e-9f3b-8cad1e2f3041
xl_guest_cfg busy "$busy_uuid" busy >"$droot/etc/xen/busy.cfg"
xl_guest_cfg idle "$idle_uuid" idle >"$droot/etc/xen/idle.cfg"
cat >"$droot/etc/ballast/collector.yaml" <<'EOF'
source: xenstat
host:
  name: xen-under-qemu
balancer:
  plaintext: true
EOF
xl_cpio "$droot" "$work/dom0.cpio"
log "dom0 initramfs $(($(stat -c %s "$work/dom0.cpio") / 1024 / 1024)) MiB"

# --- boot ---
qemu_cpus=2
qemu_mem_mib=2048
guest_mem_mib=128
xl_boot "$work/dom0.cpio" "$serial" "$work/qemu.out" "$timeout_s" "$qemu_mem_mib" "$qemu_cpus" -nic none
qemu_pid=$XL_QEMU_PID
log "QEMU pid $qemu_pid booting Xen; waiting up to ${timeout_s}s"

deadline=$((t0 + timeout_s))
while ! grep -q 'BALLAST-XEN-TEST-END' "$serial" 2>/dev/null; do
  if ! kill -0 "$qemu_pid" 2>/dev/null; then
    cat "$work/qemu.out" >&2 || true
    fail "QEMU exited before dom0 finished"
  fi
  if [[ $(date +%s) -ge $deadline ]]; then
    fail "no result from dom0 within ${timeout_s}s"
  fi
  sleep 2
done
# dom0 powers off after its last line; give it a moment, then make sure.
for _ in 1 2 3 4 5; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
cleanup
log "dom0 done"

python3 "$here/check_samples.py" --serial "$serial" --cpus "$qemu_cpus" \
  --host-memory-mib "$qemu_mem_mib" --guest-memory-mib "$guest_mem_mib" \
  --busy-uuid "$busy_uuid" --idle-uuid "$idle_uuid"
log "PASS"
