#!/usr/bin/env bash
# Builds Ballast's Debian packages and lints them:
#   deploy/build-debs.sh OUT_DIR
# OUT_DIR gets ballast-{common,collector,balancer,tools}_VERSION_ARCH.deb (plus the -dbgsym
# .ddebs, .buildinfo and .changes). The build runs in a temporary copy of the tree (dh writes
# obj-*/ and debian/.debhelper, ...), so the tree itself is left as it was. Fails when lintian
# reports an error or a warning. Build dependencies: deploy/install-deps.sh.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$(realpath -m "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"

work=$(mktemp -d "${TMPDIR:-/tmp}/ballast-debs.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree="$work/ballast"
mkdir "$tree"

# The files git tracks plus new ones it does not ignore (a developer's work in progress),
# never build directories; a tree without git is copied minus its build*/ directories.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$src" && while IFS= read -r -d '' f; do [[ -f $f || -L $f ]] && printf '%s\0' "$f"; done) |
    tar -C "$src" --null -T - -cf - | tar -C "$tree" -xf -
else
  tar -C "$src" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$tree" -xf -
fi

# The package version is the project's: refuse to build a mismatch.
project_version=$(sed -n 's/^project(ballast VERSION \([0-9.]*\).*/\1/p' "$tree/CMakeLists.txt")
deb_version=$(cd "$tree" && dpkg-parsechangelog -S Version)
if [[ ${deb_version%%[-+~]*} != "$project_version" ]]; then
  echo "build-debs: debian/changelog says $deb_version, CMakeLists.txt $project_version" >&2
  exit 1
fi

cd "$tree"
dpkg-checkbuilddeps
# Binary packages only (-b): they are built from a checkout for the cluster's own hosts, not
# uploaded to an archive, so a source package would only be a second copy of the tree.
DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  echo "build-debs: dpkg-buildpackage failed (last 60 lines above)" >&2
  exit 1
}

changes=$(ls "$work"/ballast_*.changes)
cp "$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$changes" "$out"/ 2>/dev/null || true
cp "$work"/*.deb "$out"/

echo "build-debs: lintian $(lintian --version | awk '{print $2}')"
lintian --fail-on error,warning --display-info "$changes"
echo "build-debs: lintian clean (no error, no warning)"
ls -l "$out"/*.deb
