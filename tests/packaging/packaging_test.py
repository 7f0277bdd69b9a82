#!/usr/bin/env python3
"""Installs Ballast's Debian packages on this machine and checks them as systemd would run
them, without systemd as PID 1 (CI has none):

1. dpkg -i the packages from $BALLAST_DEB_DIR (deploy/build-debs.sh DIR); owner and mode of
   every path they installed and every path their maintainer scripts made.
2. Keys made as the README says (as user ballast), the shipped configs edited only to use
   free ports and the dry-run actuator.
   systemd-analyze verify and security (exposure "OK" or better) on the installed units,
   whose ConditionPathExists= keeps them from starting before the admin has made keys.
3. Each daemon started exactly as its installed unit's ExecStart= says, as its User=/Group=,
   with NOTIFY_SOCKET pointing at our datagram socket: READY=1 only once its endpoints answer
   (probed once, at once), WATCHDOG=1 at least every WATCHDOG_USEC, none while SIGSTOPped,
   SIGHUP (ExecReload) survived, STOPPING=1 and exit 0 on SIGTERM. `ballastctl status` answers.
4. An upgrade (the same packages with a higher version) keeps edited configs and keys.
5. dpkg --purge leaves nothing with "ballast" in its path that was not there before; the
   ballast user and group stay, as Debian policy has it.

Everything it starts is killed by pid, and the packages purged, on failure too.
Exit 77 (skipped) when not root or without BALLAST_DEB_DIR.
"""

import glob
import grp
import hashlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

# No __pycache__ in the source tree (deploy/build-debs.sh copies untracked files).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import notify_harness as h  # noqa: E402

PACKAGES = ["ballast-common", "ballast-collector", "ballast-balancer", "ballast-tools"]
# systemd would pass WatchdogSec= (30 s) here; a shorter one keeps the test short. The
# protocol and the daemon's half-interval pings are the same.
WATCHDOG_USEC = 2_000_000
# Where the purge check looks for leftovers (/lib, /bin are /usr's on Debian 12).
SCAN_ROOTS = ["/etc", "/usr", "/var", "/opt", "/srv"]
# /var/cache/ballast: the Xen test's cache (install-deps.sh). /var/cache/man: man-db's
# formatted-page cache (owned by man, expired by man-db itself, never a package's to purge);
# seen holding cat1/ballast-*.1.gz after a purge on a fresh machine.
SCAN_SKIP = ["/var/cache/ballast", "/var/cache/man", "/var/tmp"]


def log(msg):
    print(f"packaging_test: {msg}", flush=True)


def run(*cmd, check=True, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise h.CheckFailed(f"{shlex.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed(pkg):
    r = run("dpkg-query", "-W", "-f=${db:Status-Status}", pkg, check=False)
    return r.returncode == 0 and r.stdout not in ("", "not-installed")


def ballast_paths():
    out = set()
    for root in SCAN_ROOTS:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames
                           if os.path.join(dirpath, d) not in SCAN_SKIP
                           and not os.path.ismount(os.path.join(dirpath, d))]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if "ballast" in path:
                    out.add(path)
    return out


# ---- 1. install, owners and modes ---------------------------------------------------------

# Paths the maintainer scripts make, with owner, group and mode: not in any package's file
# list, since dpkg would reset their owner and mode on upgrade.
MADE_BY_SCRIPTS = {
    "/etc/ballast/keys": ("ballast", "ballast", 0o700),
    "/etc/ballast/collectors": ("root", "ballast", 0o750),
    "/etc/ballast/admins": ("root", "ballast", 0o750),
    "/etc/ballast/viewers": ("root", "ballast", 0o750),
    "/var/lib/ballast": ("ballast", "ballast", 0o750),
    "/etc/ballast/balancer.yaml": ("root", "ballast", 0o640),
    "/etc/ballast/policy.yaml": ("root", "ballast", 0o640),
    "/etc/ballast/collector.yaml": ("root", "ballast", 0o640),
}


# /etc/ballast itself: others may see which configs exist, not what they say.
WORLD_READABLE_OK = {"/etc/ballast"}


def world_reachable(path):
    """Whether others can get to `path`: every directory above it lets them through."""
    d = os.path.dirname(path)
    while True:
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return False
        if d == "/":
            return True
        d = os.path.dirname(d)


def expected_mode(path, st):
    if path in MADE_BY_SCRIPTS:
        return MADE_BY_SCRIPTS[path]
    if stat.S_ISDIR(st.st_mode):
        return ("root", "root", 0o755)
    if path.startswith("/usr/bin/"):
        return ("root", "root", 0o755)
    return ("root", "root", 0o644)


def check_modes():
    paths = set(MADE_BY_SCRIPTS)
    for pkg in PACKAGES:
        paths.update(p for p in run("dpkg", "-L", pkg).stdout.splitlines() if p.startswith("/"))
    bad = []
    for path in sorted(paths):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            bad.append(f"{path}: missing")
            continue
        owner, group = pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name
        if stat.S_ISLNK(st.st_mode):
            if owner != "root":
                bad.append(f"{path}: symlink owned by {owner}")
            continue
        want = expected_mode(path, st)
        got = (owner, group, stat.S_IMODE(st.st_mode))
        if got != want:
            bad.append(f"{path}: {got[0]}:{got[1]} {got[2]:04o}, want {want[0]}:{want[1]} {want[2]:04o}")
    # Nothing that lists hosts or holds secrets may be readable by others: such a file must
    # not be world-readable or must sit in a directory others cannot enter.
    for top in ["/etc/ballast", "/var/lib/ballast"]:
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                if p in WORLD_READABLE_OK:
                    continue
                if os.lstat(p).st_mode & stat.S_IROTH and world_reachable(p):
                    bad.append(f"{p}: readable by others")
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}\n", *PACKAGES).stdout
    for f in ["/etc/ballast/balancer.yaml", "/etc/ballast/policy.yaml", "/etc/ballast/collector.yaml"]:
        if f not in conffiles:
            bad.append(f"{f}: not a conffile")
    if bad:
        raise h.CheckFailed("owners and modes:\n  " + "\n  ".join(bad))
    log(f"owners and modes of {len(paths)} paths as expected")


