#!/usr/bin/env bash
# High availability end-to-end (c), etcd outage: b1 leads, b2 stands by, a real Prometheus
# scrapes both with the shipped alert rules. etcd is stopped: both report ballast_leader 0
# and ballast_etcd_reachable 0, the BallastNoLeader alert's series appears, ballastctl status
# says etcd is unreachable, and while a hotspot appears nobody starts a move (both keep
# ingesting and planning). etcd comes back (same data, same port): exactly one leader again,
# and it relieves the hotspot.
#   ha_etcd_outage_test.sh BIN_DIR
source "$(dirname "$0")/e2e_preamble.sh"
source "$E2E_DIR/ha_harness.sh"
command -v prometheus >/dev/null || lab_die "prometheus not installed: run deploy/install-deps.sh"

lab_init "${TMPDIR:-/tmp}/ballast-it-ha-etcd-$$"
for h in a b c; do lab_start_host "$h" "$(( $(printf '%d' "'$h") - 96 ))"; done
lab_boot_guest a web load60 64
e2e_policy
ha_start_etcd
ha_start_balancer b1
lab_wait 15 "b1 to lead" ha_status b1 's["ha"]["leading"]'
ha_start_balancer b2
lab_wait 15 "b2 to be a standby of b1" ha_status b2 's["ha"]["leader"] == "b1"'
for h in a b c; do ha_start_collector "$h"; done

PROM_PORT=$(lab_free_port)
cat >"$LAB/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$E2E_DIR/../../deploy/prometheus/ballast-alerts.yml"]
scrape_configs:
  - job_name: ballast-balancer
    static_configs:
      - targets: ["127.0.0.1:$(cat "$LAB/b1/metrics-port")", "127.0.0.1:$(cat "$LAB/b2/metrics-port")"]
        labels: {cluster: e2e}
YAML
prometheus --config.file="$LAB/prometheus.yml" --storage.tsdb.path="$LAB/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$LAB/prometheus.log" 2>&1 &
lab_track prometheus $!
alerts() {  # alerts NAME -> number of ALERTS series (pending or firing) for cluster e2e
  python3 - "http://127.0.0.1:$PROM_PORT" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
q = 'ALERTS{alertname="%s",cluster="e2e"}' % sys.argv[2]
try:
    r = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": q}), timeout=5))
    print(len(r["data"]["result"]))
except Exception:
    print(-1)
PY
}
lab_wait 30 "Prometheus to scrape both balancers" ha_metric b2 ballast_leader
sleep 3
[[ $(alerts BallastNoLeader) -eq 0 ]] || lab_die "BallastNoLeader while b1 leads"

ha_stop_etcd
lab_log "etcd stopped"
nobody_leads() {
  for b in b1 b2; do
    ha_status "$b" 'not s["ha"]["leading"] and not s["ha"]["etcd_reachable"]' || return 1
    [[ $(ha_metric "$b" ballast_leader) == 0 && $(ha_metric "$b" ballast_etcd_reachable) == 0 ]] || return 1
  done
}
lab_wait 15 "both balancers to say etcd is unreachable and nobody leads" nobody_leads
no_leader_alert() { [[ $(alerts BallastNoLeader) -ge 1 ]]; }
lab_wait 20 "the BallastNoLeader alert's series" no_leader_alert
CTL=(env BALLAST_ENDPOINT="$(cat "$LAB/b1/control")" BALLAST_ADMIN_KEY="$LAB/keys/admin.key"
  BALLAST_SERVER_KEY="$LAB/keys/balancer.pub" "$BALLAST_BIN/ballastctl")
"${CTL[@]}" status | grep "etcd UNREACHABLE" >/dev/null || lab_die "ballastctl status does not say etcd is unreachable"

# A hotspot while etcd is away: both plan the move (warm), neither starts it.
lab_boot_guest a batch load60 64
planned() { ha_status b1 'any(m["from"] == "a" for m in s["last_plan"]["moves"])' &&
  ha_status b2 'any(m["from"] == "a" for m in s["last_plan"]["moves"])'; }
lab_wait 40 "both balancers to plan a move off a" planned
sleep 8
for b in b1 b2; do
  [[ $(ha_journal "$b" 'sum(r["event"] == "migration_started" for r in records)') -eq 0 ]] ||
    lab_die "$b started a migration without etcd"
done
[[ $(harness_where web a b c) == a && $(harness_where batch a b c) == a ]] || lab_die "a VM moved"

# etcd back: one leader, and it relieves a.
ha_start_etcd
lab_log "etcd back"
one_leader() {
  python3 - "$LAB/b1/status.json" "$LAB/b2/status.json" <<'PY'
import json, sys
s = [json.load(open(f))["ha"] for f in sys.argv[1:]]
leaders = [x["name"] for x in s if x["leading"]]
sys.exit(0 if len(leaders) == 1 and all(x["leader"] == leaders[0] for x in s) else 1)
PY
}
lab_wait 30 "exactly one leader again" one_leader
leader=$(python3 -c 'import json,sys; print([json.load(open(f))["ha"]["name"] for f in sys.argv[1:] if json.load(open(f))["ha"]["leading"]][0])' "$LAB/b1/status.json" "$LAB/b2/status.json")
lab_log "$leader leads again"
moved() { [[ $(ha_journal "$leader" 'sum(r["event"] == "migration_finished" for r in records)') -ge 1 ]]; }
lab_wait 60 "$leader to relieve a" moved
sleep 3
one_leader || lab_die "not exactly one leader after the move"
total=0
for b in b1 b2; do total=$((total + $(ha_journal "$b" 'sum(r["event"] == "migration_started" for r in records)'))); done
[[ $total -eq 1 ]] || lab_die "$total migrations started, expected 1"
echo "PASS ha_etcd_outage_test (no move without etcd; $leader leads again and relieved a)"
