#!/usr/bin/env bash
# update-seccomp-profile.sh — checks (or, with --write, refreshes) src/oci/seccomp/default.json
# against moby's profiles/seccomp/default.json in Debian's golang-github-docker-docker-dev.
#   bash scripts/update-seccomp-profile.sh [--write] [SUITE]   (SUITE default: trixie)
# After --write, set DEFAULT_PROFILE_SOURCE.version in src/oci/seccomp.ts to the printed version.
set -euo pipefail
cd "$(dirname "$0")/.."
write=0
[ "${1:-}" = --write ] && { write=1; shift; }
suite=${1:-trixie}
pkg=golang-github-docker-docker-dev
inpkg=usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
tmp=$(mktemp -d) && chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq -t "$suite" "$pkg" 2>/dev/null)
deb=$(ls "$tmp"/*.deb)
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$tmp/x"
if cmp -s "$tmp/x/$inpkg" src/oci/seccomp/default.json; then
  echo "src/oci/seccomp/default.json is $pkg $version's file"
elif [ $write = 1 ]; then
  cp "$tmp/x/$inpkg" src/oci/seccomp/default.json
  echo "src/oci/seccomp/default.json updated from $pkg $version"
else
  echo "src/oci/seccomp/default.json differs from $pkg $version's file (run with --write to take it)" >&2
  exit 1
fi
