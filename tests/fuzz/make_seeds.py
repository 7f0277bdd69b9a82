#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ (run from anywhere; idempotent).

The protobuf messages are encoded by hand (field numbers from common/proto/*.proto) so the
seeds need nothing but Python. Crashing inputs found by fuzzing are added to the same
directories by hand, named crash-<what>, and never regenerated here."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint((num << 3) | 2) + varint(len(b)) + b


def field_double(num, d):
    return varint((num << 3) | 1) + struct.pack("<d", d)


def vm(i, name=None):
    return (field_bytes(1, "00000000-0000-0000-0000-%012d" % i) + field_bytes(2, name or "vm%d" % i)
            + field_varint(3, 2) + field_varint(4, 1) + field_varint(5, 10**9 * i)
            + field_varint(6, 2 << 30) + field_varint(7, 4 << 30) + field_varint(8, 1000)
            + field_varint(9, 2000) + field_varint(10, 3) + field_varint(11, 4)
            + field_varint(12, 1) + field_varint(13, 1))


def sample(vms, host="node-a", uri="qemu:///system"):
    host_id = (field_bytes(1, host) + field_bytes(2, "host-uuid") + field_bytes(3, uri)
               + field_bytes(4, "10.0.0.1") + field_bytes(5, "libvirt"))
    cap = field_double(1, 8.0) + field_varint(2, 16 << 30) + field_varint(3, 10**9)
    cnt = field_varint(1, 10**9) + field_varint(2, 8 * 10**9) + field_varint(3, 1 << 30)
    out = (field_varint(1, 1) + field_bytes(2, host_id) + field_varint(3, 42) + field_varint(4, 7)
           + field_varint(5, 123456789) + field_varint(6, 1700000000 * 10**9)
           + field_bytes(7, cap) + field_bytes(8, cnt))
    for v in vms:
        out += field_bytes(9, v)
    return out


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# DecodeHostSample
write("decode_host_sample_fuzz", "seed-empty-host", sample([]))
write("decode_host_sample_fuzz", "seed-three-vms", sample([vm(1), vm(2), vm(3)]))
write("decode_host_sample_fuzz", "seed-invalid-utf8", sample([vm(1, b"vm\xff\xfe".decode("latin1"))]))
write("decode_host_sample_fuzz", "seed-invalid-utf8-raw",
      sample([]).replace(b"node-a", b"node\xc3\x28"))
write("decode_host_sample_fuzz", "seed-duplicate", sample([vm(1), vm(1)]))

# Policies: every shipped one.
for f in sorted(os.listdir(os.path.join(ROOT, "policies"))):
    if f.endswith(".yaml"):
        with open(os.path.join(ROOT, "policies", f)) as src:
            write("policy_loader_fuzz", "seed-" + f, src.read())

write("balancer_config_fuzz", "seed-lab.yaml", """listen: tcp://127.0.0.1:7710
server_key_file: /lab/keys/balancer.key
allowlist_dir: /lab/allow
table_interval: 0s
status_file: /lab/status.json
status_interval: 250ms
policy_file: /lab/policy.yaml
journal_file: /lab/journal.jsonl
startup_grace: 1s
metrics_listen: 127.0.0.1:9470
control_listen: tcp://127.0.0.1:7711
admin_allowlist_dir: /lab/admins
viewer_allowlist_dir: /lab/viewers
actuator: dry-run
record_file: /lab/rec
record_max_bytes: 16MiB
journal_max_bytes: 1MiB
journal_keep: 3
inventory:
  hosts:
    kvm-1: {libvirt_uri: "qemu+tls://kvm-1.example/system", migration_address: 10.0.0.11}
  pattern: {libvirt_uri: "qemu+unix:///session?socket=/lab/hosts/{host}/sock/libvirt-sock", migration_address: "{host}.mig"}
""")
write("balancer_config_fuzz", "seed-plaintext.yaml",
      "plaintext: true\npolicy_file: p.yaml\njournal_file: j\nmigration_workers: 2\n"
      "inventory: {trust_collector_claims: true}\n")

write("collector_config_fuzz", "seed-readme.yaml", """host:
  name: node1
  libvirt_uri: qemu:///system
  migration_address: 10.0.0.11
source: libvirt
interval: 1s
libvirt:
  block_stats: false
capacity:
  cpu_cores: 14
balancer:
  endpoint: tcp://balancer.example:7710
  key_file: /etc/ballast/keys/node1.key
  server_public_key_file: /etc/ballast/keys/balancer.pub
""")
write("collector_config_fuzz", "seed-plaintext.yaml",
      "host:\n  name: n\nbalancer:\n  endpoint: tcp://127.0.0.1:1\n  plaintext: true\n")

# ControlRequest: api_version 1 and each verb (10..19).
for num, body in [(10, b""), (11, b""), (12, field_bytes(1, "vm1")),
                  (13, field_bytes(1, "vm1") + field_bytes(2, "node-b") + field_varint(3, 1)),
                  (14, field_bytes(1, "node-a")), (15, field_bytes(1, "node-a")),
                  (16, field_bytes(1, "maintenance")), (17, b""),
                  (18, field_bytes(1, "vm1") + field_varint(3, 5) + field_varint(4, 10)),
                  (19, field_bytes(1, "p.yaml") + field_bytes(2, "apiVersion: ballast/v1\n"))]:
    write("control_request_fuzz", "seed-verb-%d" % num, field_varint(1, 1) + field_bytes(num, body))
write("control_request_fuzz", "seed-two-verbs",
      field_varint(1, 1) + field_bytes(10, b"") + field_bytes(13, field_bytes(1, "vm")))

# Recording: magic, then [arrival ns (8 LE), length (4 LE), HostSample].
rec = b"BALREC1\n"
for i in range(3):
    s = sample([vm(i + 1)])
    rec += struct.pack("<QI", 1700000000 * 10**9 + i, len(s)) + s
write("recording_reader_fuzz", "seed-three", rec)
write("recording_reader_fuzz", "seed-torn", rec[:-7])

write("journal_reader_fuzz", "seed-journal", "\n".join([
    '{"event":"daemon_started","policy":"default","seq":1,"ts":"2026-01-01T00:00:00.000Z"}',
    '{"event":"migration_planned","vm":"vm1","from":"a","to":"b","seq":2}',
    '{"event":"migration_finished","vm":"vm1","seq":3}',
    '{"torn":',
]) + "\n")
