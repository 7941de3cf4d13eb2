#!/usr/bin/env bash
# ensure-deps.sh — host setup plus node modules; shared by start.sh and test.sh. Idempotent.
#   bash scripts/ensure-deps.sh [runtime]   runtime: what running ckptd needs (start.sh);
#                                           default: that plus the tests' peers (test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
setup=scripts/setup-host.sh
[ "${1:-}" = runtime ] && setup=scripts/setup-runtime.sh
CKPTD_SETUP_QUIET=${CKPTD_SETUP_QUIET:-1} bash "$setup"
# npm and everything after it run under the pinned Node (the caller sources node-env.sh too).
. scripts/node-env.sh
# npm ci only when the lockfile changed since the last install
stamp=node_modules/.ckptd-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  # a worktree borrowing another checkout's node_modules: npm ci would rewrite that checkout's
  # modules for this lockfile (and the next run there would rewrite them back)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] ||
    echo "[ensure-deps] node_modules is a symlink and was installed for another lockfile: not reinstalling" >&2
elif [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[ensure-deps] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
