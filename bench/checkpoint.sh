# bench/checkpoint.sh — checkpoint/restore cases of `npm run bench` (issue 5), sourced by
# bench/run.sh (uses its W, DK_CKPTD, DK_PEER, CKPTD_PID, RUNS, BIMG, PEERS, timeit, median, ratio,
# log). A static /memhog holding M MiB; every engine waits until its RSS reaches M MiB before a
# timed step; every timed step is preceded by `sync`. Whole-command wall time, medians of RUNS.
#   ckptd  : curl on ckptd's own routes (printStats answers kept in $CK_OUT)
#   ctr    : `ctr tasks checkpoint [--exit] --image-path --work-path` on ckptd's managed containerd,
#            own namespace — the floor (ctr 1.6 has no CLI to restore from an image path)
#   dockerd: docker checkpoint create [--leave-running] / docker start --checkpoint (experimental)
#   podman : podman container checkpoint [--leave-running] [--export] / restore [--import --name]
# BENCH_CKPT_ENGINES (default "ckptd ctr dockerd podman") limits the rows measured.
CK_SIZES=${BENCH_CKPT_SIZES:-"16 256 1024"}
CK_ENGINES=" ${BENCH_CKPT_ENGINES:-ckptd ctr dockerd podman} "   # which rows to measure
eng() { [[ "$CK_ENGINES" == *" $1 "* ]]; }
CK_OUT=${BENCH_OUT:-$W/out}
mkdir -p "$CK_OUT"
CK_SOCK=$W/ckptd.sock
CTR_NS=ckbench
CTRC="ctr -a $W/ckptd/containerd/containerd.sock -n $CTR_NS"
CTR_IMG=docker.io/ckptd-bench/busybox:latest
RES_TSV=$CK_OUT/checkpoint.tsv
: > "$RES_TSV"

ck_api() { # METHOD PATH [curl args...]: ckptd's API, fails on HTTP errors
  local m=$1 p=$2; shift 2
  curl -fsS --unix-socket "$CK_SOCK" -X "$m" -H 'Expect:' "http://x/v1.47$p" "$@"
}
wait_rss() { # PID MiB: until the process has >= MiB resident (memhog done touching its memory)
  local pid=$1 mb=$2 kb
  for _ in $(seq 1 900); do
    kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${kb:-0}" -ge $((mb * 1024)) ] && return 0
    sleep 0.1
  done
  log "wait_rss: pid $pid never reached $mb MiB"; return 1
}
# record ENGINE OP SIZE SECONDS
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RES_TSV"; log "$2 $3 MiB $1: ${4}s"; }
t1() { local t0; t0=$(now); eval "$*" >/dev/null; echo "$(now) - $t0" | bc -l; } # one timed run

# ---- ckptd (docker CLI for the container lifecycle, curl for the checkpoint routes)
ck_up() { $DK_CKPTD rm -f "$1" >/dev/null 2>&1 || true; $DK_CKPTD run -d --name "$1" "$BIMG" /memhog "$2" >/dev/null
  wait_rss "$($DK_CKPTD inspect -f '{{.State.Pid}}' "$1")" "$2"; }
# ---- ctr on ckptd's containerd
ctr_rm() { $CTRC t kill -s KILL "$1" >/dev/null 2>&1 || true
  for _ in $(seq 50); do $CTRC t ls -q | grep -qx "$1" || break; $CTRC t rm -f "$1" >/dev/null 2>&1 || sleep 0.1; done
  $CTRC c rm "$1" >/dev/null 2>&1 || true; }
ctr_up() { ctr_rm "$1"; $CTRC run -d --null-io "$CTR_IMG" "$1" /memhog "$2" >/dev/null
  wait_rss "$($CTRC t ls | awk -v c="$1" '$1==c{print $2}')" "$2"; }
