# shellcheck shell=bash
# High availability end-to-end tests (issue 17): one real etcd and two real balancers on
# loopback, each with its own ports, journal and status file, sharing one CURVE key pair, and
# collectors that publish to both. Sourced after e2e_preamble.sh (lab.sh, harness.sh).
# Every process is tracked by pid (lab_track), so lab teardown stops it, also on failure.

# ha_start_etcd: etcd on free loopback ports with its data under $LAB; sets ETCD_ENDPOINT.
ha_start_etcd() {
  command -v etcd >/dev/null || lab_die "etcd not installed: run deploy/install-deps.sh"
  ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-$(lab_free_port)}
  ETCD_PEER_PORT=${ETCD_PEER_PORT:-$(lab_free_port)}
  ETCD_ENDPOINT="http://127.0.0.1:$ETCD_CLIENT_PORT"
  local peer="http://127.0.0.1:$ETCD_PEER_PORT"
  etcd --name ha-test --data-dir "$LAB/etcd-data" \
    --listen-client-urls "$ETCD_ENDPOINT" --advertise-client-urls "$ETCD_ENDPOINT" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "ha-test=$peer" >>"$LAB/etcd.log" 2>&1 &
  lab_track etcd $!
  lab_wait 20 "etcd to answer" curl -sf -X POST -d '{"key":"Lw=="}' \
    "$ETCD_ENDPOINT/v3/kv/range" -o /dev/null || lab_die "etcd did not start"
  export ETCD_ENDPOINT
}

ha_stop_etcd() {
  kill -KILL "$(cat "$LAB/pids/etcd")" 2>/dev/null || true
  wait "$(cat "$LAB/pids/etcd")" 2>/dev/null || true
}

# ha_start_balancer NAME [EXTRA_HA_YAML]: balancer NAME (dir $LAB/NAME) in the HA pair.
# HA_LEASE_TTL (default 4s) and HA_RENEW (1s) set the election's clock.
ha_start_balancer() {
  local name=$1 extra=${2:-}
  local dir="$LAB/$name"
  mkdir -p "$dir" "$LAB/allow" "$LAB/admins"
  [[ -f $LAB/keys/balancer.key ]] || lab_keygen balancer
  [[ -f $LAB/keys/admin.key ]] || { lab_keygen admin && cp "$LAB/keys/admin.pub" "$LAB/admins/"; }
  local port metrics control
  port=$(lab_free_port)
  metrics=$(lab_free_port)
  control=$(lab_free_port)
  echo "tcp://127.0.0.1:$port" >"$dir/endpoint"
  echo "$metrics" >"$dir/metrics-port"
  echo "tcp://127.0.0.1:$control" >"$dir/control"
  {
    harness_balancer_yaml "tcp://127.0.0.1:$port" "$dir/status.json" "$LAB/policy.yaml" \
      "$dir/journal.jsonl" "$metrics" "$control"
    harness_inventory
    cat <<YAML
ha:
  etcd_endpoints: [$ETCD_ENDPOINT]
  cluster: e2e
  name: $name
  lease_ttl: ${HA_LEASE_TTL:-4s}
  renew_interval: ${HA_RENEW:-1s}
  etcd_timeout: 1s
$extra
YAML
  } >"$dir/balancer.yaml"
  "$BALLAST_BIN/ballast-balancer" --config "$dir/balancer.yaml" \
    >"$dir/balancer.out" 2>"$LAB/balancer-$name.log" &
  lab_track "balancer-$name" $!
  lab_wait 10 "balancer $name to start" test -s "$dir/status.json" ||
    lab_die "balancer $name did not start: $(cat "$LAB/balancer-$name.log")"
}

ha_pid() { cat "$LAB/pids/balancer-$1"; }

# ha_status NAME PYTHON_EXPR: like harness_status, over balancer NAME's status file.
ha_status() { STATUS="$LAB/$1/status.json" harness_status "$2"; }

# ha_journal NAME PYTHON_EXPR_OVER_records: e2e_journal over balancer NAME's journal.
ha_journal() { e2e_journal "$2" "$LAB/$1/journal.jsonl"; }

# ha_start_collector HOST: publishes to every balancer started so far.
ha_start_collector() {
  local host=$1 b first="" more=()
  lab_free_port >"$LAB/metrics-port-$host"
  lab_keygen "$host"
  cp "$LAB/keys/$host.pub" "$LAB/allow/"
  for b in "$LAB"/*/endpoint; do
    if [[ -z $first ]]; then first=$(cat "$b"); else more+=("$(cat "$b")"); fi
  done
  {
    BALANCER_ENDPOINT=$first harness_collector_config "$host" "$host" "$LAB/keys/$host.key"
    if ((${#more[@]})); then
      printf '  more_endpoints: [%s]\n' "$(IFS=,; echo "${more[*]}")"
    fi
  } >"$LAB/collector-$host.yaml"
  "$BALLAST_BIN/ballast-collector" --config "$LAB/collector-$host.yaml" \
    >"$LAB/collector-$host.log" 2>&1 &
  lab_track "collector-$host" $!
}

# ha_metric NAME METRIC: the value of an unlabelled metric on balancer NAME's /metrics.
ha_metric() {
  curl -sf "http://127.0.0.1:$(cat "$LAB/$1/metrics-port")/metrics" |
    awk -v m="$2" '$1 == m {print $2}'
}
