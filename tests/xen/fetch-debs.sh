#!/usr/bin/env bash
# Downloads (does not install) the Debian packages the real-Xen tests boot under QEMU:
# the Xen 4.17 hypervisor, the Xen tools (xl, xenstored, ...), a Debian 6.1 kernel for dom0
# and the guests, a static busybox, and libvirt's libxl driver (libvirt-daemon-driver-xen:
# the migration test's dom0s run this machine's libvirtd with it; same version as
# libvirt-daemon). They go into a cache folder and the test unpacks
# them with `dpkg-deb -x` at run time, so nothing lands in this machine's /boot and no Xen
# service or bootloader entry is set up. Run by deploy/install-deps.sh (as root, with
# network access to the Debian archive); the test itself never downloads.
#
# Usage: fetch-debs.sh [CACHE_DIR]   (default /var/cache/ballast/xen-test)
set -euo pipefail

cache=${1:-/var/cache/ballast/xen-test}
mkdir -p "$cache"
cd "$cache"

# The kernel ABI name (e.g. 6.1.0-56) changes with Debian point releases: resolve it from
# the linux-image-amd64 metapackage instead of writing it down.
resolve_kernel() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
}
kernel_pkg=$(resolve_kernel)
if [[ -z $kernel_pkg ]]; then  # a fresh machine without package lists yet
  apt-get -o DPkg::Lock::Timeout=600 update -q
  kernel_pkg=$(resolve_kernel)
fi
if [[ -z $kernel_pkg ]]; then
  echo "fetch-debs.sh: cannot resolve the kernel behind linux-image-amd64" >&2
  exit 1
fi

wanted=(xen-hypervisor-4.17-amd64 xen-utils-4.17 "$kernel_pkg" busybox-static libvirt-daemon-driver-xen)

have_all=1
for p in "${wanted[@]}"; do
  v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
  # apt-get download names files PKG_VERSION_ARCH.deb with ':' in the version escaped.
  if ! compgen -G "${p}_${v//:/%3a}_*.deb" >/dev/null; then have_all=0; fi
done
if [[ $have_all == 1 ]]; then
  echo "fetch-debs.sh: ${wanted[*]} already in $cache"
  exit 0
fi

# _apt drops privileges and must be able to write here.
chown _apt "$cache" 2>/dev/null || true
# Lists older than the archive (a point release since) name files that are gone: refresh once.
if ! apt-get -o DPkg::Lock::Timeout=600 download "${wanted[@]}"; then
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 download "${wanted[@]}"
fi
# Keep only the newest file of each package (older point releases pile up otherwise).
for p in "${wanted[@]}"; do
  ls -1t "${p}"_*.deb 2>/dev/null | tail -n +2 | xargs -r rm -f
done
echo "fetch-debs.sh: ${wanted[*]} in $cache"
