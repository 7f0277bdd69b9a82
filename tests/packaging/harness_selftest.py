#!/usr/bin/env python3
"""Shows that the packaging test's notify checks can fail: each is run against a fake daemon
that breaks the rule it checks (fake_daemon.py), and must fail there and pass on the good
one. Needs no packages and no root."""

import os
import socket
import subprocess
import sys

# No __pycache__ in the source tree (deploy/build-debs.sh copies untracked files).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import notify_harness as h  # noqa: E402

WATCHDOG_USEC = 1_000_000
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_daemon.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(mode, check):
    """Runs `check(notify, proc, probe)` against a fake in `mode`; returns the failure or None."""
    notify = h.NotifySocket()
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=notify.env_value, WATCHDOG_USEC=str(WATCHDOG_USEC))
    # Its own process group, so a forked pinger is killed with it.
    proc = subprocess.Popen([sys.executable, FAKE, mode, str(port)], env=env,
                            start_new_session=True)
    probe = lambda: {"http": h.http_ok(f"http://127.0.0.1:{port}/")}  # noqa: E731
    try:
        check(notify, proc, probe)
        return None
    except h.CheckFailed as e:
        return str(e)
    finally:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait()
        notify.close()


def ready(notify, proc, probe):
    h.wait_ready(notify, proc, probe, timeout=10)


def periodic(notify, proc, probe):
    h.wait_ready(notify, proc, probe, timeout=10)
    h.check_periodic_watchdog(notify, proc, WATCHDOG_USEC, seconds=3)


def stopped(notify, proc, probe):
    # The pid check alone would catch the child pinger; leave it out to test the stop check.
    h.wait_ready(notify, proc, probe, timeout=10)
    h.check_no_watchdog_while_stopped(notify, proc, WATCHDOG_USEC, require_main_pid=False)


def main_pid(notify, proc, probe):
    h.wait_ready(notify, proc, probe, timeout=10)
    h.check_periodic_watchdog(notify, proc, WATCHDOG_USEC, seconds=2)


CASES = [  # (check, fake mode, must fail)
    (ready, "good", False),
    (ready, "early-ready", True),
    (periodic, "good", False),
    (periodic, "no-watchdog", True),
    (periodic, "slow-watchdog", True),
    (stopped, "good", False),
    (stopped, "child-pinger", True),
    (main_pid, "child-pinger", True),
]


def main():
    passed = failed = 0
    for check, mode, must_fail in CASES:
        failure = run(mode, check)
        ok = (failure is not None) == must_fail
        passed, failed = passed + ok, failed + (not ok)
        expect = "fails" if must_fail else "passes"
        print(f"{'ok  ' if ok else 'FAIL'} {check.__name__} on {mode}: expected it {expect}; "
              f"got {failure or 'pass'}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