# ---- 2. keys and configs ------------------------------------------------------------------

def as_ballast(*cmd):
    return run("setpriv", "--reuid=ballast", "--regid=ballast", "--init-groups", *cmd)


def set_options(path, options):
    """Sets top-level `key: value` lines of a YAML config, in place (owner and mode kept)."""
    text = open(path).read()
    for key, value in options.items():
        line = f"{key}: {value}"
        text, n = re.subn(rf"(?m)^{re.escape(key)}:.*$", line, text)
        if n == 0:
            text += line + "\n"
    with open(path, "w") as f:
        f.write(text)


def set_nested(path, replacements):
    text = open(path).read()
    for old, new in replacements:
        if not re.search(old, text, flags=re.M):
            raise h.CheckFailed(f"{path}: no line matching {old!r}")
        text = re.sub(old, new, text, flags=re.M)
    with open(path, "w") as f:
        f.write(text)


def make_keys(tmp):
    # As the README says: daemons' keys made as user ballast, so the 0600 files are theirs.
    as_ballast("ballast-keygen", "--dir", "/etc/ballast/keys", "balancer")
    as_ballast("ballast-keygen", "--dir", "/etc/ballast/keys", "testnode")
    shutil.copy("/etc/ballast/keys/testnode.pub", "/etc/ballast/collectors/testnode.pub")
    run("ballast-keygen", "--dir", tmp, "admin")
    shutil.copy(os.path.join(tmp, "admin.pub"), "/etc/ballast/admins/admin.pub")


# ---- 3. the daemons as their units run them ------------------------------------------------

def unit_file(name):
    for p in run("dpkg", "-L", name).stdout.splitlines():
        if p.endswith(f"/{name}.service"):
            return p
    raise h.CheckFailed(f"{name} ships no {name}.service")


def parse_unit(path):
    service = {}
    section = None
    for raw in open(path):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        if section == "Service":
            service.setdefault(key, []).append(value)
    return service


def unit_conditions(path):
    out = []
    section = None
    for raw in open(path):
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Unit" and line.startswith("ConditionPathExists="):
            out.append(line.partition("=")[2])
    return out


