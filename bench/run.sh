#!/usr/bin/env bash
# npm run bench — ckptd's benchmarks, side by side with peers where they have the feature.
# Cases so far (foundation): API overhead (GET /_ping, GET /version, GET /containers/json) at 1 and
# 8 connections, ckptd vs dockerd 20.10 (Debian docker.io, own data root; skipped with
# BENCH_PEERS=0), and ckptd's RSS after the load. Prints a table of req/s and ratios.
#   BENCH_SECONDS=3 BENCH_PEERS=1 npm run bench
# Commit and export (issue 4): `docker commit` of a container holding N MiB of new random data
# (BENCH_SIZES, default "1 64 512 small"; small = 10,000 files of 4 KiB), ckptd vs dockerd vs a
# floor (`tar -c` of the same upperdir piped through cat), medians of BENCH_RUNS (default 3).
# Export (case group `export`): `docker export` of BENCH_EXPORT_MIB (1024) MiB, CLI and curl, vs
# dockerd and `tar -c | cat` of the same tree, with ckptd's peak RSS while exporting.
#   BENCH_SIZES="1 64" BENCH_RUNS=3 npm run bench     BENCH_API=0 skips the API cases.
# Archives (issue 6): `docker save` of an image with a 512 MiB layer (BENCH_SAVE_MIB) vs dockerd vs
# `cat` of the image's blobs in containerd's content store; `docker cp` out of a 512 MiB directory
# (BENCH_CP_MIB, 8 files) with the docker CLI and with curl, vs dockerd vs `tar -cf - dir | cat`.
# Case groups `save` and `cp` (not in the default set; BENCH_SAVE_MIB/BENCH_CP_MIB sizes):
#   BENCH_CASES="save cp" npm run bench       (commas work too: BENCH_CASES=save,cp)
# Checkpoint/restore (issue 5): for a static /memhog holding M MiB (BENCH_CKPT_SIZES, default
# "16 256 1024"): checkpoint with exit, leave-running, restore in place, export (zstd) to a file,
# import+restore under a new name; ckptd vs the ctr floor on ckptd's own containerd (`ctr tasks
# checkpoint --exit --image-path`), dockerd 20.10 (--experimental) and podman 4.3 (own storage,
# installed from Debian if missing); medians of BENCH_RUNS; ckptd's VmHWM while streaming the
# biggest export. BENCH_CASES selects case groups (default "api commit export checkpoint"):
#   BENCH_CASES=checkpoint BENCH_CKPT_SIZES="16 256" BENCH_OUT=/tmp/ckbench npm run bench
# Migration (issue 13, case group `migration`, not in the default set): a process holding
# BENCH_MIG_MIB (256) MiB moved from one ckptd+containerd to a second one through a checkpoint
# image (checkpoint?image= | docker save | docker load | docker run), total time and downtime, vs
# podman 4.3's checkpoint --create-image / save / load / restore between two podman roots:
#   BENCH_CASES=migration BENCH_RUNS=3 npm run bench
# Registries (issue 13, case group `registry`, not in the default set): pull and push of an image
# with a 512 MiB layer (BENCH_REG_MIB) against docker-registry on loopback, ckptd vs dockerd:
#   BENCH_CASES=registry npm run bench
# API at N running containers (issue 14, case group `api-running`, not in the default set): GET
# /containers/json and /containers/{id}/json with BENCH_RUNNING (100) running containers on each:
#   BENCH_CASES=api-running npm run bench
# Sustained load (issue 16, case group `load`, not in the default set): BENCH_LOAD_CLIENTS (8)
# clients for BENCH_LOAD_SECONDS (60) s mixing create/start/exec/logs/stop/rm, commit, cp in and
# out, checkpoint and restore, export, list and inspect over HTTP (bench/load.ts); one summary
# line; fails on an unexpected error, a leak (leases, snapshots, mounts, fds, processes back to
# baseline) or RSS above 120% of the first ten seconds' peak:
#   BENCH_CASES=load npm run bench
# BENCH_OUT (optional) keeps the tables, ckptd's printStats answers and the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-3}
PEERS=${BENCH_PEERS:-1}
CASES=${BENCH_CASES:-"api commit export checkpoint"}
CASES=${CASES//,/ }
[ "${BENCH_API:-1}" = 0 ] && CASES=${CASES//api/}
case_on() { [[ " $CASES " == *" $1 "* ]]; }
W=$(mktemp -d /tmp/ckptd-bench.XXXXXX)
pids=()
cleanup_hooks=()
cleanup() {
  for h in "${cleanup_hooks[@]}"; do eval "$h" >/dev/null 2>&1 || true; done
  [ -n "${BENCH_OUT:-}" ] && { mkdir -p "$BENCH_OUT"; cp "$W"/*.log "$BENCH_OUT"/ 2>/dev/null || true; }
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  # containers the cases left behind: their shims (and the processes under them) are ours
  # when their -address lies under $W
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $W/" || true); do
    pkill -KILL -P "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  done
  umount -R "$W"/*/containerd/root 2>/dev/null || true
  # whatever else is still mounted below $W (a task rootfs a killed shim left), deepest first
  awk -v w="$W/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$W" 2>/dev/null || true
}
trap cleanup EXIT
log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

bash scripts/ensure-deps.sh
. scripts/node-env.sh # the pinned Node builds and runs ckptd and the bench clients
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
    # TMPDIR: dockerd's checkpoints go through temp dirs it leaves behind (ctrd-checkpoint*)
    mkdir -p "$W/dockerd/tmp"
    TMPDIR=$W/dockerd/tmp dockerd --experimental --data-root "$W/dockerd/root" --exec-root "$W/dockerd/exec" -H "unix://$W/dockerd.sock" \
      --pidfile "$W/dockerd/docker.pid" --iptables=false --bridge=none --log-level warn >"$W/dockerd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 300); do curl -fsS --unix-socket "$W/dockerd.sock" http://x/_ping >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS --unix-socket "$W/dockerd.sock" http://x/_ping >/dev/null 2>&1 && DOCKERD_SOCK=$W/dockerd.sock
  fi
fi

rps() { node bench/apiload.mjs --socket "$1" --path "$2" --concurrency "$3" --seconds "$SECS" | node -e "process.stdin.on(\"data\", (d) => console.log(JSON.parse(d).rps))"; }
if case_on api; then
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
# the test image; with /memhog (static, from the perf anchors) for the checkpoint cases
MEMHOG_SRC=${BENCH_MEMHOG_SRC:-/work/shared/bench-anchors/memhog.c}
if case_on checkpoint || case_on migration; then
  gcc -static -O2 -o "$W/memhog" "$MEMHOG_SRC"
  node --import tsx bench/mkimage.ts "$W/img.tar" "$W/memhog"
else
  node --import tsx bench/mkimage.ts "$W/img.tar"
fi
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
# filled_container DOCKER NAME MIB: a running container holding MIB MiB of new random data in 8
# files under /data (export and cp out)
filled_container() {
  local dk=$1 name=$2 mib=$3
  $dk rm -f "$name" >/dev/null 2>&1 || true
  $dk run -d --name "$name" --network none "$BIMG" sleep 100000 >/dev/null
  $dk exec "$name" sh -c "mkdir /data && for i in 1 2 3 4 5 6 7 8; do dd if=/dev/urandom of=/data/f\$i bs=1M count=$((mib / 8)) 2>/dev/null; done"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

if case_on commit; then
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
  $DK_CKPTD rm -f "bc$sz" >/dev/null; $DK_CKPTD rmi -f "bench/commit:$sz" >/dev/null 2>&1 || true
done

fi

# ---------------------------------------------------------------- export (issue 4)
# `docker export` of a container holding BENCH_EXPORT_MIB (default 1024) MiB of new random data in
# 8 files: the docker CLI piped to cat, curl, dockerd's CLI, and the floor `tar -c | cat` of the
# same merged tree; ckptd's peak RSS while exporting (VmHWM, reset with clear_refs=5 first).
if case_on export; then
EXPORT_MIB=${BENCH_EXPORT_MIB:-1024}
filled_container "$DK_CKPTD" bex "$EXPORT_MIB"
root=$(ckptd_root "$($DK_CKPTD inspect -f '{{.Id}}' bex)")
bytes=$($DK_CKPTD export bex | wc -c)
echo 5 > "/proc/$CKPTD_PID/clear_refs"
ea=$(timeit "$RUNS" "$DK_CKPTD export bex | cat > /dev/null")
ec=$(timeit "$RUNS" "curl -fsS --unix-socket $W/ckptd.sock http://x/v1.47/containers/bex/export -o /dev/null")
ex_rss=$(awk '/VmHWM/{print $2}' "/proc/$CKPTD_PID/status")
ef=$(timeit "$RUNS" "tar -cf - -C '$root' . | cat > /dev/null")
eb=-
if [ -n "$DK_PEER" ]; then
  filled_container "$DK_PEER" bex "$EXPORT_MIB"
  eb=$(timeit "$RUNS" "$DK_PEER export bex | cat > /dev/null")
  $DK_PEER rm -f bex >/dev/null
fi
mbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { if (t == "-") print "-"; else printf "%.0f", b / t / 1e6 }'; }
printf '\n%-16s %10s %10s %10s %10s %12s %12s %12s %10s\n' "export" "ckptd MB/s" "ckptd curl" "dockerd" "tar floor" \
  "ckptd/dockerd" "ckptd/floor" "curl/floor" "RSS kB"
printf '%-16s %10s %10s %10s %10s %12s %12s %12s %10s\n' "$((bytes >> 20)) MiB tar" "$(mbs "$ea")" "$(mbs "$ec")" "$(mbs "$eb")" \
  "$(mbs "$ef")" "$(ratio "$(mbs "$ea")" "$(mbs "$eb")")" "$(ratio "$(mbs "$ea")" "$(mbs "$ef")")" \
  "$(ratio "$(mbs "$ec")" "$(mbs "$ef")")" "$ex_rss"
$DK_CKPTD rm -f bex >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------- save and cp out (issue 6)
# mbps BYTES SECONDS -> MB/s ("-" when not measured)
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { if (t == "-" || t == "") print "-"; else printf "%.0f", b / t / 1e6 }'; }
CTR="ctr -a $W/ckptd/containerd/containerd.sock -n default"
BLOBS=$W/ckptd/containerd/root/io.containerd.content.v1.content/blobs/sha256
# rss_now: ckptd's current RSS (kB), to see what one case costs
rss_now() { awk '/VmRSS/{print $2}' /proc/$CKPTD_PID/status; }
if case_on save; then
  SAVE_MIB=${BENCH_SAVE_MIB:-512}
  SIMG=bench/save:$SAVE_MIB
  # An image with one SAVE_MIB layer of random data, committed on each engine (uncompressed layer).
  mk_save_image() { # DK
    $1 rm -f bsave >/dev/null 2>&1 || true
    $1 run -d --name bsave --network none "$BIMG" sleep 100000 >/dev/null
    $1 exec bsave sh -c "dd if=/dev/urandom of=/big bs=1M count=$SAVE_MIB 2>/dev/null"
    $1 commit bsave "$SIMG" >/dev/null
    $1 rm -f bsave >/dev/null
  }
  mk_save_image "$DK_CKPTD"
  sbytes=$($DK_CKPTD save "$SIMG" | wc -c)
  sa=$(timeit "$RUNS" "$DK_CKPTD save $SIMG | cat > /dev/null")
  sc=$(timeit "$RUNS" "curl -fsS --unix-socket $W/ckptd.sock http://x/v1.47/images/$SIMG/get -o /dev/null")
  # the floor: cat of every blob the save holds (manifest, config, layers) from the content store
  mdig=$($CTR images ls | awk -v n="docker.io/$SIMG" '$1 == n {print $3}')
  blobs=$($CTR content get "$mdig" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);console.log([m.config,...m.layers].map(x=>x.digest.slice(7)).join(" "))})')
  files="$BLOBS/${mdig#sha256:}"; for b in $blobs; do files="$files $BLOBS/$b"; done
  sf=$(timeit "$RUNS" "cat $files | cat > /dev/null")
  fbytes=$(cat $files | wc -c)
  sb=-
  if [ -n "$DK_PEER" ]; then
    mk_save_image "$DK_PEER"
    sb=$(timeit "$RUNS" "$DK_PEER save $SIMG | cat > /dev/null")
    $DK_PEER rmi -f "$SIMG" >/dev/null 2>&1 || true
  fi
  printf '\n%-22s %10s %10s %10s %10s %12s %12s %10s\n' "save" "ckptd MB/s" "ckptd curl" "dockerd" "cat floor" "ckptd/dockerd" "ckptd/floor" "RSS kB"
  printf '%-22s %10s %10s %10s %10s %12s %12s %10s\n' "$((sbytes >> 20)) MiB image" "$(mbps "$sbytes" "$sa")" "$(mbps "$sbytes" "$sc")" \
    "$(mbps "$sbytes" "$sb")" "$(mbps "$fbytes" "$sf")" "$(ratio "$(mbps "$sbytes" "$sa")" "$(mbps "$sbytes" "$sb")")" \
    "$(ratio "$(mbps "$sbytes" "$sa")" "$(mbps "$fbytes" "$sf")")" "$(rss_now)"
  $DK_CKPTD rmi -f "$SIMG" >/dev/null 2>&1 || true
fi
if case_on cp; then
  CP_MIB=${BENCH_CP_MIB:-512}
  filled_container "$DK_CKPTD" bcp "$CP_MIB"
  cbytes=$($DK_CKPTD cp bcp:/data - | wc -c)
  ca=$(timeit "$RUNS" "$DK_CKPTD cp bcp:/data - | cat > /dev/null")
  cc=$(timeit "$RUNS" "curl -fsS --unix-socket $W/ckptd.sock 'http://x/v1.47/containers/bcp/archive?path=/data' -o /dev/null")
  croot=$(ckptd_root "$($DK_CKPTD inspect -f '{{.Id}}' bcp)")
  cf=$(timeit "$RUNS" "tar -cf - -C '$croot' data | cat > /dev/null")
  cb=-
  if [ -n "$DK_PEER" ]; then
    filled_container "$DK_PEER" bcp "$CP_MIB"
    cb=$(timeit "$RUNS" "$DK_PEER cp bcp:/data - | cat > /dev/null")
    $DK_PEER rm -f bcp >/dev/null
  fi
  printf '\n%-22s %10s %10s %10s %10s %12s %12s %10s\n' "cp out" "ckptd MB/s" "ckptd curl" "dockerd" "tar floor" "ckptd/dockerd" "ckptd/floor" "RSS kB"
  printf '%-22s %10s %10s %10s %10s %12s %12s %10s\n' "$((cbytes >> 20)) MiB dir" "$(mbps "$cbytes" "$ca")" "$(mbps "$cbytes" "$cc")" \
    "$(mbps "$cbytes" "$cb")" "$(mbps "$cbytes" "$cf")" "$(ratio "$(mbps "$cbytes" "$ca")" "$(mbps "$cbytes" "$cb")")" \
    "$(ratio "$(mbps "$cbytes" "$ca")" "$(mbps "$cbytes" "$cf")")" "$(rss_now)"
  $DK_CKPTD rm -f bcp >/dev/null 2>&1 || true
fi
if case_on save || case_on cp; then
  printf '\nckptd peak RSS so far (VmHWM): %s kB\n' "$(awk '/VmHWM/{print $2}' /proc/$CKPTD_PID/status)"
fi

if case_on api-running; then . bench/api-running.sh; fi
if case_on load; then
  log "sustained load: ${BENCH_LOAD_CLIENTS:-8} clients for ${BENCH_LOAD_SECONDS:-60} s"
  node --import tsx bench/load.ts --socket "$W/ckptd.sock" --pid "$CKPTD_PID" --data-root "$W/ckptd" \
    --containerd "$W/ckptd/containerd/containerd.sock" --namespace default --image "$BIMG" \
    --clients "${BENCH_LOAD_CLIENTS:-8}" --seconds "${BENCH_LOAD_SECONDS:-60}" | tee "$W/load.log"
fi

if case_on registry; then . bench/registry.sh; fi
if case_on checkpoint; then . bench/checkpoint.sh; fi
if case_on migration; then . bench/migration.sh; fi
