#!/usr/bin/env bash
# Fails when the secret half of any CURVE key in use appears in what Ballast wrote: every
# file under LAB_DIR (logs, journal and its rotations, status and state files, recordings,
# configs) except the .key files themselves, and every METRICS_URL page. Each secret is
# looked for as its Z85 text, as the 32 raw bytes, and as their hex and base64, so a key
# dumped in another encoding is caught too. Names the file; never prints a secret.
#   check_no_secrets.sh LAB_DIR [METRICS_URL...]
# Keys are the *.key files under LAB_DIR plus those under $BALLAST_SECRET_KEY_DIRS
# (colon-separated). Call it at the end of an integration test, after the daemons stopped
# or while they run.
set -euo pipefail
[[ $# -ge 1 && -d $1 ]] || { echo "usage: $0 LAB_DIR [METRICS_URL...]" >&2; exit 2; }
exec python3 - "$@" <<'PY'
import base64, os, sys, urllib.request

Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

def z85_decode(s):
    out = bytearray()
    for i in range(0, len(s), 5):
        v = 0
        for c in s[i:i + 5]:
            v = v * 85 + Z85.index(c)
        out += v.to_bytes(4, "big")
    return bytes(out)

lab, urls = sys.argv[1], sys.argv[2:]
key_dirs = [lab] + [d for d in os.environ.get("BALLAST_SECRET_KEY_DIRS", "").split(":") if d]
secrets = {}  # needle -> key file it came from
for d in key_dirs:
    for root, _, files in os.walk(d):
        for f in files:
            if not f.endswith(".key"):
                continue
            path = os.path.join(root, f)
            for line in open(path, errors="replace"):
                k, _, v = line.partition("=")
                if k.strip() != "secret-key":
                    continue
                z = v.strip().strip('"')
                if len(z) != 40:
                    continue
                raw = z85_decode(z)
                for needle in (z.encode(), raw, raw.hex().encode(), raw.hex().upper().encode(),
                               base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")):
                    secrets[needle] = path
if not secrets:
    print(f"check_no_secrets: no secret keys found under {' '.join(key_dirs)}", file=sys.stderr)
    sys.exit(2)

leaks, checked = [], 0
def check(name, data):
    global checked
    checked += 1
    for needle, key in secrets.items():
        if needle in data:
            leaks.append(f"{name} contains the secret of {key}")
            break

for root, _, files in os.walk(lab):
    for f in files:
        path = os.path.join(root, f)
        if f.endswith(".key") or not os.path.isfile(path):
            continue
        with open(path, "rb") as fh:
            check(path, fh.read())
for url in urls:
    try:
        check(url, urllib.request.urlopen(url, timeout=10).read())
    except OSError as e:
        leaks.append(f"{url}: cannot fetch ({e})")
for l in leaks:
    print("check_no_secrets: " + l, file=sys.stderr)
if leaks:
    sys.exit(1)
print(f"check_no_secrets: {len(secrets) // 6} secret keys, {checked} files/pages, no leak")
PY
