#!/usr/bin/env bash
# npm run bench — ckptd's benchmarks, side by side with peers where they have the feature.
# Cases so far (foundation): API overhead (GET /_ping, GET /version, GET /containers/json) at 1 and
# 8 connections, ckptd vs dockerd 20.10 (Debian docker.io, own data root; skipped with
# BENCH_PEERS=0), and ckptd's RSS after the load. Prints a table of req/s and ratios.
#   BENCH_SECONDS=3 BENCH_PEERS=1 npm run bench
# Commit and export (issue 4): `docker commit` of a container holding N MiB of new random data
# (BENCH_SIZES, default "1 64 512 small"; small = 10,000 files of 4 KiB), ckptd vs dockerd vs a
# floor (`tar -c` of the same upperdir piped through cat), medians of BENCH_RUNS (default 3);
# then `docker export` throughput vs `tar -c | cat` of the same tree, and ckptd's peak RSS.
#   BENCH_SIZES="1 64" BENCH_RUNS=3 npm run bench     BENCH_API=0 skips the API cases.
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

API=${BENCH_API:-1}
rps() { node bench/apiload.mjs --socket "$1" --path "$2" --concurrency "$3" --seconds "$SECS" | node -e "process.stdin.on(\"data\", (d) => console.log(JSON.parse(d).rps))"; }
if [ "$API" = 1 ]; then
printf '\n%-22s %5s %12s %12s %8s\n' "case" "conns" "ckptd req/s" "dockerd" "ratio"
for path in /_ping /version /containers/json; do
  for c in 1 8; do
    a=$(rps "$W/ckptd.sock" "$path" "$c")
    b=-; r=-
    if [ -n "$DOCKERD_SOCK" ]; then b=$(rps "$DOCKERD_SOCK" "$path" "$c"); r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'); fi
    printf '%-22s %5s %12s %12s %8s\n' "GET $path" "$c" "$a" "$b" "$r"
  done
done
fi

