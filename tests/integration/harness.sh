# shellcheck shell=bash
# Shared by the integration tests: start the real balancer and collectors of a lab (lab.sh)
# with CURVE keys, recording their pids for teardown.

HARNESS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Run by lab_teardown once the lab's daemons have stopped, when the test passed: no secret
# half of any key in use may appear in anything the run wrote (logs, journal, status, state,
# recordings, configs, libvirtd's logs). A leak fails the test (issue 14).
lab_post_check() {
  bash "$HARNESS_ROOT/tests/integration/check_no_secrets.sh" "$LAB" ||
    { echo "a secret key leaked into the files of $LAB (kept for a post-mortem)" >&2; return 1; }
}

# harness_inventory: the balancer's host inventory for the lab's test hosts: each one's
# libvirt socket (lab_uri NAME, by a pattern), migration traffic on loopback. A test may set
# HARNESS_INVENTORY to write its own.
harness_inventory() {
  cat <<YAML
inventory:
  pattern: {libvirt_uri: "$(lab_uri '{host}')", migration_address: 127.0.0.1}
YAML
}

# harness_balancer_yaml ENDPOINT STATUS POLICY JOURNAL METRICS_PORT CONTROL_PORT: the lab
# balancer's config (keys and allowlists under $LAB), without its inventory.
harness_balancer_yaml() {
  cat <<YAML
listen: $1
server_key_file: $LAB/keys/balancer.key
allowlist_dir: $LAB/allow
table_interval: 0s
status_file: $2
status_interval: 250ms
policy_file: $3
journal_file: $4
startup_grace: 1s
# The lab's test hosts are libvirt daemons on one machine: their host counters all describe
# that machine, so host load is the sum of each host's VMs (real hosts: counters).
host_load: vm_sum
metrics_listen: 127.0.0.1:$5
control_listen: tcp://127.0.0.1:$6
admin_allowlist_dir: $LAB/admins
YAML
}

# harness_start_balancer: keys, config and the balancer; sets BALANCER_ENDPOINT and STATUS.
harness_start_balancer() {
  lab_keygen balancer
  mkdir -p "$LAB/allow"
  local port
  port=$(lab_free_port)
  BALANCER_ENDPOINT="tcp://127.0.0.1:$port"
  STATUS="$LAB/status.json"
  BALANCER_METRICS_PORT=${BALANCER_METRICS_PORT:-$(lab_free_port)}
  CONTROL_PORT=${CONTROL_PORT:-$(lab_free_port)}
  lab_keygen admin
  mkdir -p "$LAB/admins"
  cp "$LAB/keys/admin.pub" "$LAB/admins/"
  JOURNAL="$LAB/journal.jsonl"
  POLICY="$LAB/policy.yaml"
  [[ -f $POLICY ]] || cp "${HARNESS_POLICY:-$HARNESS_ROOT/policies/default.yaml}" "$POLICY"
  {
    harness_balancer_yaml "$BALANCER_ENDPOINT" "$STATUS" "$POLICY" "$JOURNAL" \
      "$BALANCER_METRICS_PORT" "$CONTROL_PORT"
    echo "${HARNESS_INVENTORY:-$(harness_inventory)}"
    echo "${HARNESS_BALANCER_EXTRA:-}"
  } >"$LAB/balancer.yaml"
  "$BALLAST_BIN/ballast-balancer" --config "$LAB/balancer.yaml" \
    >"$LAB/balancer.out" 2>"$LAB/balancer.log" &
  lab_track balancer $!
  lab_wait 10 "the balancer to listen" test -s "$STATUS" ||
    lab_die "balancer did not start: $(cat "$LAB/balancer.log")"
  export BALANCER_ENDPOINT STATUS JOURNAL POLICY BALANCER_METRICS_PORT CONTROL_PORT
  export BALLAST_ENDPOINT="tcp://127.0.0.1:$CONTROL_PORT" BALLAST_ADMIN_KEY="$LAB/keys/admin.key"
  export BALLAST_SERVER_KEY="$LAB/keys/balancer.pub"
}

# Restarts the balancer with the same configuration (same port, keys, journal).
harness_restart_balancer() {
  "$BALLAST_BIN/ballast-balancer" --config "$LAB/balancer.yaml" \
    >>"$LAB/balancer.out" 2>>"$LAB/balancer.log" &
  lab_track balancer $!
}

# harness_status PYTHON_EXPR: evaluates an expression over the status JSON `s` (with `hosts`
# a dict by name and `vms` a dict VM name -> host name); exit 0 when true.
harness_status() {
  python3 - "$STATUS" "$1" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
hosts = {h["name"]: h for h in s["hosts"]}
vms = {v["name"]: h["name"] for h in s["hosts"] for v in h["vms"]}
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# harness_journal_count EVENT [VM]: how many journal records of that event (for that VM).
harness_journal_count() {
  python3 - "$JOURNAL" "$1" "${2:-}" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") == sys.argv[2] and (not sys.argv[3] or r.get("vm") == sys.argv[3]):
        n += 1
print(n)
PY
}

# harness_where VM HOST...: prints the hosts whose libvirt runs VM (by asking libvirt itself).
harness_where() {
  local vm=$1 h
  shift
  for h in "$@"; do
    if [[ $(lab_virsh "$h" domstate "$vm" 2>/dev/null) == running ]]; then echo "$h"; fi
  done
}

# harness_collector_config HOST LIBVIRT_HOST KEYFILE [plaintext]
harness_collector_config() {
  local host=$1 lv=$2 key=$3 mode=${4:-curve}
  cat <<YAML
host:
  name: $host
  libvirt_uri: "$(lab_uri "$lv")"
  migration_address: 127.0.0.1
interval: ${HARNESS_INTERVAL:-500ms}
metrics_listen: "127.0.0.1:$(cat "$LAB/metrics-port-$host" 2>/dev/null || echo 0)"
capacity:
  cpu_cores: ${HARNESS_CPU_CORES:-1}
  memory: 1GiB
balancer:
  endpoint: $BALANCER_ENDPOINT
YAML
  if [[ $mode == plaintext ]]; then
    echo "  plaintext: true"
  else
    echo "  key_file: $key"
    echo "  server_public_key_file: $LAB/keys/balancer.pub"
  fi
}

# harness_collector_setup HOST: a collector's metrics port (in LAB/metrics-port-HOST), its
# key allowed by the balancer, and its config (LAB/collector-HOST.yaml), without starting it.
harness_collector_setup() {
  local host=$1
  lab_free_port >"$LAB/metrics-port-$host"
  lab_keygen "$host"
  cp "$LAB/keys/$host.pub" "$LAB/allow/"
  harness_collector_config "$host" "$host" "$LAB/keys/$host.key" >"$LAB/collector-$host.yaml"
}

# harness_start_collector HOST: the setup above, then the collector.
harness_start_collector() {
  local host=$1
  harness_collector_setup "$host"
  "$BALLAST_BIN/ballast-collector" --config "$LAB/collector-$host.yaml" \
    >"$LAB/collector-$host.log" 2>&1 &
  lab_track "collector-$host" $!
}
