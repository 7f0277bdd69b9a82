#!/usr/bin/env bash
# docs/ballastctl/*.md are generated from ballastctl's --help text: fail when they drift.
#   docs_up_to_date_test.sh BALLASTCTL DOCS_DIR
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
BALLAST_ENDPOINT= BALLAST_ADMIN_KEY= BALLAST_SERVER_KEY= "$1" docs "$tmp" >/dev/null
# The generator names its output dir in each page: compare with that line normalised.
sed -i "s|ballastctl docs $tmp|ballastctl docs docs/ballastctl|" "$tmp"/*.md
if ! diff -ru "$2" "$tmp"; then
  echo "docs/ballastctl is out of date: run  build/bin/ballastctl docs docs/ballastctl" >&2
  exit 1
fi
echo "docs/ballastctl matches ballastctl --help"
