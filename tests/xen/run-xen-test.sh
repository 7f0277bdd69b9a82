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
debs=()
for p in xen-hypervisor-4.17-amd64 xen-utils-4.17 'linux-image-[0-9]*-amd64' busybox-static; do
  f=$(ls -1t "$cache"/${p}_*.deb 2>/dev/null | head -n1 || true)
  [[ -n $f ]] || fail "no $p package in $cache: run deploy/install-deps.sh (it calls tests/xen/fetch-debs.sh)"
  debs+=("$f")
done

rm -rf "$work"
mkdir -p "$work"
serial=$work/serial.log
qemu_pid=
cleanup() {
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    sleep 1
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
}
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

# --- unpack the packages (no installation) ---
# Only what the test uses: the kernel package alone unpacks to 400 MB of modules.
pkgroot=$work/pkgroot
mkdir -p "$pkgroot"
for d in "${debs[@]}"; do
  dpkg-deb --fsys-tarfile "$d" | tar -x -C "$pkgroot" --wildcards \
    './boot/xen-*.gz' './boot/vmlinuz-*' './bin/busybox' './usr/lib/xen-*/bin/*' \
    './lib/modules/*/kernel/drivers/xen/*' './lib/modules/*/kernel/drivers/block/xen-blkback/*' \
    './lib/modules/*/kernel/drivers/net/xen-netback/*' './lib/modules/*/kernel/net/bridge/*' \
    './lib/modules/*/kernel/net/802/*' './lib/modules/*/kernel/net/llc/*' 2>/dev/null || true
done
[[ -f $pkgroot/boot/xen-4.17-amd64.gz && -x $pkgroot/bin/busybox ]] ||
  fail "unpacking the packages from $cache failed"
