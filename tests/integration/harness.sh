# shellcheck shell=bash
# Shared by the integration tests: start the real balancer and collectors of a lab (lab.sh)
# with CURVE keys, recording their pids for teardown.

# harness_start_balancer: keys, config and the balancer; sets BALANCER_ENDPOINT and STATUS.
harness_start_balancer() {
  lab_keygen balancer
  mkdir -p "$LAB/allow"
  local port
  port=$(lab_free_port)
  BALANCER_ENDPOINT="tcp://127.0.0.1:$port"
  STATUS="$LAB/status.json"
  cat >"$LAB/balancer.yaml" <<YAML
listen: $BALANCER_ENDPOINT
server_key_file: $LAB/keys/balancer.key
allowlist_dir: $LAB/allow
table_interval: 0s
status_file: $STATUS
status_interval: 250ms
${HARNESS_BALANCER_EXTRA:-}
YAML
  "$BALLAST_BIN/ballast-balancer" --config "$LAB/balancer.yaml" \
    >"$LAB/balancer.out" 2>"$LAB/balancer.log" &
  lab_track balancer $!
  lab_wait 10 "the balancer to listen" test -s "$STATUS" ||
    lab_die "balancer did not start: $(cat "$LAB/balancer.log")"
  export BALANCER_ENDPOINT STATUS
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
capacity:
  cpu_cores: 1
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

# harness_start_collector HOST: its key allowed by the balancer, then the collector.
harness_start_collector() {
  local host=$1
  lab_keygen "$host"
  cp "$LAB/keys/$host.pub" "$LAB/allow/"
  harness_collector_config "$host" "$host" "$LAB/keys/$host.key" >"$LAB/collector-$host.yaml"
  "$BALLAST_BIN/ballast-collector" --config "$LAB/collector-$host.yaml" \
    >"$LAB/collector-$host.log" 2>&1 &
  lab_track "collector-$host" $!
}
