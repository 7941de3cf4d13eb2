#!/usr/bin/env bash
# test.sh — the one test command (README "command 2", run by .ci/run): installs what it needs,
# then typecheck, lint, unit tests, integration tests against a real containerd/runc/CRIU.
#   bash scripts/test.sh [unit|integration|static]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
bash scripts/ensure-deps.sh
# .ci/run starts this through the system npm; tsc, eslint, tsx and node --test (and the
# daemons tests spawn via process.execPath) run under the pinned Node from here on.
. scripts/node-env.sh
echo "== node $(node --version)" >&2
npm run --silent gen

if [ "$what" = all ] || [ "$what" = static ]; then
  echo "== typecheck" >&2
  npx tsc -p tsconfig.json --noEmit
  echo "== lint" >&2
  npx eslint .
  npx prettier --check . >/dev/null
fi

run_tests() { # $1 = dir, rest = node --test flags
  local dir=$1; shift
  mapfile -t files < <(find "$dir" -name '*.test.ts' | sort)
  [ ${#files[@]} -gt 0 ] || return 0
  node --import tsx --test --test-reporter=spec "$@" "${files[@]}"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
  echo "== unit tests" >&2
  run_tests test/unit
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
  echo "== integration tests (real containerd, runc, CRIU)" >&2
  # each file starts its own containerd; two cores: run files one at a time
  run_tests test/integration --test-concurrency=1
fi
