# Sourced by the tests that need a real ballast-balancer but no libvirt: a balancer with the
# dry-run actuator, no hosts, CURVE on loopback, its control endpoint with admin and viewer
# keys. Every wait is bounded; everything lives in $LAB, removed when the test passes.
#   source dryrun_harness.sh BIN_DIR NAME
# DRYRUN_RECORD_FILE= (empty) records nothing; DRYRUN_LOG_LEVEL=info logs less than debug.
set -euo pipefail
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$(mktemp -d "${TMPDIR:-/tmp}/ballast-$2-XXXXXX")
PIDS=()
dry_cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $rc -eq 0 ]]; then rm -rf "$LAB"; else echo "FAILED: lab kept in $LAB" >&2; fi
}
trap dry_cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < until)) || { echo "timed out waiting for $what" >&2; return 1; }
    sleep 0.1
  done
}
keygen() { "$BIN/ballast-keygen" --dir "$LAB/keys" "$1" >/dev/null; }

start_dryrun_balancer() {
  mkdir -p "$LAB/keys" "$LAB/allow" "$LAB/admins" "$LAB/viewers"
  keygen balancer
  keygen admin
  keygen viewer
  cp "$LAB/keys/admin.pub" "$LAB/admins/"
  cp "$LAB/keys/viewer.pub" "$LAB/viewers/"
  BALANCER_PORT=$(free_port)
  CONTROL_PORT=$(free_port)
  METRICS_PORT=$(free_port)
  cat >"$LAB/balancer.yaml" <<YAML
listen: tcp://127.0.0.1:$BALANCER_PORT
server_key_file: $LAB/keys/balancer.key
allowlist_dir: $LAB/allow
table_interval: 0s
status_file: $LAB/status.json
status_interval: 250ms
policy_file: $ROOT/policies/default.yaml
journal_file: $LAB/journal.jsonl
${DRYRUN_RECORD_FILE-record_file: $LAB/recording.bin}
startup_grace: 0s
actuator: dry-run
metrics_listen: 127.0.0.1:$METRICS_PORT
control_listen: tcp://127.0.0.1:$CONTROL_PORT
admin_allowlist_dir: $LAB/admins
viewer_allowlist_dir: $LAB/viewers
# No collector reports in these tests, but an inventory is required all the same.
inventory:
  pattern: {libvirt_uri: "test:///{host}", migration_address: 127.0.0.1}
YAML
  # Debug logging: the most the balancer ever writes, for check_no_secrets.sh to search.
  "$BIN/ballast-balancer" --config "$LAB/balancer.yaml" --log-level "${DRYRUN_LOG_LEVEL:-debug}" \
    >"$LAB/balancer.out" 2>"$LAB/balancer.log" &
  BALANCER_PID=$!
  PIDS+=("$BALANCER_PID")
  wait_for 15 "the balancer's status file" test -s "$LAB/status.json" ||
    { cat "$LAB/balancer.log" >&2; return 1; }
  BALANCER_ENDPOINT="tcp://127.0.0.1:$BALANCER_PORT"
  export BALLAST_ENDPOINT="tcp://127.0.0.1:$CONTROL_PORT" BALLAST_SERVER_KEY="$LAB/keys/balancer.pub"
  METRICS_URL="http://127.0.0.1:$METRICS_PORT/metrics"
}

# ctl KEY_NAME ARGS...: ballastctl with that key; prints its exit code last on stdout.
ctl() {
  local key=$1
  shift
  local rc=0
  BALLAST_ADMIN_KEY="$LAB/keys/$key.key" "$BIN/ballastctl" --timeout 5 "$@" \
    >"$LAB/ctl.out" 2>"$LAB/ctl.err" || rc=$?
  echo "$rc"
}
