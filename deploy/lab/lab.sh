# shellcheck shell=bash
# Ballast test lab: real libvirt "hosts" on one machine, for the integration tests and the demo.
#
# Each host is an unprivileged libvirtd (session mode) with its own config, sockets, host UUID
# and migration ports, reachable at qemu+unix:///session?socket=LAB/hosts/NAME/sock/libvirt-sock.
# Guests are real QEMU (TCG) machines booting a one-sector program: `spin` burns a vCPU,
# `idle` halts. Everything started is recorded by pid under LAB/pids; lab-teardown.sh stops it
# (guests destroyed first, then daemons by pid), from the EXIT trap and from a watchdog that
# outlives a killed test. Nothing here touches anything but loopback and LAB. When the script
# exits 0, LAB is removed too; after a failure it stays for a post-mortem (LAB_KEEP_DIR=1 keeps
# it always).
#
# Usage (from a bash script):
#   source deploy/lab/lab.sh
#   lab_init /tmp/my-lab          # creates LAB, arms the trap and the watchdog
#   lab_start_host a 1            # name, index (distinct ports/UUID per index)
#   lab_boot_guest a spin spin 64 # host, guest name, program (spin|idle), MiB
#   lab_uri a                     # prints the host's libvirt URI

LAB_SELF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_QEMU=${LAB_QEMU:-/usr/bin/qemu-system-x86_64}

lab_log() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
lab_die() { lab_log "ERROR: $*"; exit 1; }

# The unprivileged user the daemons run as: ourselves, or (as root) the ballast-lab user that
# deploy/install-deps.sh creates.
lab_user() {
  if [[ $(id -u) -ne 0 ]]; then id -un; else echo "${LAB_USER:-ballast-lab}"; fi
}

lab_as_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u "$(lab_user)" -- "$@"; else "$@"; fi
}

lab_init() {
  LAB=$1
  [[ -n $LAB ]] || lab_die "lab_init needs a directory"
  if [[ $(id -u) -eq 0 ]] && ! id "$(lab_user)" >/dev/null 2>&1; then
    lab_die "user $(lab_user) does not exist: run deploy/install-deps.sh as root first"
  fi
  command -v libvirtd >/dev/null || lab_die "libvirtd not installed: run deploy/install-deps.sh"
  command -v tini >/dev/null || lab_die "tini not installed: run deploy/install-deps.sh"
  [[ -x $LAB_QEMU ]] || lab_die "$LAB_QEMU not installed: run deploy/install-deps.sh"
  rm -rf "$LAB"
  mkdir -p "$LAB/pids" "$LAB/hosts" "$LAB/images"
  chmod 755 "$LAB"
  [[ $(id -u) -eq 0 ]] && chown "$(lab_user)" "$LAB/hosts"
  export LAB
  trap 'lab_teardown' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # The watchdog tears the lab down if this shell dies without running its trap (SIGKILL,
  # e.g. a ctest timeout).
  setsid bash "$LAB_SELF_DIR/lab-teardown.sh" --watch $$ "$LAB" </dev/null >/dev/null 2>&1 &
  echo $! >"$LAB/pids/watchdog"
  lab_make_images
}

lab_teardown() {
  local rc=$?
  if [[ -n ${LAB:-} && -d $LAB ]]; then
    if [[ $rc -ne 0 && -z ${LAB_QUIET_LOGS:-} ]]; then lab_dump_logs; fi
    bash "$LAB_SELF_DIR/lab-teardown.sh" "$LAB"
    # A caller's last check over what the stopped lab left (e.g. the integration tests'
    # search for leaked secrets): it can still fail a run that passed.
    if [[ $rc -eq 0 ]] && declare -F lab_post_check >/dev/null; then
      lab_post_check || rc=$?
    fi
    # A lab that passed leaves nothing behind; a failed one keeps its logs and sockets'
    # directory for a post-mortem (LAB_KEEP_DIR=1 keeps it either way).
    if [[ $rc -eq 0 && -z ${LAB_KEEP_DIR:-} ]]; then rm -rf "$LAB"; fi
  fi
  # From the EXIT trap, `exit` is what sets the script's status (a return value is ignored).
  exit $rc
}

