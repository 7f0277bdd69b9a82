# shellcheck shell=bash
# The real-Xen tests' builder, sourced by run-xen-test.sh (one host, the collector) and
# run-xen-migrate-test.sh (two hosts, a balancer-driven live migration through libvirt's
# libxl driver). It unpacks Debian's Xen 4.17, a Debian kernel and a static busybox from the
# package cache that deploy/install-deps.sh fills (tests/xen/fetch-debs.sh), builds the
# initramfs of a dom0 and of the tiny PVH guests, and boots Xen under QEMU TCG. Nothing is
# downloaded and nothing is installed on this machine.
#
# The caller sets XL_WORK (an empty work folder), XL_CACHE (the package cache) and a `fail`
# function, then calls xl_unpack before anything else.

XL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Sets XL_PKGROOT, XL_VMLINUZ, XL_KVER, XL_BUSYBOX, XL_XENBIN and writes $XL_WORK/xen.
# Packages beyond the base four may be named (as file globs in the cache) to unpack too.
xl_unpack() {
  local debs=() p f
  for p in xen-hypervisor-4.17-amd64 xen-utils-4.17 'linux-image-[0-9]*-amd64' busybox-static "$@"; do
    f=$(ls -1t "$XL_CACHE"/${p}_*.deb 2>/dev/null | head -n1 || true)
    [[ -n $f ]] || fail "no $p package in $XL_CACHE: run deploy/install-deps.sh (it calls tests/xen/fetch-debs.sh)"
    debs+=("$f")
  done
  # Only what the tests use: the kernel package alone unpacks to 400 MB of modules.
  XL_PKGROOT=$XL_WORK/pkgroot
  mkdir -p "$XL_PKGROOT"
  for f in "${debs[@]}"; do
    dpkg-deb --fsys-tarfile "$f" | tar -x -C "$XL_PKGROOT" --wildcards \
      './boot/xen-*.gz' './boot/vmlinuz-*' './bin/busybox' './usr/lib/xen-*/bin/*' \
      './usr/lib/x86_64-linux-gnu/libvirt/connection-driver/*' \
      './lib/modules/*/kernel/drivers/xen/*' './lib/modules/*/kernel/drivers/block/xen-blkback/*' \
      './lib/modules/*/kernel/drivers/net/xen-netback/*' './lib/modules/*/kernel/net/bridge/*' \
      './lib/modules/*/kernel/drivers/net/ethernet/intel/e1000/*' \
      './lib/modules/*/kernel/net/802/*' './lib/modules/*/kernel/net/llc/*' 2>/dev/null || true
  done
  [[ -f $XL_PKGROOT/boot/xen-4.17-amd64.gz && -x $XL_PKGROOT/bin/busybox ]] ||
    fail "unpacking the packages from $XL_CACHE failed"
  zcat "$XL_PKGROOT"/boot/xen-4.17-amd64.gz >"$XL_WORK/xen"
  XL_VMLINUZ=$(ls -1 "$XL_PKGROOT"/boot/vmlinuz-* | head -n1)
  XL_KVER=${XL_VMLINUZ##*/vmlinuz-}
  XL_BUSYBOX=$XL_PKGROOT/bin/busybox
  XL_XENBIN=$XL_PKGROOT/usr/lib/xen-4.17/bin
}

# Copies an executable (or library) and every library ldd names into root $1 at the same
# paths, without debug information: dom0's initramfs is unpacked into its RAM.
xl_copy_with_libs() {
  local root=$1 src=$2 dst=$3 lib
  mkdir -p "$root$(dirname "$dst")"
  objcopy --strip-debug "$src" "$root$dst" 2>/dev/null || cp -L "$src" "$root$dst"
  ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    if [[ -e $lib && ! -e $root$lib ]]; then
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done
}

# A root with busybox and every applet linked.
xl_busybox_root() {
  local root=$1 a
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,var}
  ln -s ../run "$root/var/run"
  cp "$XL_BUSYBOX" "$root/bin/busybox"
  for a in $("$XL_BUSYBOX" --list); do
    [[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
  done
  mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
  mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true
}

# Uncompressed: QEMU copies it into RAM for free, while gunzip under TCG costs seconds.
xl_cpio() {
  (cd "$1" && find . | "$XL_BUSYBOX" cpio -o -H newc 2>/dev/null) >"$2"
}

# The guests' initramfs ($XL_WORK/guest.cpio) and their kernel as a plain ELF
# ($XL_WORK/vmlinux): given the bzImage, libxenguest would unpack its xz payload inside dom0
# for each guest, which takes long under TCG.
xl_guest_images() {
  local groot=$XL_WORK/guest-root
  xl_busybox_root "$groot"
  install -m 755 "$XL_HERE/guest-init.sh" "$groot/init"
  xl_cpio "$groot" "$XL_WORK/guest.cpio"
  python3 - "$XL_VMLINUZ" "$XL_WORK/vmlinux" <<'EOF'
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
}

# xl_dom0_root ROOT INIT MODULE...: a dom0 root with the Xen toolstack (xl, xenstored,
# xenconsoled, xen-init-dom0, and libxl-save-helper, which libxl runs to send or receive a
# migrating domain), INIT as /init, the guest images under /guest and the kernel
# modules named (with their dependencies, in load order, listed in /etc/ballast-modules).
xl_dom0_root() {
  local root=$1 init=$2 t gcc_s
  shift 2
  xl_busybox_root "$root"
  install -m 755 "$init" "$root/init"
  install -m 644 "$XL_HERE/dom0-common.sh" "$root/etc/dom0-common.sh"
  for t in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper; do
    xl_copy_with_libs "$root" "$XL_XENBIN/$t" "/usr/lib/xen-4.17/bin/$t"
  done
  # xl aborts at thread exit without libgcc_s (glibc dlopens it for unwinding).
  gcc_s=$(ldconfig -p | sed -n 's/.*libgcc_s.so.1 (libc6,x86-64) => //p' | head -n1)
  [[ -n $gcc_s ]] && cp -L "$gcc_s" "$root$gcc_s"
  mkdir -p "$root/guest" "$root/etc/xen" "$root/etc/ballast" "$root/lib/modules"
  : >"$root/etc/xen/xl.conf"  # xl's defaults; without the file every xl call complains
  cp "$XL_WORK/vmlinux" "$root/guest/vmlinux"
  cp "$XL_WORK/guest.cpio" "$root/guest/guest.cpio"
  # Kernel modules in dependency order (the .deb has no modules.dep).
  python3 - "$XL_PKGROOT/lib/modules/$XL_KVER" "$root/lib/modules" "$@" \
    >"$root/etc/ballast-modules" <<'EOF'
import os, shutil, sys
src, dst, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
mods = {}
for top, _, files in os.walk(os.path.join(src, "kernel")):
    for f in files:
        if f.endswith(".ko"):
            mods[f[:-3].replace("-", "_")] = os.path.join(top, f)
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
}

# xl_guest_cfg NAME UUID ROLE [MEMORY_MIB]: an xl config for a tiny PVH guest (guest-init.sh:
# ROLE busy spins one vCPU, anything else sleeps).
xl_guest_cfg() {
  cat <<EOF
name = "$1"
uuid = "$2"
type = "pvh"
kernel = "/guest/vmlinux"
ramdisk = "/guest/guest.cpio"
cmdline = "console=hvc0 rdinit=/init mitigations=off init_on_alloc=0 ballast_role=$3"
memory = ${4:-128}
vcpus = 1
# PVH guests under TCG need it (else "SVM Insn len emulation failed").
tsc_mode = "native"
on_crash = "preserve"
EOF
}

# xl_boot CPIO SERIAL OUT TIMEOUT_S MEM_MIB CPUS [QEMU ARGS...]: boots Xen with a dom0 from
# CPIO in the background; sets XL_QEMU_PID. The serial console goes to SERIAL; XL_DOM0_ARGS,
# when set, is added to dom0's kernel command line (init sees unknown words as variables).
# smap=0 smep=0: Xen's dom0 crashes at once under TCG without them. bootscrub=0: scrubbing
# free RAM costs minutes of emulated CPU. mitigations=off init_on_alloc=0: the same for the
# kernels (nothing here needs them). Under `timeout` too, so QEMU goes away on its own even if
# the script is SIGKILLed (its EXIT trap would not run then).
# dom0's kernel runs with `noxsave` (its processes' FPU state saved with FXSAVE). With XSAVE in
# use, multi-threaded programs in dom0 (libvirtd, virsh) crashed at random whenever guests ran
# under Xen: "malloc(): corrupted top size", SIGSEGV in glib, a libxl save stream whose
# page-type array held the text "tcp://19...". Hiding XSAVE from the whole emulated CPU
# instead stopped those but made the PVH guests triple-fault now and then. With `noxsave`:
# no crash in 60 libvirt calls and no guest fault across migrations (docs/xen.md).
# XL_QEMU_CPU overrides QEMU's CPU (default "max").
xl_boot() {
  local cpio=$1 serial=$2 out=$3 timeout_s=$4 mem=$5 cpus=$6 vmlinuz
  shift 6
  timeout -k 10 $((timeout_s + 30)) qemu-system-x86_64 -accel tcg -machine q35 -cpu "${XL_QEMU_CPU:-max}" \
    -m "$mem" -smp "$cpus" -display none -monitor none -serial "file:$serial" -no-reboot \
    "$@" -kernel "$XL_WORK/xen" \
    -append "console=com1 com1=115200,8n1 dom0_mem=768M,max:768M dom0_max_vcpus=$cpus smap=0 smep=0 bootscrub=0 loglvl=warning guest_loglvl=none" \
    -initrd "$XL_VMLINUZ console=hvc0 earlyprintk=xen rdinit=/init quiet loglevel=3 mitigations=off init_on_alloc=0 noxsave ${XL_DOM0_ARGS:-},$cpio" \
    </dev/null >"$out" 2>&1 &
  XL_QEMU_PID=$!
}

# Stops a QEMU started by xl_boot: TERM, then KILL.
xl_stop() {
  local pid=$1
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5; do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}
