#!/usr/bin/env bash
# Roles for ballastctl, end to end: the real balancer (dry-run actuator, no hosts) and the
# real ballastctl. A viewer key reads (status, plan, history, policy diff) but is refused
# every mutating verb with exit 5 and a sentence saying why, and nothing it asked reaches the
# journal; an admin key does both; removing the viewer's .pub refuses it (exit 4).
#   ballastctl_roles_test.sh BIN_DIR
source "$(dirname "$0")/dryrun_harness.sh" "$1" roles
start_dryrun_balancer

expect() {  # expect CODE KEY ARGS...
  local want=$1
  shift
  local got
  got=$(ctl "$@")
  if [[ $got != "$want" ]]; then
    echo "ballastctl ${*:2} with key $1: exit $got, expected $want" >&2
    cat "$LAB/ctl.err" >&2
    exit 1
  fi
}

echo "--- a viewer reads"
expect 0 viewer status
expect 0 viewer plan
expect 0 viewer history
expect 0 viewer policy diff "$ROOT/policies/default.yaml"

echo "--- a viewer may not change anything"
for verb in "pause --reason viewer-was-here" resume "drain node-x" "undrain node-x" "migrate vm1 node-x"; do
  # shellcheck disable=SC2086
  expect 5 viewer $verb
  grep -q "forbidden: .* needs an admin key; 'viewer' is a viewer key" "$LAB/ctl.err" ||
    { echo "unclear refusal: $(cat "$LAB/ctl.err")" >&2; exit 1; }
done
if grep -q "viewer-was-here" "$LAB/journal.jsonl"; then
  echo "a viewer's pause reached the balancer" >&2
  exit 1
fi
python3 - "$LAB/status.json" <<'PY'
import json, sys
assert not json.load(open(sys.argv[1])).get("paused"), "paused by a viewer"
PY

# metric_at_least SERIES N: the balancer's /metrics shows SERIES >= N within 5 s.
metric_at_least() {
  local i v
  for i in $(seq 1 50); do
    v=$(curl -fsS "$METRICS_URL" | awk -v s="$1" '$1 == s {print $2}')
    if [[ -n $v ]] && python3 -c "import sys; sys.exit(0 if float('$v') >= $2 else 1)"; then
      return 0
    fi
    sleep 0.1
  done
  echo "metric $1 is '${v:-absent}', expected >= $2" >&2
  exit 1
}
metric_at_least 'ballast_control_refused_total{reason="forbidden"}' 5

echo "--- an admin may"
expect 0 admin pause --reason "admin-test"
expect 0 admin resume
grep -q '"admin-test"' "$LAB/journal.jsonl"

echo "--- a removed viewer key is refused"
rm "$LAB/viewers/viewer.pub"
sleep 0.3
expect 4 viewer status
metric_at_least 'ballast_control_refused_total{reason="auth"}' 1

echo "--- no secret in anything the run wrote"
bash "$ROOT/tests/integration/check_no_secrets.sh" "$LAB" "$METRICS_URL"
echo "ballastctl roles: ok"