def check_units():
    """What systemd itself would say of the installed units: systemd-analyze verify clean,
    the security exposure at most 4.9 ("OK" or better), and, right after installing, each
    unit's ConditionPathExists= unmet, so a systemd would not start a daemon that has no
    keys yet."""
    for name in ("ballast-balancer", "ballast-collector"):
        unit = unit_file(name)
        r = run("systemd-analyze", "verify", unit, check=False)
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            raise h.CheckFailed(f"systemd-analyze verify {unit}:\n{r.stdout}{r.stderr}")
        r = run("systemd-analyze", "security", "--offline=yes", "--threshold=49", unit, check=False)
        summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr
        if r.returncode != 0:
            raise h.CheckFailed(f"systemd-analyze security {unit}: {summary}")
        log(f"{name}: systemd-analyze verify clean; {summary.lstrip('→ ')}")
        conditions = unit_conditions(unit)
        if not conditions:
            raise h.CheckFailed(f"{unit}: no ConditionPathExists=: it would start with no keys")
        for c in conditions:
            if os.path.exists(c.lstrip("!")) != c.startswith("!"):
                raise h.CheckFailed(f"{unit}: ConditionPathExists={c} is met on a fresh install")


def start_as_unit(unit, notify, extra_env=None):
    svc = parse_unit(unit)
    for key, want in [("Type", "notify"), ("Restart", "on-failure")]:
        if svc.get(key) != [want]:
            raise h.CheckFailed(f"{unit}: {key}={svc.get(key)}, want {want}")
    if not svc.get("WatchdogSec"):
        raise h.CheckFailed(f"{unit}: no WatchdogSec=")
    argv = shlex.split(svc["ExecStart"][0])
    user, group = svc["User"][0], svc["Group"][0]
    extra_groups = []
    for g in " ".join(svc.get("SupplementaryGroups", [])).split():
        try:
            grp.getgrnam(g)
            extra_groups.append(g)
        except KeyError:
            # e.g. libvirt without libvirt-daemon-system; systemd would refuse to start the
            # unit, which is why ballast-collector recommends that package.
            log(f"{unit}: group {g} does not exist here; starting without it")
    umask = int(svc.get("UMask", ["0022"])[0], 8)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
           "NOTIFY_SOCKET": notify.env_value, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    env.update(extra_env or {})
    log(f"starting {shlex.join(argv)} as {user}:{group} {extra_groups}")
    return subprocess.Popen(argv, env=env, cwd="/", user=user, group=group,
                            extra_groups=extra_groups, umask=umask, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, os.path.basename(unit) + ".log"), "w"))


def check_running(unit, notify, proc, stop_timeout):
    """After READY=1: watchdog, SIGSTOP, reload if the unit has one, SIGTERM."""
    name = os.path.basename(unit)
    pings = h.check_periodic_watchdog(notify, proc, WATCHDOG_USEC, seconds=5)
    log(f"{name}: {len(pings)} WATCHDOG=1 in 5 s, none more than WATCHDOG_USEC apart")
    h.check_no_watchdog_while_stopped(notify, proc, WATCHDOG_USEC)
    log(f"{name}: no WATCHDOG=1 while SIGSTOPped, pings again after SIGCONT")
    reload = parse_unit(unit).get("ExecReload", [])
    if reload:
        if reload != ["/bin/kill -HUP $MAINPID"]:
            raise h.CheckFailed(f"{name}: ExecReload={reload}, want /bin/kill -HUP $MAINPID")
        os.kill(proc.pid, signal.SIGHUP)
        h.check_periodic_watchdog(notify, proc, WATCHDOG_USEC, seconds=3)
        if proc.poll() is not None:
            raise h.CheckFailed(f"{name}: exited {proc.returncode} on SIGHUP (ExecReload)")
        log(f"{name}: reloads on SIGHUP and goes on pinging")
    rc = h.stop(proc, stop_timeout)
    if rc != 0:
        raise h.CheckFailed(f"{name}: exit {rc} on SIGTERM")
    if not any(f.get("STOPPING") == "1" for _, pid, f in notify.drain() + notify.messages
               if pid == proc.pid):
        raise h.CheckFailed(f"{name}: no STOPPING=1 on SIGTERM")
    log(f"{name}: STOPPING=1 and exit 0 on SIGTERM")


