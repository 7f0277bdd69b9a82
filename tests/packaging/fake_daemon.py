"""A Type=notify daemon for harness_selftest.py, well behaved or breaking one rule:
  good         READY=1 once its HTTP port serves, WATCHDOG=1 every half of WATCHDOG_USEC
  early-ready  READY=1 a second before its HTTP port serves
  no-watchdog  never pings
  slow-watchdog pings, but only every 1.5 x WATCHDOG_USEC (systemd would kill it)
  child-pinger a second process pings too, so pings go on while the daemon is stopped
usage: fake_daemon.py MODE PORT
"""

import http.server
import os
import signal
import socket
import sys
import threading
import time


def notify(text):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), addr)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def ping_forever(interval):
    while True:
        notify("WATCHDOG=1")
        time.sleep(interval)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    interval = int(os.environ.get("WATCHDOG_USEC", "0")) / 2e6
    if mode == "slow-watchdog":
        interval *= 3
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if mode == "early-ready":
        notify("READY=1\nSTATUS=ready too soon")
        time.sleep(1)
    server = http.server.HTTPServer(("127.0.0.1", port), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if mode == "child-pinger" and os.fork() == 0:
        ping_forever(interval)
    if mode != "early-ready":
        notify("READY=1\nSTATUS=serving")
    while not stop.is_set():
        if mode not in ("no-watchdog", "child-pinger"):
            notify("WATCHDOG=1")
        stop.wait(interval)
    notify("STOPPING=1")
    if mode == "child-pinger":
        os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    main()
