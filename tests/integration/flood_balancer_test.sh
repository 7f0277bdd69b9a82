#!/usr/bin/env bash
# One allowlisted key floods the REAL ballast-balancer (issue 14, item 3): the sender of
# tests/common/flood_test.cc (flood_test --flood) publishes maximum-size samples as "flood"
# as fast as CURVE over loopback carries them, and one small honest sample as "node-a" every
# 100 ms on a connection of its own. The flood key opens FLOOD_CONNECTIONS (6) connections; the
# balancer keeps kMaxConnectionsPerKey (2) of them and closes the others. Over 15 s its RSS
# (from /proc) must stay bounded (two receive queues: 2 x kReceiveQueueMessages x
# kMaxMessageBytes, ~200 MiB, plus the model), and node-a must still be heard: its accepted
# samples keep growing all along.
#   flood_balancer_test.sh BIN_DIR
source "$(dirname "$0")/dryrun_harness.sh" "$1" flood
LIMIT_MIB=${FLOOD_RSS_LIMIT_MIB:-400}
CONNECTIONS=${FLOOD_CONNECTIONS:-6}

# No recording (it would keep every flood sample) and no debug log: the daemon as deployed.
DRYRUN_RECORD_FILE="" DRYRUN_LOG_LEVEL=info start_dryrun_balancer
BALANCER=$BALANCER_PID
mkdir -p "$LAB/flood"
for k in flood node-a; do keygen "$k"; done
cp "$LAB/keys/flood.pub" "$LAB/keys/node-a.pub" "$LAB/allow/"
cp "$LAB/keys/balancer.pub" "$LAB/keys/flood.key" "$LAB/keys/node-a.key" "$LAB/flood/"
rss_mib() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$BALANCER/status"; }
accepted() {  # accepted HOST: the balancer's sample count for HOST (0 before its first)
  python3 - "$LAB/status.json" "$1" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except ValueError:
    print(0); sys.exit()
print(next((h["samples"] for h in s["hosts"] if h["name"] == sys.argv[2]), 0))
PY
}
before=$(rss_mib)

"$BIN/flood_test" --flood "$BALANCER_ENDPOINT" "$LAB/flood" "$CONNECTIONS" &
PIDS+=($!)
peak=$before
honest_marks=()
for i in $(seq 1 30); do
  sleep 0.5
  kill -0 "$BALANCER" 2>/dev/null || { echo "the balancer died under the flood" >&2; exit 1; }
  r=$(rss_mib)
  ((r > peak)) && peak=$r
  ((peak <= LIMIT_MIB)) || break
  ((i % 6 == 0)) && honest_marks+=("$(accepted node-a)")
done
# The sender repeats one encoded sample, so the model keeps one and counts the rest as
# duplicates: what the balancer took off the wire and decoded is its samples_accepted.
decoded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["samples_accepted"])' "$LAB/status.json")
honest_now=$(accepted node-a)
flood_samples=$((decoded - honest_now))
read -r closed refused < <(python3 -c 'import json,sys; c = json.load(open(sys.argv[1]))["connection_limit"]; print(c["closed"], c["refused"])' "$LAB/status.json")
echo "balancer RSS ${before} MiB before the flood, peak ${peak} MiB over 15 s (limit ${LIMIT_MIB})"
echo "flood connections: $CONNECTIONS; at the per-key limit the balancer closed $closed and refused $refused handshakes"
echo "maximum-size flood samples received and decoded: $flood_samples; node-a's count every 3 s: ${honest_marks[*]}"
((peak <= LIMIT_MIB)) || { echo "the flood grew the balancer past ${LIMIT_MIB} MiB" >&2; exit 1; }
((flood_samples > 20)) || { echo "only $flood_samples flood samples reached the balancer: the test flooded nothing" >&2; exit 1; }
if ((CONNECTIONS > 2)); then
  # Each connection past the limit is either closed at its first sample or refused at its handshake.
  ((closed + refused >= CONNECTIONS - 2)) || { echo "the flood key's extra connections were neither closed nor refused" >&2; exit 1; }
fi
((${#honest_marks[@]} == 5)) || { echo "missing honest marks" >&2; exit 1; }
prev=0
for m in "${honest_marks[@]}"; do
  # 30 honest samples are sent every 3 s; at least a third must get through each time.
  ((m >= prev + 10)) || { echo "node-a was drowned: ${honest_marks[*]}" >&2; exit 1; }
  prev=$m
done
echo "flood_balancer: ok"