# ---- dockerd
dk_up() { $DK_PEER rm -f "$1" >/dev/null 2>&1 || true
  $DK_PEER run -d --name "$1" --network none --log-driver none "$BIMG" /memhog "$2" >/dev/null
  wait_rss "$($DK_PEER inspect -f '{{.State.Pid}}' "$1")" "$2"; }

# ---- podman 4.3 (Debian), own root/runroot/tmpdir/config as the perf anchors' env.sh
PODMAN=""
if [ "$PEERS" = 1 ]; then
  if ! command -v podman >/dev/null; then
    log "installing podman (4.3, Debian 12) for comparison"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null 2>&1 || log "podman unavailable: its rows are skipped"
  fi
  if command -v podman >/dev/null; then
    PM=$W/podman
    mkdir -p "$PM"/{root,runroot,tmp,net}
    export CONTAINERS_CONF=$PM/containers.conf CONTAINERS_STORAGE_CONF=$PM/storage.conf CONTAINERS_REGISTRIES_CONF=$PM/registries.conf
    cat > "$CONTAINERS_CONF" <<EOT
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PM/events.log"
runtime = "runc"
tmp_dir = "$PM/tmp"
image_copy_tmp_dir = "$PM/tmp"
static_dir = "$PM/root/libpod"
volume_path = "$PM/root/volumes"
[network]
network_config_dir = "$PM/net"
EOT
    printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$PM/runroot" "$PM/root" > "$CONTAINERS_STORAGE_CONF"
    echo 'unqualified-search-registries = []' > "$CONTAINERS_REGISTRIES_CONF"
    PODMAN="podman --root $PM/root --runroot $PM/runroot --tmpdir $PM/tmp --cgroup-manager cgroupfs --events-backend file"
    cleanup_hooks+=("$PODMAN rm -a -f -t 0" "umount -R $PM/root/overlay")
    if ! $PODMAN load -i "$W/img.tar" >/dev/null 2>"$W/podman-load.log"; then log "podman load failed: podman rows skipped"; PODMAN=""; fi
  fi
fi
pm_up() { $PODMAN rm -f -t 0 "$1" >/dev/null 2>&1 || true; $PODMAN run -d --name "$1" "$BIMG" /memhog "$2" >/dev/null
  wait_rss "$($PODMAN inspect -f '{{.State.Pid}}' "$1")" "$2"; }

# ctr: the image in its own namespace of ckptd's containerd
$CTRC images import "$W/img.tar" >/dev/null
cleanup_hooks=("for c in \$($CTRC c ls -q); do $CTRC t kill -s KILL \$c; sleep 0.3; $CTRC t rm -f \$c; $CTRC c rm \$c; done" "${cleanup_hooks[@]}")

