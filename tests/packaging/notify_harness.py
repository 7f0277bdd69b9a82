"""The systemd side of sd_notify for tests that have no systemd as PID 1.

A datagram socket the daemon finds in NOTIFY_SOCKET, with SO_PASSCRED so every message
carries the sender's pid (systemd's NotifyAccess=main drops messages from other pids, and so
do these checks), plus the three checks the packaging test makes of a Type=notify daemon:
READY=1 only once its endpoints answer, WATCHDOG=1 at least every WATCHDOG_USEC, and none
while the process is stopped. harness_selftest.py runs the checks against daemons that break
each rule, to show they fail.
"""

import os
import signal
import socket
import struct
import subprocess
import time
import urllib.request


class CheckFailed(Exception):
    pass


class NotifySocket:
    """An abstract-namespace socket: no file whose mode the daemon's user must be able to use."""

    def __init__(self):
        self.name = f"ballast-notify-test-{os.getpid()}-{time.monotonic_ns()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind("\0" + self.name)
        self.messages = []  # (monotonic time, sender pid, {key: value})

    @property
    def env_value(self):
        return "@" + self.name

    def receive(self, timeout):
        """Waits up to `timeout` s for one message; records and returns it, or None."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except (socket.timeout, BlockingIOError):
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("iII", payload[:12])
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            if "=" in line:
                key, value = line.split("=", 1)
                fields[key] = value
        msg = (time.monotonic(), pid, fields)
        self.messages.append(msg)
        return msg

    def drain(self):
        """Everything already queued, without waiting."""
        out = []
        while (m := self.receive(0.001)) is not None:
            out.append(m)
        return out

    def close(self):
        self.sock.close()


def http_ok(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200, r.read().decode(errors="replace")
    except OSError as e:
        return False, str(e)


def tcp_ok(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as e:
        return False, str(e)


def wait_ready(notify, proc, probe, timeout, require_main_pid=True):
    """Waits for READY=1 from proc, then probes its endpoints once, at once, with no retry:
    if READY came before they were up, a probe fails. Returns the READY message's STATUS=."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CheckFailed(f"daemon exited with {proc.returncode} before READY=1")
        m = notify.receive(deadline - time.monotonic())
        if m is None:
            continue
        _, pid, fields = m
        if require_main_pid and pid != proc.pid:
            raise CheckFailed(f"notification from pid {pid}, not the main pid {proc.pid}: {fields}")
        if fields.get("READY") == "1":
            failures = [f"{what}: {why}" for what, (ok, why) in probe().items() if not ok]
            if failures:
                raise CheckFailed("READY=1 before the endpoints answer: " + "; ".join(failures))
            status = fields.get("STATUS", "")
            if not status:
                raise CheckFailed("READY=1 without a STATUS= line")
            return status
    raise CheckFailed(f"no READY=1 within {timeout} s")


def watchdog_pings(notify, proc, seconds, require_main_pid=True):
    """Collects WATCHDOG=1 for `seconds`; returns their arrival times."""
    times = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        m = notify.receive(left)
        if m is None:
            continue
        t, pid, fields = m
        if require_main_pid and pid != proc.pid:
            raise CheckFailed(f"notification from pid {pid}, not the main pid {proc.pid}: {fields}")
        if fields.get("WATCHDOG") == "1":
            times.append(t)
    return times


def check_periodic_watchdog(notify, proc, watchdog_usec, seconds, require_main_pid=True):
    """Pings must come at least every WATCHDOG_USEC (systemd kills the service after that)."""
    limit = watchdog_usec / 1e6
    # Arrival times are only the daemon's send times while we keep reading: what queued up
    # while we were not says nothing about gaps.
    notify.drain()
    start = time.monotonic()
    times = watchdog_pings(notify, proc, seconds, require_main_pid)
    # The gaps are the rule (including the ones before the first and after the last ping);
    # no ping at all is reported as such.
    if not times:
        raise CheckFailed(f"no WATCHDOG=1 in {seconds} s (WATCHDOG_USEC={watchdog_usec})")
    gaps = [b - a for a, b in zip([start] + times, times + [time.monotonic()])]
    if max(gaps) >= limit:
        raise CheckFailed(f"a {max(gaps):.2f} s gap between WATCHDOG=1 pings (limit {limit} s)")
    return times


def all_threads_stopped(pid):
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state not in ("T", "t"):
                return False
        return True
    except FileNotFoundError:
        return False


def check_no_watchdog_while_stopped(notify, proc, watchdog_usec, require_main_pid=True):
    """SIGSTOP: once every thread is stopped, nothing may ping (a hung loop must not look
    alive); after SIGCONT the pings resume within one interval."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 5
        while not all_threads_stopped(proc.pid):
            if time.monotonic() > deadline:
                raise CheckFailed("the daemon did not stop on SIGSTOP")
            time.sleep(0.01)
        notify.drain()  # sent before the stop took effect
        window = 2.5 * watchdog_usec / 1e6
        during = watchdog_pings(notify, proc, window, require_main_pid=False)
        if during:
            raise CheckFailed(f"{len(during)} WATCHDOG=1 while the daemon was stopped ({window} s)")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    resumed = watchdog_pings(notify, proc, watchdog_usec / 1e6, require_main_pid)
    if not resumed:
        raise CheckFailed("no WATCHDOG=1 within WATCHDOG_USEC after SIGCONT")


def stop(proc, timeout):
    """SIGTERM (systemd's KillSignal) and wait; SIGKILL by pid if it does not exit."""
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGCONT)
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        raise CheckFailed(f"did not exit within {timeout} s of SIGTERM (killed)")