def run_balancer(tmp, procs):
    ports = {k: free_port() for k in ("listen", "control", "metrics")}
    set_options("/etc/ballast/balancer.yaml", {
        "listen": f"tcp://127.0.0.1:{ports['listen']}",
        "control_listen": f"tcp://127.0.0.1:{ports['control']}",
        "metrics_listen": f"127.0.0.1:{ports['metrics']}",
        "actuator": "dry-run",
        "startup_grace": "1s",
    })
    notify = h.NotifySocket()
    unit = unit_file("ballast-balancer")
    proc = start_as_unit(unit, notify)
    procs.append(proc)

    def probe():
        ok, body = h.http_ok(f"http://127.0.0.1:{ports['metrics']}/metrics")
        return {"/metrics": (ok and "ballast_" in body, body[:200]),
                "collector endpoint": h.tcp_ok("127.0.0.1", ports["listen"]),
                "control endpoint": h.tcp_ok("127.0.0.1", ports["control"])}

    try:
        status = h.wait_ready(notify, proc, probe, timeout=60)
    except h.CheckFailed as e:
        raise h.CheckFailed(f"ballast-balancer: {e} (it sends READY=1 at the end of its Init, "
                            "through common/service_notify.h)") from e
    log(f"ballast-balancer: READY=1 after its endpoints answered; STATUS={status}")
    # The README's check, with the admin key it made.
    r = run("ballastctl", "--endpoint", f"tcp://127.0.0.1:{ports['control']}",
            "--key", os.path.join(tmp, "admin.key"), "--server-key", "/etc/ballast/keys/balancer.pub",
            "status", check=False)
    if r.returncode != 0:
        raise h.CheckFailed(f"ballastctl status exited {r.returncode}:\n{r.stdout}{r.stderr}")
    log("ballastctl status answers")
    return unit, notify, proc, probe, ports


def run_collector(balancer_port, procs):
    port = free_port()
    # The test driver stands in for qemu:///system (the real one needs a libvirtd).
    set_nested("/etc/ballast/collector.yaml", [
        (r"^(\s*)# name: node1\b.*$", r"\1name: testnode"),
        (r"^(\s*)libvirt_uri: .*$", r"\1libvirt_uri: test:///default"),
        (r"^(\s*)endpoint: .*$", rf"\1endpoint: tcp://127.0.0.1:{balancer_port}"),
        (r"^(\s*)key_file: .*$", r"\1key_file: /etc/ballast/keys/testnode.key"),
        (r"^metrics_listen: .*$", f"metrics_listen: 127.0.0.1:{port}"),
    ])
    notify = h.NotifySocket()
    unit = unit_file("ballast-collector")
    proc = start_as_unit(unit, notify)
    procs.append(proc)
    probe = lambda: {"/metrics": h.http_ok(f"http://127.0.0.1:{port}/metrics")}  # noqa: E731
    status = h.wait_ready(notify, proc, probe, timeout=60)
    log(f"ballast-collector: READY=1 after /metrics answered; STATUS={status}")
    check_running(unit, notify, proc, stop_timeout=10)


def check_sim_defaults():
    """The packaged ballast-sim points at what the package installed, not at the build tree:
    compare's policies are /usr/share/ballast/policies, and with no traces packaged it asks
    for --traces-dir instead of listing a directory of the machine that built it."""
    r = run("ballast-sim", "compare", "--help")
    if "/usr/share/ballast/policies" not in r.stdout:
        raise h.CheckFailed(f"ballast-sim compare --help does not default to the installed "
                            f"policies:\n{r.stdout}")
    for name in ("hotspot", "balance", "density"):
        if not os.path.exists(f"/usr/share/ballast/policies/sim-{name}.yaml"):
            raise h.CheckFailed(f"/usr/share/ballast/policies/sim-{name}.yaml is not installed")
    r = run("ballast-sim", "compare", "--no-plots", check=False)
    if r.returncode != 2 or "--traces-dir" not in r.stderr:
        raise h.CheckFailed(f"ballast-sim compare without traces exited {r.returncode}, want 2 "
                            f"and a word on --traces-dir:\n{r.stdout}{r.stderr}")
    log("ballast-sim compare: installed policies by default; asks for --traces-dir")


# ---- 4. upgrade ---------------------------------------------------------------------------

def bumped_debs(debs, tmp):
    """The same packages with a higher version, for a real upgrade through the maintainer
    scripts (preinst/postinst with the old version, conffile handling)."""
    out = []
    for deb in debs:
        d = tempfile.mkdtemp(dir=tmp)
        run("dpkg-deb", "-R", deb, d)
        control = os.path.join(d, "DEBIAN", "control")
        text = open(control).read()
        version = re.search(r"(?m)^Version: (.*)$", text).group(1)
        text = text.replace(f"(= {version})", f"(= {version}+upgradetest)")
        text = re.sub(r"(?m)^Version: .*$", f"Version: {version}+upgradetest", text)
        open(control, "w").write(text)
        new = os.path.join(tmp, os.path.basename(deb).replace(version, version + "+upgradetest"))
        run("dpkg-deb", "--root-owner-group", "-b", d, new)
        out.append(new)
    return out