CK_MAX=$(for m in $CK_SIZES; do echo "$m"; done | sort -n | tail -1)
RSS_EXPORT=-
for m in $CK_SIZES; do
  log "checkpoint cases, memhog $m MiB"
  # ------------------------------------------------------------ ckptd
  if eng ckptd; then
  c=ck$m
  ck_up "$c" "$m"
  r=$(PREP="sync; ck_api DELETE /containers/$c/checkpoints/lr || true" timeit "$RUNS" \
    "ck_api POST '/containers/$c/checkpoint?name=lr&leaveRunning=1&printStats=1' > $CK_OUT/ckptd-leave-$m.json")
  record ckptd ckpt-leave "$m" "$r"
  ck_api DELETE "/containers/$c/checkpoints/lr" >/dev/null 2>&1 || true
  [ "$m" = "$CK_MAX" ] && echo 5 > "/proc/$CKPTD_PID/clear_refs"
  r=$(PREP="sync" timeit "$RUNS" "ck_api POST '/containers/$c/checkpoint?export=1&leaveRunning=1' > $W/ck-$m.tar.zst")
  record ckptd export "$m" "$r"
  [ "$m" = "$CK_MAX" ] && RSS_EXPORT=$(awk '/VmHWM/{print $2}' "/proc/$CKPTD_PID/status")
  printf 'ckptd\t%s\t%s\n' "$m" "$(stat -c %s "$W/ck-$m.tar.zst")" >> "$CK_OUT/export-sizes.tsv"
  # exit and in-place restore alternate on one container
  ex=(); rs=()
  for i in $(seq 1 "$RUNS"); do
    ck_api DELETE "/containers/$c/checkpoints/ex" >/dev/null 2>&1 || true
    [ "$($DK_CKPTD inspect -f '{{.State.Running}}' "$c")" = true ] || ck_up "$c" "$m"
    wait_rss "$($DK_CKPTD inspect -f '{{.State.Pid}}' "$c")" "$m"; sync
    ex+=("$(t1 "ck_api POST '/containers/$c/checkpoint?name=ex&printStats=1' > $CK_OUT/ckptd-exit-$m-$i.json")")
    sync
    rs+=("$(t1 "ck_api POST '/containers/$c/restore?checkpoint=ex&printStats=1' > $CK_OUT/ckptd-restore-$m-$i.json")")
  done
  record ckptd ckpt-exit "$m" "$(printf '%s\n' "${ex[@]}" | median)"
  record ckptd restore "$m" "$(printf '%s\n' "${rs[@]}" | median)"
  r=$(PREP="sync; $DK_CKPTD rm -f ci$m || true" timeit "$RUNS" \
    "ck_api POST '/containers/x/restore?import=1&name=ci$m&printStats=1' -H 'Content-Type: application/octet-stream' -T $W/ck-$m.tar.zst > $CK_OUT/ckptd-import-$m.json")
  record ckptd import-restore "$m" "$r"
  pid=$($DK_CKPTD inspect -f '{{.State.Pid}}' "ci$m" || echo 0); kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ "${kb:-0}" -ge $((m * 1024)) ] || log "WARNING: imported ci$m holds only $kb kB (cold start?)"
  $DK_CKPTD rm -f "ci$m" "$c" >/dev/null
  fi

  # ------------------------------------------------------------ ctr floor (ckptd's containerd)
  if eng ctr; then
  c=ctr$m
  ctr_up "$c" "$m"
  r=$(PREP="sync; rm -rf $W/ctr-lr $W/ctr-lrw" timeit "$RUNS" \
    "$CTRC tasks checkpoint --image-path $W/ctr-lr --work-path $W/ctr-lrw $c")
  record ctr ckpt-leave "$m" "$r"
  r=$(PREP="rm -rf $W/ctr-ex $W/ctr-exw; ctr_up $c $m; sync" timeit "$RUNS" \
    "$CTRC tasks checkpoint --exit --image-path $W/ctr-ex --work-path $W/ctr-exw $c")
  record ctr ckpt-exit "$m" "$r"
  printf 'ctr-dir\t%s\t%s\n' "$m" "$(du -sb "$W/ctr-ex" | cut -f1)" >> "$CK_OUT/export-sizes.tsv"
  ctr_rm "$c"; rm -rf "$W"/ctr-*
  fi

  # ------------------------------------------------------------ dockerd 20.10 (experimental)
  if [ -n "$DK_PEER" ] && eng dockerd; then
    c=dk$m
    dk_up "$c" "$m"
    r=$(PREP="sync; $DK_PEER checkpoint rm $c lr || true" timeit "$RUNS" "$DK_PEER checkpoint create --leave-running $c lr")
    record dockerd ckpt-leave "$m" "$r"
    ex=(); rs=()
    for i in $(seq 1 "$RUNS"); do
      $DK_PEER checkpoint rm "$c" ex >/dev/null 2>&1 || true
      [ "$($DK_PEER inspect -f '{{.State.Running}}' "$c")" = true ] || dk_up "$c" "$m"
      wait_rss "$($DK_PEER inspect -f '{{.State.Pid}}' "$c")" "$m"; sync
      ex+=("$(t1 "$DK_PEER checkpoint create $c ex")")
      sync
      rs+=("$(t1 "$DK_PEER start --checkpoint ex $c")")
    done
    record dockerd ckpt-exit "$m" "$(printf '%s\n' "${ex[@]}" | median)"
    record dockerd restore "$m" "$(printf '%s\n' "${rs[@]}" | median)"
    $DK_PEER rm -f "$c" >/dev/null
  fi

  # ------------------------------------------------------------ podman 4.3
  if [ -n "$PODMAN" ] && eng podman; then
    c=pm$m
    pm_up "$c" "$m"
    r=$(PREP="sync" timeit "$RUNS" "$PODMAN container checkpoint --leave-running $c")
    record podman ckpt-leave "$m" "$r"
    r=$(PREP="sync; rm -f $W/pm-$m.tar.zst" timeit "$RUNS" \
      "$PODMAN container checkpoint --leave-running --compress zstd --export $W/pm-$m.tar.zst $c")
    record podman export "$m" "$r"
    printf 'podman\t%s\t%s\n' "$m" "$(stat -c %s "$W/pm-$m.tar.zst")" >> "$CK_OUT/export-sizes.tsv"
    ex=(); rs=()
    for i in $(seq 1 "$RUNS"); do
      [ "$($PODMAN inspect -f '{{.State.Running}}' "$c")" = true ] || pm_up "$c" "$m"
      wait_rss "$($PODMAN inspect -f '{{.State.Pid}}' "$c")" "$m"; sync
      ex+=("$(t1 "$PODMAN container checkpoint $c")")
      sync
      rs+=("$(t1 "$PODMAN container restore $c")")
    done
    record podman ckpt-exit "$m" "$(printf '%s\n' "${ex[@]}" | median)"
    record podman restore "$m" "$(printf '%s\n' "${rs[@]}" | median)"
    $PODMAN rm -f -t 0 "$c" >/dev/null
    r=$(PREP="sync; $PODMAN rm -f -t 0 pmi$m || true" timeit "$RUNS" \
      "$PODMAN container restore --import $W/pm-$m.tar.zst --name pmi$m")
    record podman import-restore "$m" "$r"
    $PODMAN rm -f -t 0 "pmi$m" >/dev/null
  fi
  rm -f "$W"/ck-"$m".tar.zst "$W"/pm-"$m".tar.zst
