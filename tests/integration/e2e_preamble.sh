# shellcheck shell=bash
# Sourced first by each end-to-end test: binaries, the lab, the harness.
set -euo pipefail
BALLAST_BIN=$(cd "$1" && pwd)
export BALLAST_BIN
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$E2E_DIR/../../deploy/lab/lab.sh"
source "$E2E_DIR/harness.sh"

# e2e_policy EXTRA_YAML: the tests' base policy (hotspot_policy.yaml) with extra lines
# appended (later keys of the same name are not allowed in YAML, so EXTRA only adds
# sections the base lacks) into $LAB/policy.yaml.
e2e_policy() {
  { cat "$E2E_DIR/hotspot_policy.yaml"; printf '%s\n' "${1:-}"; } >"$LAB/policy.yaml"
}

# e2e_journal PYTHON_EXPR_OVER_records [JOURNAL_FILE]: prints the expression's value (records =
# list of journal records, oldest first) over $JOURNAL or the file given.
e2e_journal() {
  python3 - "${2:-$JOURNAL}" "$1" <<'PY'
import json, sys
records = []
for line in open(sys.argv[1]):
    try:
        records.append(json.loads(line))
    except ValueError:
        pass
print(eval(sys.argv[2]))
PY
}