def digest_tree(paths):
    out = {}
    for top in paths:
        for dirpath, _, filenames in os.walk(top):
            for name in filenames:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                out[p] = (hashlib.sha256(open(p, "rb").read()).hexdigest(), st.st_uid, st.st_gid,
                          stat.S_IMODE(st.st_mode))
    return out


def upgrade(debs, tmp):
    keep = ["/etc/ballast"]
    before = digest_tree(keep)
    run("dpkg", "-i", *bumped_debs(debs, tmp), env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    after = digest_tree(keep)
    changed = sorted(p for p in before if before[p] != after.get(p))
    if changed:
        raise h.CheckFailed("the upgrade changed edited configs or keys: " + ", ".join(changed))
    check_modes()
    log(f"upgrade to +upgradetest kept all {len(before)} files under /etc/ballast (configs, keys)")


# ---- 5. purge -----------------------------------------------------------------------------

def purge():
    present = [p for p in PACKAGES if installed(p)]
    if present:
        run("dpkg", "--purge", *present)


def check_purged(before):
    left = [p for p in PACKAGES if installed(p)]
    if left:
        raise h.CheckFailed(f"still known to dpkg after purge: {left}")
    extra = sorted(ballast_paths() - before)
    if extra:
        raise h.CheckFailed("left after purge:\n  " + "\n  ".join(extra))
    pwd.getpwnam("ballast")  # kept, as Debian policy has it for system users
    log("purge left nothing but the ballast user and group")


def main():
    global TMP
    if os.geteuid() != 0:
        print("packaging_test: needs root (dpkg -i); skipped")
        return 77
    deb_dir = os.environ.get("BALLAST_DEB_DIR")
    if not deb_dir:
        print("packaging_test: set BALLAST_DEB_DIR to the output of deploy/build-debs.sh DIR "
              "(.ci/run does); skipped")
        return 77
    debs = sorted(p for p in glob.glob(os.path.join(deb_dir, "*.deb")) if "-dbgsym" not in p)
    names = sorted(os.path.basename(p).split("_")[0] for p in debs)
    if names != sorted(PACKAGES):
        raise h.CheckFailed(f"{deb_dir} holds {names}, want {sorted(PACKAGES)}")
    if any(installed(p) for p in PACKAGES) or os.path.exists("/etc/ballast"):
        raise h.CheckFailed("Ballast is installed on this machine already (or /etc/ballast "
                            "exists); this test installs and purges it, so it will not run here")
    TMP = tempfile.mkdtemp(prefix="ballast-packaging-test.")
    procs = []
    before = ballast_paths()
    # On a machine where systemd is PID 1, the postinst would start (after the upgrade:
    # restart) the units we start ourselves: policy-rc.d tells deb-systemd-invoke not to.
    policy_rc = "/usr/sbin/policy-rc.d"
    made_policy_rc = not os.path.exists(policy_rc)
    if made_policy_rc:
        with open(policy_rc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy_rc, 0o755)
    try:
        run("dpkg", "-i", *debs, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        log(f"installed {', '.join(os.path.basename(d) for d in debs)}")
        if os.path.exists("/var/lib/ballast/journal.jsonl"):
            raise h.CheckFailed("a daemon ran on install")
        check_modes()
        check_units()
        check_sim_defaults()
        make_keys(TMP)
        unit, notify, proc, probe, ports = run_balancer(TMP, procs)
        run_collector(ports["listen"], procs)
        # The balancer's remaining checks, after the collector has published to it.
        check_running(unit, notify, proc, stop_timeout=45)
        check_modes()  # what the daemons wrote under /var/lib/ballast too
        upgrade(debs, TMP)
        purge()
        check_purged(before)
        print("packaging_test: 1 passed, 0 failed")
        return 0
    except h.CheckFailed as e:
        print(f"packaging_test: FAILED: {e}", file=sys.stderr)
        for log_file in glob.glob(os.path.join(TMP, "*.log")):
            print(f"--- {log_file} (last 30 lines)", file=sys.stderr)
            print("".join(open(log_file).readlines()[-30:]), file=sys.stderr)
        return 1
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, 9)
                p.wait()
        purge()
        if made_policy_rc:
            os.remove(policy_rc)
        shutil.rmtree(TMP, ignore_errors=True)


TMP = None

if __name__ == "__main__":
    sys.exit(main())
