#!/usr/bin/env bash
# Secrets never leak (issue 14): the real balancer (dry-run, debug logging, recording on)
# serves admin and viewer requests, refuses a stranger, then every file it wrote and its
# /metrics page are searched for the secret halves of the keys in use. First the checker
# proves it can fail: a planted secret, in Z85 and in hex, must be found.
#   no_secrets_test.sh BIN_DIR
source "$(dirname "$0")/dryrun_harness.sh" "$1" secrets
CHECK="$ROOT/tests/integration/check_no_secrets.sh"

echo "--- the checker finds a planted secret"
mkdir -p "$LAB/plant"
"$BIN/ballast-keygen" --dir "$LAB/plant" planted >/dev/null
secret=$(sed -n 's/^secret-key = "\(.*\)"$/\1/p' "$LAB/plant/planted.key")
echo "debug: loaded key $secret" >"$LAB/plant/leaky.log"
if bash "$CHECK" "$LAB/plant" 2>"$LAB/plant.err"; then echo "missed a Z85 secret" >&2; exit 1; fi
grep -q "leaky.log contains the secret" "$LAB/plant.err"
if grep -qF "$secret" "$LAB/plant.err"; then echo "the checker printed the secret" >&2; exit 1; fi
python3 - "$secret" >"$LAB/plant/leaky.log" <<'PY'
import sys
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
s, out = sys.argv[1], bytearray()
for i in range(0, 40, 5):
    v = 0
    for c in s[i:i + 5]:
        v = v * 85 + Z85.index(c)
    out += v.to_bytes(4, "big")
print("key bytes:", out.hex())
PY
if bash "$CHECK" "$LAB/plant" 2>/dev/null; then echo "missed a hex secret" >&2; exit 1; fi
rm -rf "$LAB/plant"

echo "--- a run of the balancer, then the search"
start_dryrun_balancer
for k in admin viewer; do
  [[ $(ctl "$k" status) == 0 ]]
  [[ $(ctl "$k" -o json plan) == 0 ]]
done
[[ $(ctl viewer pause) == 5 ]]
[[ $(ctl admin pause --reason secrets-test) == 0 ]]
[[ $(ctl admin resume) == 0 ]]
keygen stranger
[[ $(ctl stranger status) == 4 ]]
sleep 0.6  # one more status rewrite
curl -fsS "$METRICS_URL" >"$LAB/metrics.txt"
bash "$CHECK" "$LAB" "$METRICS_URL"
echo "no secrets: ok"
