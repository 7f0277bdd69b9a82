#!/usr/bin/env python3
"""Checks what the real ballast-collector reported inside the emulated Xen dom0.

Reads the serial console log written by run-xen-test.sh, takes the two JSON samples printed
between BALLAST-SAMPLE-BEGIN/END markers and asserts: host pCPUs and memory, dom0 not listed
as a VM, both guests listed with the UUIDs from their xl configs, their memory equal to the
configured size, and the busy guest's CPU clearly above the idle one's between the samples.
Exit status 0 = all good; every failed check is printed.
"""

import argparse
import json
import re
import sys

MIB = 1024 * 1024


def samples(serial_text):
    out = {}
    lines = serial_text.replace("\r", "").split("\n")
    current = None
    buf = []
    for line in lines:
        m = re.match(r"^BALLAST-SAMPLE-(BEGIN|END) (\d+)$", line.strip())
        if m and m.group(1) == "BEGIN":
            current, buf = int(m.group(2)), []
        elif m and current is not None:
            out[current] = json.loads("\n".join(buf))
            current = None
        elif current is not None:
            # Hypervisor or kernel lines can slip into the console stream.
            if line.startswith("(XEN)") or re.match(r"^\[\s*\d+\.\d+\]", line):
                continue
            buf.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serial", required=True)
    ap.add_argument("--cpus", type=int, required=True)
    ap.add_argument("--host-memory-mib", type=int, required=True)
    ap.add_argument("--guest-memory-mib", type=int, required=True)
    ap.add_argument("--busy-uuid", required=True)
    ap.add_argument("--idle-uuid", required=True)
    a = ap.parse_args()

    with open(a.serial, encoding="utf-8", errors="replace") as f:
        text = f.read()
    errors = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            errors.append(what)

    got = samples(text)
    if 1 not in got or 2 not in got:
        print("FAIL: the serial log does not hold two collector samples")
        return 1
    s1, s2 = got[1], got[2]

    for n, s in ((1, s1), (2, s2)):
        check(s["host"]["source"] == "xenstat", f"sample {n}: source is xenstat")
        check(s["capacity"]["cpu_cores"] == a.cpus,
              f"sample {n}: host pCPUs {s['capacity']['cpu_cores']} == {a.cpus}")
        mem = s["capacity"]["memory_bytes"]
        # Xen counts the RAM pages it manages: a little under what QEMU was given.
        check(0.9 * a.host_memory_mib * MIB <= mem <= a.host_memory_mib * MIB,
              f"sample {n}: host memory {mem / MIB:.0f} MiB within 90-100% of "
              f"{a.host_memory_mib} MiB")
        check(s["capacity"]["cpu_hz"] > 0, f"sample {n}: cpu_hz {s['capacity']['cpu_hz']} > 0")
        free = s["counters"]["memory_free_bytes"]
        check(0 < free < mem, f"sample {n}: free memory {free / MIB:.0f} MiB below total")
        names = sorted(vm["name"] for vm in s["vms"])
        check(names == ["busy", "idle"], f"sample {n}: VMs {names} == ['busy', 'idle'] "
              "(dom0 is not a VM)")
        by_name = {vm["name"]: vm for vm in s["vms"]}
        for name, uuid in (("busy", a.busy_uuid), ("idle", a.idle_uuid)):
            vm = by_name.get(name)
            if vm is None:
                continue
            check(vm["uuid"] == uuid, f"sample {n}: {name} uuid {vm['uuid']} == {uuid}")
            # Xen counts the pages a guest holds: the configured memory plus a few special
            # pages (16 = 64 KiB for a PVH guest: console, xenstore, ioreq...). libxl sets
            # the maximum 1 MiB above the configured size.
            cur, mx = vm["memory_current_bytes"], vm["memory_max_bytes"]
            want = a.guest_memory_mib * MIB
            check(want <= cur <= want + 256 * 1024,
                  f"sample {n}: {name} memory {cur} is the configured {a.guest_memory_mib} MiB "
                  f"(+{(cur - want) // 1024} KiB of Xen special pages, at most 256)")
            check(cur <= mx <= want + 2 * MIB,
                  f"sample {n}: {name} max memory {mx} between current and configured + 2 MiB")
            check(vm["vcpus"] == 1, f"sample {n}: {name} vcpus {vm['vcpus']} == 1")

    if errors:
        return 1
    v1 = {vm["name"]: vm for vm in s1["vms"]}
    v2 = {vm["name"]: vm for vm in s2["vms"]}
    wall = s2["monotonic_ns"] - s1["monotonic_ns"]
    busy = v2["busy"]["cpu_ns"] - v1["busy"]["cpu_ns"]
    idle = v2["idle"]["cpu_ns"] - v1["idle"]["cpu_ns"]
    print(f"info between samples: wall {wall / 1e9:.2f} s, busy CPU {busy / 1e9:.3f} s, "
          f"idle CPU {idle / 1e9:.3f} s")
    check(busy >= 0 and idle >= 0, "guest CPU counters did not go backwards")
    check(busy > 0.25 * wall, f"busy guest used {busy / wall:.0%} of one pCPU (> 25%)")
    check(busy > 5 * idle, f"busy guest CPU {busy} ns > 5 x idle guest CPU {idle} ns")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
