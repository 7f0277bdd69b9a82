#!/usr/bin/env bash
# Metrics end to end: a real Prometheus 2.42 (Debian's, started here on 127.0.0.1) scrapes the
# real balancer and collectors while the balancer relieves a hotspot with a live migration.
# Then: `promtool check metrics` passes on both daemons' /metrics; every panel expression of
# every Grafana dashboard (template variables substituted) returns at least one series; the
# migration shows up in Prometheus.
#   metrics_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
ROOT=$(cd "$E2E_DIR/../.." && pwd)
command -v prometheus >/dev/null || lab_die "prometheus not installed: run deploy/install-deps.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-metrics-$$"
for h in a b; do lab_start_host "$h" "$(( $(printf '%d' "'$h") - 96 ))"; done
lab_boot_guest a web load60 64
lab_boot_guest a batch load60 64
lab_boot_guest a net idle 64 nic  # a NIC with real counters, for the network panels
e2e_policy
harness_start_balancer
for h in a b; do harness_start_collector "$h"; done

# Prometheus scraping every second, with the cluster label the dashboards filter on.
PROM_PORT=$(lab_free_port)
cat >"$LAB/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: ballast-balancer
    static_configs:
      - targets: ["127.0.0.1:$BALANCER_METRICS_PORT"]
        labels: {cluster: lab}
  - job_name: ballast-collector
    static_configs:
      - targets: ["127.0.0.1:$(cat "$LAB/metrics-port-a")", "127.0.0.1:$(cat "$LAB/metrics-port-b")"]
        labels: {cluster: lab}
YAML
promtool check config "$LAB/prometheus.yml" >/dev/null
prometheus --config.file="$LAB/prometheus.yml" --storage.tsdb.path="$LAB/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$LAB/prometheus.log" 2>&1 &
lab_track prometheus $!
PROM="http://127.0.0.1:$PROM_PORT"

fetch() { python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
query() {  # query EXPR -> number of series
  python3 - "$PROM" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
r = json.load(urllib.request.urlopen(url, timeout=5))
print(len(r["data"]["result"]) if r["status"] == "success" else -1)
PY
}
lab_wait 20 "Prometheus to be ready" fetch "$PROM/-/ready"

finished() { [[ $(harness_journal_count migration_finished) -ge 1 ]]; }
lab_wait 90 "a migration to finish" finished
scraped() { [[ $(query 'ballast_migrations_finished_total{outcome="succeeded",cluster="lab"}') -ge 1 ]]; }
lab_wait 30 "Prometheus to see the migration" scraped
# rate()/increase() need a few scrapes after the event.
sleep 6

echo "--- promtool check metrics"
for port in "$BALANCER_METRICS_PORT" "$(cat "$LAB/metrics-port-a")" "$(cat "$LAB/metrics-port-b")"; do
  fetch "http://127.0.0.1:$port/metrics" >"$LAB/metrics-$port.txt"
  promtool check metrics <"$LAB/metrics-$port.txt" || { echo "promtool check metrics failed on :$port"; exit 1; }
done
grep -q '^ballast_host_utilization_ratio{host="a",resource="cpu"}' "$LAB/metrics-$BALANCER_METRICS_PORT.txt"
grep -q '^ballast_collector_messages_published_total' "$LAB/metrics-$(cat "$LAB/metrics-port-a").txt"

echo "--- what Prometheus saw"
[[ $(query 'ballast_migration_duration_seconds_count{outcome="succeeded",cluster="lab"} > 0') -eq 1 ]]
[[ $(query 'ballast_vm_cpu_cores{cluster="lab"}') -eq 3 ]]
[[ $(query 'ballast_vm_network_bytes_per_second{cluster="lab",vm="net"}') -eq 1 ]]
[[ $(query 'up{cluster="lab"} == 1') -eq 3 ]]

echo "--- every dashboard panel returns data"
python3 "$ROOT/tests/prometheus/check_dashboards.py" "$PROM" --cluster lab --host a
echo "PASS metrics_test"