zcat "$pkgroot"/boot/xen-4.17-amd64.gz >"$work/xen"
vmlinuz=$(ls -1 "$pkgroot"/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
busybox=$pkgroot/bin/busybox
xenbin=$pkgroot/usr/lib/xen-4.17/bin
log "unpacked Xen 4.17 and kernel $kver"

# Copies an executable and every library ldd names into root $1 at the same paths.
copy_with_libs() {
  local root=$1 src=$2 dst=$3
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
  ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    if [[ -e $lib && ! -e $root$lib ]]; then
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done
}

# A root with busybox and every applet linked.
make_busybox_root() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,var}
  ln -s ../run "$root/var/run"
  cp "$busybox" "$root/bin/busybox"
  for a in $("$busybox" --list); do
    [[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
  done
  mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
  mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true
}

# Uncompressed: QEMU copies it into RAM for free, while gunzip under TCG costs seconds.
make_cpio() {
  (cd "$1" && find . | "$busybox" cpio -o -H newc 2>/dev/null) >"$2"
}

# --- the guests' initramfs ---
groot=$work/guest-root
make_busybox_root "$groot"
install -m 755 "$here/guest-init.sh" "$groot/init"
make_cpio "$groot" "$work/guest.cpio"

# --- dom0's initramfs ---
droot=$work/dom0-root
make_busybox_root "$droot"
install -m 755 "$here/dom0-init.sh" "$droot/init"
for t in xl xenstored xenconsoled xen-init-dom0; do
  copy_with_libs "$droot" "$xenbin/$t" "/usr/lib/xen-4.17/bin/$t"
done
copy_with_libs "$droot" "$collector" /usr/bin/ballast-collector
# xl aborts at thread exit without libgcc_s (glibc dlopens it for unwinding).
gcc_s=$(ldconfig -p | sed -n 's/.*libgcc_s.so.1 (libc6,x86-64) => //p' | head -n1)
[[ -n $gcc_s ]] && cp -L "$gcc_s" "$droot$gcc_s"
mkdir -p "$droot/guest" "$droot/etc/xen" "$droot/etc/ballast" "$droot/lib/modules"
# The guests get the kernel as a plain ELF: given the bzImage, libxenguest would unpack its
# xz payload inside dom0 for each guest, which takes long under TCG.
python3 - "$vmlinuz" "$droot/guest/vmlinux" <<'EOF'
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit("no xz payload in " + sys.argv[1])
elf = lzma.LZMADecompressor().decompress(data[start:])
if elf[:4] != b"\x7fELF":
    sys.exit("the payload of " + sys.argv[1] + " is not an ELF kernel")
open(sys.argv[2], "wb").write(elf)
EOF
cp "$work/guest.cpio" "$droot/guest/guest.cpio"

# Kernel modules dom0 needs, in dependency order (the .deb has no modules.dep).
python3 - "$pkgroot/lib/modules/$kver" "$droot/lib/modules" \
  xen_privcmd xenfs xen_evtchn xen_gntdev xen_gntalloc xen_blkback xen_netback bridge \
  >"$droot/etc/ballast-modules" <<'EOF'
import os, shutil, sys
src, dst, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
mods = {}
for root, _, files in os.walk(os.path.join(src, "kernel")):
    for f in files:
        if f.endswith(".ko"):
            mods[f[:-3].replace("-", "_")] = os.path.join(root, f)
def deps(name):
    data = open(mods[name], "rb").read()
    i = data.find(b"\0depends=")
    if i < 0:
        return []
    value = data[i + 9:data.find(b"\0", i + 1)].decode()
    return [d.replace("-", "_") for d in value.split(",") if d]
order = []
def visit(name):
    if name in order:
        return
    if name not in mods:
        sys.exit(f"module {name} not in the kernel package")
    for d in deps(name):
        visit(d)
    order.append(name)
for w in wanted:
    visit(w)
for name in order:
    shutil.copy(mods[name], os.path.join(dst, os.path.basename(mods[name])))
    print(os.path.basename(mods[name]))
EOF

guest_cfg() {  # name uuid role
  cat <<EOF
name = "$1"
uuid = "$2"
type = "pvh"
kernel = "/guest/vmlinux"
ramdisk = "/guest/guest.cpio"
cmdline = "console=hvc0 rdinit=/init mitigations=off init_on_alloc=0 ballast_role=$3"
memory = 128
vcpus = 1
# PVH guests under TCG need it (else "SVM Insn len emulation failed").
tsc_mode = "native"
on_crash = "preserve"
EOF
}
busy_uuid=5d0c9a4e-1f3b-4c6d-8e2a-7b9c0d1e2f30
idle_uuid=6e1dab5f-2a4c-4d7e-9f3b-8cad1e2f3041
guest_cfg busy "$busy_uuid" busy >"$droot/etc/xen/busy.cfg"
guest_cfg idle "$idle_uuid" idle >"$droot/etc/xen/idle.cfg"
cat >"$droot/etc/ballast/collector.yaml" <<'EOF'
source: xenstat
host:
  name: xen-under-qemu
balancer:
  plaintext: true
EOF
make_cpio "$droot" "$work/dom0.cpio"
log "dom0 initramfs $(($(stat -c %s "$work/dom0.cpio") / 1024 / 1024)) MiB"

# --- boot ---
qemu_cpus=2
qemu_mem_mib=2048
guest_mem_mib=128
# smap=0 smep=0: Xen's dom0 crashes at once under TCG without them. bootscrub=0: scrubbing
# 1 GiB of free RAM costs minutes of emulated CPU. mitigations=off init_on_alloc=0: the same
# for the kernels (nothing here needs them).
# Under `timeout` too, so QEMU goes away on its own even if this script is SIGKILLed (the
# EXIT trap would not run then).
timeout -k 10 $((timeout_s + 30)) qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m "$qemu_mem_mib" -smp "$qemu_cpus" \
  -display none -monitor none -serial "file:$serial" -no-reboot -nic none \
  -kernel "$work/xen" \
  -append "console=com1 com1=115200,8n1 dom0_mem=768M,max:768M dom0_max_vcpus=2 smap=0 smep=0 bootscrub=0 loglvl=warning guest_loglvl=none" \
  -initrd "$vmlinuz console=hvc0 earlyprintk=xen rdinit=/init quiet loglevel=3 mitigations=off init_on_alloc=0,$work/dom0.cpio" \
  </dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!
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