lab_dump_logs() {
  local f
  for f in "$LAB"/*.log "$LAB"/hosts/*/libvirtd.log; do
    [[ -s $f ]] || continue
    echo "----- tail of $f -----" >&2
    # libvirtd's start-up complaints (no dnsmasq, D-Bus, /dev/kvm) are expected here.
    grep -v -e dnsmasq -e GDBus -e DBus -e udevGetDMIData -e /dev/kvm "$f" | tail -n 30 >&2
  done
}

# Records a pid we started so teardown can stop it: lab_track NAME PID
lab_track() { echo "$2" >"$LAB/pids/$1"; }

lab_uri() { echo "qemu+unix:///session?socket=$LAB/hosts/$1/sock/libvirt-sock"; }

lab_virsh() {
  local host=$1
  shift
  virsh -q -c "$(lab_uri "$host")" "$@"
}

lab_start_host() {
  local name=$1 index=$2
  local d="$LAB/hosts/$name"
  mkdir -p "$d/cfg/libvirt" "$d/cache" "$d/run" "$d/sock" "$d/home"
  local uuid
  uuid=$(printf '6a11a570-0000-4000-8000-%012d' "$index")
  # LAB_MONITOR_LOG=1: libvirtd also logs every command it sends to a guest's QEMU monitor
  # (QEMU_MONITOR_SEND_MSG lines), so a test can count them.
  local log_level=3 log_filters=""
  if [[ -n ${LAB_MONITOR_LOG:-} ]]; then
    log_level=2
    log_filters='log_filters = "2:qemu.qemu_monitor 3:*"'
  fi
  # LAB_LOG_FILTERS="1:qemu.qemu_migration 3:*": libvirtd's own filters, at any level (for a
  # post-mortem of where a migration's time goes).
  if [[ -n ${LAB_LOG_FILTERS:-} ]]; then
    log_level=1
    log_filters="log_filters = \"$LAB_LOG_FILTERS\""
  fi
  cat >"$d/cfg/libvirt/libvirtd.conf" <<CONF
host_uuid = "$uuid"
unix_sock_dir = "$d/sock"
unix_sock_rw_perms = "0777"
$log_filters
log_outputs = "$log_level:file:$d/libvirtd.log"
CONF
  local port_min=$((49152 + index * 100))
  cat >"$d/cfg/libvirt/qemu.conf" <<CONF
stdio_handler = "file"
migration_port_min = $port_min
migration_port_max = $((port_min + 99))
CONF
  [[ $(id -u) -eq 0 ]] && chown -R "$(lab_user)" "$d"
  # A restart after a crash: the dead daemon's socket and pid file must not look alive.
  rm -f "$d/sock/libvirt-sock" "$d/sock/libvirt-sock-ro" "$d/sock/libvirt-admin-sock" \
    "$d/libvirtd.pid"
  # tini -s: a child subreaper under libvirtd. libvirt daemonizes each QEMU, so a QEMU that
  # exits is reaped by the nearest subreaper, else by PID 1, and libvirt waits for it to be
  # reaped (a zombie still answers kill -0). systemd reaps at once; this machine's PID 1
  # every ~2 s, which added 0-2 s to every migration's end and every `virsh destroy`.
  lab_as_user env -i HOME="$d/home" XDG_CONFIG_HOME="$d/cfg" XDG_CACHE_HOME="$d/cache" \
    XDG_RUNTIME_DIR="$d/run" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    setsid tini -s -- libvirtd --pid-file "$d/libvirtd.pid" </dev/null >>"$d/daemon.out" 2>&1 &
  lab_track "libvirtd-$name-reaper" "$!"  # stopped with the daemons, after the guests
  local i
  for i in $(seq 1 100); do
    [[ -S $d/sock/libvirt-sock && -s $d/libvirtd.pid ]] && break
    sleep 0.1
  done
  [[ -s $d/libvirtd.pid ]] || lab_die "libvirtd for host $name did not start (see $d/daemon.out)"
  lab_track "libvirtd-$name" "$(cat "$d/libvirtd.pid")"
  grep -qx "$name" "$LAB/hosts.list" 2>/dev/null || echo "$name" >>"$LAB/hosts.list"
  # The first connection probes QEMU's capabilities (a few seconds): do it now.
  timeout 60 virsh -q -c "$(lab_uri "$name")" capabilities >/dev/null ||
    lab_die "host $name: libvirtd does not answer"
  lab_log "host $name up: $(lab_uri "$name") (uuid $uuid, pid $(cat "$d/libvirtd.pid"))"
}

