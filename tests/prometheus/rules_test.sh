#!/usr/bin/env bash
# Checks the Prometheus and Grafana artefacts without a server (ctest: prometheus.rules):
#   - the example scrape configuration parses (and the rule file it names),
#   - the alert rules parse and pass their promtool unit tests (firing and quiet cases),
#   - every dashboard query parses as PromQL and filters by cluster (check_dashboards.py
#     --offline; the same script checks the queries against a live Prometheus).
# Needs promtool (Debian package prometheus, installed by deploy/install-deps.sh) and
# python3. PROMTOOL=/path/to/promtool overrides the one on PATH. Runs every step and fails
# if any failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [[ -z $promtool ]]; then
  echo "rules_test: promtool not found: install the Debian package prometheus" \
    "(deploy/install-deps.sh)" >&2
  exit 1
fi

failed=()
step() {
  echo "+ $*"
  if ! "$@"; then
    failed+=("$*")
  fi
}

cd "$root" || exit 1
step "$promtool" check config deploy/prometheus/prometheus.yml
step "$promtool" check rules deploy/prometheus/ballast-alerts.yml
step "$promtool" test rules deploy/prometheus/ballast-alerts.test.yml
step python3 tests/prometheus/check_dashboards.py --offline --promtool "$promtool"

if ((${#failed[@]})); then
  printf 'rules_test: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "rules_test: all checks passed"