# ---------------------------------------------------------------- commit and export (issue 4)
SIZES=${BENCH_SIZES:-"1 64 512 small"}
RUNS=${BENCH_RUNS:-3}
BIMG=ckptd-bench/busybox:latest
node --import tsx bench/mkimage.ts "$W/img.tar"
DK_CKPTD="docker -H unix://$W/ckptd.sock"
DK_PEER=""
[ -n "$DOCKERD_SOCK" ] && DK_PEER="docker -H unix://$DOCKERD_SOCK"
$DK_CKPTD load -i "$W/img.tar" >/dev/null
[ -n "$DK_PEER" ] && $DK_PEER load -i "$W/img.tar" >/dev/null
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timeit N CMD...: median wall seconds of N runs (PREP, if set, runs untimed before each)
timeit() {
  local n=$1; shift
  for _ in $(seq 1 "$n"); do
    [ -n "${PREP:-}" ] && eval "$PREP" >/dev/null 2>&1
    local t0; t0=$(now); eval "$*" >/dev/null; echo "$(now) - $t0" | bc -l
  done | median
}
gen_cmd() { if [ "$1" = small ]; then echo 'mkdir /data && cd /data && for i in $(seq 10000); do head -c 4096 /dev/urandom > f$i; done'; else echo "dd if=/dev/urandom of=/data bs=1M count=$1 2>/dev/null"; fi; }
# upper dir of a ckptd container (its snapshot's overlay upperdir, from the mount table)
ckptd_root() { awk -v id="$1" '$5 ~ id"/rootfs$" {print $5}' /proc/self/mountinfo | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

printf '\n%-16s %10s %10s %10s %12s %12s\n' "commit" "ckptd s" "dockerd s" "tar floor" "ckptd/dockerd" "ckptd/floor"
for sz in $SIZES; do
  $DK_CKPTD rm -f "bc$sz" >/dev/null 2>&1 || true
  $DK_CKPTD run -d --name "bc$sz" "$BIMG" sleep 100000 >/dev/null
  $DK_CKPTD exec "bc$sz" sh -c "$(gen_cmd "$sz")"
  a=$(PREP="$DK_CKPTD rmi -f bench/commit:$sz" timeit "$RUNS" "$DK_CKPTD commit "bc$sz" bench/commit:$sz")
  b=-
  if [ -n "$DK_PEER" ]; then
    $DK_PEER rm -f "bc$sz" >/dev/null 2>&1 || true
    $DK_PEER run -d --name "bc$sz" --network none "$BIMG" sleep 100000 >/dev/null
    $DK_PEER exec "bc$sz" sh -c "$(gen_cmd "$sz")"
    b=$(PREP="$DK_PEER rmi -f bench/commit:$sz" timeit "$RUNS" "$DK_PEER commit "bc$sz" bench/commit:$sz")
    $DK_PEER rm -f "bc$sz" >/dev/null; $DK_PEER rmi -f "bench/commit:$sz" >/dev/null 2>&1 || true
  fi
  id=$($DK_CKPTD inspect -f '{{.Id}}' "bc$sz")
  up=$(awk -v id="$id" '$5 ~ id"/rootfs$"' /proc/self/mountinfo | grep -o 'upperdir=[^,]*' | head -1 | cut -d= -f2)
  f=$(timeit "$RUNS" "tar -cf - -C '$up' . | cat > /dev/null")
  [ "$b" = - ] || b=$(printf '%.3f' "$b")
  printf '%-16s %10.3f %10s %10.3f %12s %12s\n' "+$sz$( [ "$sz" = small ] || echo ' MiB')" "$a" "$b" "$f" "$(ratio "$a" "$b")" "$(ratio "$a" "$f")"
  if [ "$sz" != small ] && [ "$sz" -ge 64 ]; then EXPORT_SZ=$sz; fi
  [ "$sz" = "${EXPORT_SZ:-}" ] || { $DK_CKPTD rm -f "bc$sz" >/dev/null; $DK_CKPTD rmi -f "bench/commit:$sz" >/dev/null 2>&1 || true; }
done

# export throughput on the biggest data set committed above (or a fresh 64 MiB one)
if [ -z "${EXPORT_SZ:-}" ]; then
  EXPORT_SZ=64
  $DK_CKPTD rm -f "bc$EXPORT_SZ" >/dev/null 2>&1 || true
  $DK_CKPTD run -d --name "bc$EXPORT_SZ" "$BIMG" sleep 100000 >/dev/null
  $DK_CKPTD exec "bc$EXPORT_SZ" sh -c "$(gen_cmd 64)"
fi
id=$($DK_CKPTD inspect -f '{{.Id}}' "bc$EXPORT_SZ")
root=$(ckptd_root "$id")
bytes=$($DK_CKPTD export "bc$EXPORT_SZ" | wc -c)
ea=$(timeit "$RUNS" "$DK_CKPTD export "bc$EXPORT_SZ" | cat > /dev/null")
ef=$(timeit "$RUNS" "tar -cf - -C '$root' . | cat > /dev/null")
eb=-
if [ -n "$DK_PEER" ]; then
  $DK_PEER rm -f "bc$EXPORT_SZ" >/dev/null 2>&1 || true
  $DK_PEER run -d --name "bc$EXPORT_SZ" --network none "$BIMG" sleep 100000 >/dev/null
  $DK_PEER exec "bc$EXPORT_SZ" sh -c "$(gen_cmd "$EXPORT_SZ")"
  eb=$(timeit "$RUNS" "$DK_PEER export "bc$EXPORT_SZ" | cat > /dev/null")
  $DK_PEER rm -f "bc$EXPORT_SZ" >/dev/null
fi
mbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { if (t == "-") print "-"; else printf "%.0f", b / t / 1e6 }'; }
printf '\n%-16s %10s %10s %10s %12s %12s\n' "export" "ckptd MB/s" "dockerd" "tar floor" "ckptd/dockerd" "ckptd/floor"
printf '%-16s %10s %10s %10s %12s %12s\n' "$((bytes >> 20)) MiB tar" "$(mbs "$ea")" "$(mbs "$eb")" "$(mbs "$ef")" \
  "$(ratio "$(mbs "$ea")" "$(mbs "$eb")")" "$(ratio "$(mbs "$ea")" "$(mbs "$ef")")"
$DK_CKPTD rm -f "bc$EXPORT_SZ" >/dev/null 2>&1 || true
printf '\nckptd peak RSS over the whole bench, export included (VmHWM): %s kB\n' "$(awk '/VmHWM/{print $2}' /proc/$CKPTD_PID/status)"