# Boot-sector guests (no OS): a 1 MiB raw image whose first sector is the program.
lab_make_images() {
  local img
  lab_write_boot_image "$LAB/images/spin.img" '\xeb\xfe'          # jmp $      : 100% of a vCPU
  lab_write_boot_image "$LAB/images/idle.img" '\xf4\xeb\xfd'      # hlt; jmp   : idle
  lab_make_duty_image load60 3 2  # 60% of a vCPU
  lab_make_duty_image load40 2 3  # 40% of a vCPU
  lab_make_duty_image load50 1 1  # 50% of a vCPU
  lab_make_duty_image load35 7 13 # 35% of a vCPU
  lab_make_duty_image load33 1 2  # 33% of a vCPU, in short bursts (steadier at 2 Hz sampling)
  lab_make_dirty_image dirty200 200  # rewrites 200 MiB over and over (needs >= 256 MiB RAM)
  # 14% of a vCPU for ~60 s from boot, then 40% for ~60 s, and again (guests/wave.asm)
  lab_make_wave_image wave14to40 1 6 156 2 3 218
  for img in "$LAB"/images/*.img; do chmod 444 "$img"; done
}

# lab_make_duty_image NAME S H: a guest that spins for S timer ticks, then halts for H ticks
# (the BIOS timer, ~18.2 Hz, counts ticks at 0040:006C): a CPU load of S/(S+H) of one vCPU
# that does not depend on how fast the host runs it.
#   31C0 8ED8 FB          xor ax,ax; mov ds,ax; sti
#   B9 S16                top: mov cx,S
#   A1 6C04               s1:  mov ax,[046Ch]
#   3B06 6C04 74FA        s2:  cmp ax,[046Ch]; je s2     (spin until the tick changes)
#   E2F5                       loop s1
#   B9 H16                     mov cx,H
#   F4 E2FD               h1:  hlt; loop h1               (sleep H ticks)
#   EBEA                       jmp top
lab_make_duty_image() {
  local name=$1 s=$2 h=$3
  local code
  code=$(printf '\\x31\\xc0\\x8e\\xd8\\xfb\\xb9\\x%02x\\x%02x\\xa1\\x6c\\x04\\x3b\\x06\\x6c\\x04\\x74\\xfa\\xe2\\xf5\\xb9\\x%02x\\x%02x\\xf4\\xe2\\xfd\\xeb\\xea' \
    $((s & 255)) $((s >> 8)) $((h & 255)) $((h >> 8)))
  lab_write_boot_image "$LAB/images/$name.img" "$code"
}

# lab_make_dirty_image NAME MIB: a guest dirtying MIB MiB above 1 MiB continuously
# (guests/dirty.asm).
lab_make_dirty_image() {
  nasm -f bin -DDIRTY_MIB="$2" -o "$LAB/images/$1.img" "$LAB_SELF_DIR/guests/dirty.asm" ||
    lab_die "nasm failed on guests/dirty.asm (is nasm installed? run deploy/install-deps.sh)"
  truncate -s 1M "$LAB/images/$1.img"
}

# lab_make_wave_image NAME LOW_SPIN LOW_HALT LOW_CYCLES HIGH_SPIN HIGH_HALT HIGH_CYCLES: a guest
# whose load steps between LOW_SPIN/(LOW_SPIN+LOW_HALT) and HIGH_SPIN/(HIGH_SPIN+HIGH_HALT) of a
# vCPU, each level held for its number of cycles, low first (guests/wave.asm).
lab_make_wave_image() {
  nasm -f bin -DLOW_SPIN="$2" -DLOW_HALT="$3" -DLOW_CYCLES="$4" -DHIGH_SPIN="$5" \
    -DHIGH_HALT="$6" -DHIGH_CYCLES="$7" -o "$LAB/images/$1.img" "$LAB_SELF_DIR/guests/wave.asm" ||
    lab_die "nasm failed on guests/wave.asm (is nasm installed? run deploy/install-deps.sh)"
  truncate -s 1M "$LAB/images/$1.img"
}

lab_write_boot_image() {
  local out=$1 code=$2
  {
    printf "$code"
    head -c $((510 - $(printf "$code" | wc -c))) /dev/zero
    printf '\x55\xaa'
  } >"$out"
  truncate -s 1M "$out"  # SeaBIOS does not boot a 512-byte disk
}

lab_guest_xml() {
  local name=$1 program=$2 mib=$3 tap=${4:-}
  local nic=""
  if [[ -n $tap ]]; then
    nic="<interface type='ethernet'><target dev='$tap' managed='no'/><model type='virtio'/></interface>"
  fi
  cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mib</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>$LAB_QEMU</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$LAB/images/$program.img'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>
    $nic
  </devices>
</domain>
XML
}

# lab_boot_guest HOST NAME PROGRAM MIB [nic]: starts a transient guest on HOST; with `nic`
# it gets a virtio NIC on a tap device of its own (root only), so libvirt reports real
# network counters for it. (Such a guest cannot live-migrate: its tap exists on HOST only.)
lab_boot_guest() {
  local host=$1 name=$2 program=$3 mib=$4 nic=${5:-}
  local xml="$LAB/hosts/$host/$name.xml"
  local tap=""
  if [[ $nic == nic ]]; then
    [[ $(id -u) -eq 0 ]] || lab_die "a guest with a NIC needs root (tap devices)"
    # QEMU (as the lab user) opens /dev/net/tun to attach the tap. Debian's udev makes it
    # 0666; machines without udev may leave it 0600.
    if ! lab_as_user test -r /dev/net/tun -a -w /dev/net/tun; then
      lab_log "making /dev/net/tun usable by $(lab_user) (mode 0666, as Debian's udev sets it)"
      chmod 0666 /dev/net/tun
    fi
    touch "$LAB/taps"
    tap="bl$$$(wc -l <"$LAB/taps")"
    tap=${tap:0:15}
    ip tuntap add dev "$tap" mode tap user "$(lab_user)" || lab_die "cannot create tap $tap"
    echo "$tap" >>"$LAB/taps"
    ip link set "$tap" up
  fi
  lab_guest_xml "$name" "$program" "$mib" "$tap" >"$xml"
  lab_virsh "$host" create "$xml" >/dev/null || lab_die "cannot start guest $name on $host"
  lab_check_reaped_by_tini "$host" "$name"
  lab_log "guest $name ($program, $mib MiB) running on host $host"
}

# A guest's QEMU must be the child of its host's tini (lab_start_host), not of PID 1: else
# every stop of it waits for PID 1 to reap it (up to 2 s here).
lab_check_reaped_by_tini() {
  local host=$1 name=$2 pidfile qemu parent
  pidfile="$LAB/hosts/$host/run/libvirt/qemu/run/$name.pid"
  qemu=$(cat "$pidfile" 2>/dev/null) || lab_die "guest $name on $host: no QEMU pid file $pidfile"
  parent=$(ps -o ppid= -p "$qemu" | tr -d ' ')
  [[ $(ps -o comm= -p "$parent") == tini ]] ||
    lab_die "guest $name on $host: QEMU $qemu is a child of pid $parent ($(ps -o comm= -p "$parent")), not of the host's tini subreaper"
}

# Writes a CURVE key pair NAME into LAB/keys (needs ballast-keygen on PATH or BALLAST_BIN).
lab_keygen() {
  "${BALLAST_BIN:?BALLAST_BIN must point at the built binaries}/ballast-keygen" \
    --dir "$LAB/keys" "$1" >/dev/null || lab_die "ballast-keygen $1 failed"
}

# A free TCP port on 127.0.0.1, never one this lab handed out before (the kernel may offer
# the same ephemeral port twice in a row).
lab_free_port() {
  local port
  while :; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    grep -qx "$port" "$LAB/ports" 2>/dev/null || break
  done
  echo "$port" >>"$LAB/ports"
  echo "$port"
}

# lab_wait SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s until it succeeds.
lab_wait() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= end)); then
      lab_log "timed out after ${secs}s waiting for: $what"
      return 1
    fi
    sleep "${LAB_POLL:-0.5}"
  done
}
