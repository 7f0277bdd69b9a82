#!/usr/bin/env bash
# Installs everything Ballast needs to build, test and run its demo on Debian 12.
# Idempotent; run as root. Starts no service: the tests and the demo start their own
# libvirt daemons and Prometheus instances and stop them again.
set -euo pipefail

if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
  echo "install-deps.sh: must run as root (try: sudo $0)" >&2
  exit 1
fi

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates
  # libraries
  libzmq3-dev cppzmq-dev libsodium-dev
  libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libvirt-dev libxen-dev
  prometheus-cpp-dev
  zlib1g-dev  # ballast-sim: gzip traces, PNG plots
  libsystemd-dev  # sd_notify: readiness and watchdog under systemd
  # Debian packages (deploy/build-debs.sh) and their test
  debhelper dpkg-dev help2man lintian adduser
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  # real libvirt test hosts and guests for the integration tests and the demo
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
  iproute2 procps util-linux python3 nasm
  tini  # a subreaper for the test hosts' QEMUs (deploy/lab/lab.sh)
  # a real Prometheus for the metrics tests and the demo
  prometheus
  # high availability (balancer ha:): etcd as the coordination engine, libcurl for its v3
  # JSON gateway; the tests start their own etcd on loopback
  etcd-server etcd-client libcurl4-openssl-dev
)

# Services a package would enable on install must not start: we run our own instances.
policy_rc=/usr/sbin/policy-rc.d
created_policy_rc=0
if [[ ! -e $policy_rc ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
  chmod 755 "$policy_rc"
  created_policy_rc=1
fi
cleanup() { if [[ $created_policy_rc == 1 ]]; then rm -f "$policy_rc"; fi; }
trap cleanup EXIT

# The real-Xen test boots a hypervisor and a kernel that must not be installed here (/boot):
# download them only, into /var/cache/ballast/xen-test (a no-op once cached).
fetch_xen_test_debs() { bash "$(dirname "$0")/../tests/xen/fetch-debs.sh"; }

# The unprivileged user that runs the test hosts' libvirt daemons when tests run as root
# (deploy/lab/lab.sh). A system account with no login shell.
# Debian's etcd-server enables etcd.service (a single-node etcd on 127.0.0.1:2379): Ballast
# neither needs nor wants it (the tests start their own on free ports, and a production etcd
# is a cluster the admin sets up). Disabled and stopped, when systemd runs.
disable_packaged_etcd() {
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
}

ensure_lab_user() {
  if ! id ballast-lab >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin ballast-lab
    echo "install-deps.sh: created system user ballast-lab (runs the test hosts' libvirtd)"
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#packages[@]} packages already installed"
  ensure_lab_user
  disable_packaged_etcd
  fetch_xen_test_debs
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
ensure_lab_user
disable_packaged_etcd
fetch_xen_test_debs
echo "install-deps.sh: done"
