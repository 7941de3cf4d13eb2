#!/usr/bin/env bash
# npm run bench — ckptd's benchmarks, side by side with peers where they have the feature.
# Cases so far (foundation): API overhead (GET /_ping, GET /version, GET /containers/json) at 1 and
# 8 connections, ckptd vs dockerd 20.10 (Debian docker.io, own data root; skipped with
# BENCH_PEERS=0), and ckptd's RSS after the load. Prints a table of req/s and ratios.
#   BENCH_SECONDS=3 BENCH_PEERS=1 npm run bench
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-3}
PEERS=${BENCH_PEERS:-1}
W=$(mktemp -d /tmp/ckptd-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  umount -R "$W"/*/containerd/root 2>/dev/null || true
  rm -rf "$W" 2>/dev/null || true
}
trap cleanup EXIT
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

bash scripts/ensure-deps.sh
npm run --silent build

log "starting ckptd (managed containerd) in $W/ckptd"
node dist/src/main.js -H "unix://$W/ckptd.sock" --data-root "$W/ckptd" --log-level warn 2>"$W/ckptd.log" &
pids+=($!); CKPTD_PID=$!
for _ in $(seq 1 300); do curl -fsS --unix-socket "$W/ckptd.sock" http://x/_ping >/dev/null 2>&1 && break; sleep 0.1; done

DOCKERD_SOCK=""
if [ "$PEERS" = 1 ]; then
  if ! command -v dockerd >/dev/null; then
    log "installing docker.io (dockerd 20.10) for comparison"
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null 2>&1 || log "docker.io unavailable: peer rows skipped"
  fi
  if command -v dockerd >/dev/null; then
    mkdir -p "$W/dockerd"
    dockerd --data-root "$W/dockerd/root" --exec-root "$W/dockerd/exec" -H "unix://$W/dockerd.sock" \
      --pidfile "$W/dockerd/docker.pid" --iptables=false --bridge=none --log-level warn >"$W/dockerd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do curl -fsS --unix-socket "$W/dockerd.sock" http://x/_ping >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS --unix-socket "$W/dockerd.sock" http://x/_ping >/dev/null 2>&1 && DOCKERD_SOCK=$W/dockerd.sock
  fi
fi

rps() { node bench/apiload.mjs --socket "$1" --path "$2" --concurrency "$3" --seconds "$SECS" | node -e "process.stdin.on(\"data\", (d) => console.log(JSON.parse(d).rps))"; }
printf '\n%-22s %5s %12s %12s %8s\n' "case" "conns" "ckptd req/s" "dockerd" "ratio"
for path in /_ping /version /containers/json; do
  for c in 1 8; do
    a=$(rps "$W/ckptd.sock" "$path" "$c")
    b=-; r=-
    if [ -n "$DOCKERD_SOCK" ]; then b=$(rps "$DOCKERD_SOCK" "$path" "$c"); r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'); fi
    printf '%-22s %5s %12s %12s %8s\n' "GET $path" "$c" "$a" "$b" "$r"
  done
done
printf '\nckptd peak RSS (VmHWM): %s kB\n' "$(awk '/VmHWM/{print $2}' /proc/$CKPTD_PID/status)"