done

# ------------------------------------------------------------ table
get() { awk -F'\t' -v e="$1" -v o="$2" -v m="$3" '$1==e && $2==o && $3==m {printf "%.3f", $4; f=1} END {if (!f) printf "-"}' "$RES_TSV"; }
{
  printf '\n%-16s %8s %8s %8s %8s %8s %11s %12s %13s\n' "checkpoint" "MiB" "ckptd s" "ctr s" "podman s" "dockerd s" "ckptd/ctr" "ckptd/podman" "ckptd/dockerd"
  for op in ckpt-exit ckpt-leave restore export import-restore; do
    for m in $CK_SIZES; do
      a=$(get ckptd "$op" "$m"); f=$(get ctr "$op" "$m"); p=$(get podman "$op" "$m"); d=$(get dockerd "$op" "$m")
      printf '%-16s %8s %8s %8s %8s %8s %11s %12s %13s\n' "$op" "$m" "$a" "$f" "$p" "$d" \
        "$(ratio "$a" "$f")" "$(ratio "$a" "$p")" "$(ratio "$a" "$d")"
    done
  done
  printf '\nexport sizes (bytes): %s\n' "$(sort "$CK_OUT/export-sizes.tsv" | tr '\t\n' ' ;')"
  printf 'ckptd peak RSS while streaming the %s MiB export (VmHWM after clear_refs=5): %s kB\n' "$CK_MAX" "$RSS_EXPORT"
} | tee "$CK_OUT/checkpoint-table.txt"
