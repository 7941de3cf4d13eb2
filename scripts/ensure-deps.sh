#!/usr/bin/env bash
# ensure-deps.sh — host setup plus node modules; shared by start.sh and test.sh. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPTD_SETUP_QUIET=${CKPTD_SETUP_QUIET:-1} bash scripts/setup-host.sh
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
