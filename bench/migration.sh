# bench/migration.sh — migration of a running container between two engines on this machine
# through a checkpoint image (`BENCH_CASES=migration`), sourced by bench/run.sh (uses its W,
# DK_CKPTD, PEERS, RUNS, BIMG, median, ratio, log, pids, cleanup_hooks).
# The container: /memhog holding BENCH_MIG_MIB (256) MiB plus a shell printing a line every 50 ms.
#   ckptd : A checkpoint?image= (exit) -> `docker save REF | docker load` into a second ckptd with
#           its own managed containerd and data root (base image already there) -> `docker run -d REF`
#   podman: A `podman container checkpoint --create-image` -> `podman save --format oci-archive`
#           to a file -> `podman load` into a second podman root -> `podman container restore REF`
# total: from the checkpoint request to the restored container running on B (the CLI returned);
# downtime: the last output line logged on A to the first logged on B (each engine's log
# timestamps: `logs -t`, same clock). Medians of BENCH_RUNS.
MIG_MIB=${BENCH_MIG_MIB:-256}
MIG_OUT=${BENCH_OUT:-$W/out}
mkdir -p "$MIG_OUT"
MIG_SCRIPT="/memhog $MIG_MIB & while true; do echo tick; sleep 0.05; done"

log "starting a second ckptd (B, own managed containerd) in $W/ckptd-b"
node dist/src/main.js -H "unix://$W/ckptd-b.sock" --data-root "$W/ckptd-b" --log-level warn 2>"$W/ckptd-b.log" &
pids+=($!)
for _ in $(seq 1 300); do curl -fsS --unix-socket "$W/ckptd-b.sock" http://x/_ping >/dev/null 2>&1 && break; sleep 0.1; done
DK_B="docker -H unix://$W/ckptd-b.sock"
$DK_B load -i "$W/img.tar" >/dev/null
cleanup_hooks+=("$DK_B rm -f \$($DK_B ps -aq)")

# wait_mem PID: until the memhog under the container's shell has touched its memory
mig_wait_mem() {
  local pid=$1 kb c
  for _ in $(seq 1 900); do
    for c in $(pgrep -P "$pid" 2>/dev/null) "$pid"; do
      kb=$(awk '/VmRSS/{print $2}' "/proc/$c/status" 2>/dev/null || echo 0)
      [ "${kb:-0}" -ge $((MIG_MIB * 1024)) ] && return 0
    done
    sleep 0.1
  done
  log "migration: memhog never reached $MIG_MIB MiB"; return 1
}
# ts_secs RFC3339NANO -> epoch seconds with fraction
ts_secs() { local t=$1; local base=${t%%.*} frac=${t#*.}; frac=${frac%Z}; frac=${frac%%[+-]*}
  echo "$(date -u -d "${base/T/ } UTC" +%s).${frac}"; }
# (awk reads to the end: an early exit would SIGPIPE the CLI, fatal under pipefail)
last_ts() { $1 logs -t "$2" 2>&1 | awk 'END {print $1}'; }
first_ts() { $1 logs -t "$2" 2>&1 | awk 'NR == 1 {print $1}'; }

declare -a mig_tot=() mig_down=() pm_tot=() pm_down=()
for i in $(seq 1 "$RUNS"); do
  $DK_CKPTD rm -f mig >/dev/null 2>&1 || true; $DK_B rm -f mig >/dev/null 2>&1 || true
  $DK_B rmi -f "bench/mig:$i" >/dev/null 2>&1 || true
  $DK_CKPTD run -d --name mig --network none "$BIMG" sh -c "$MIG_SCRIPT" >/dev/null
  mig_wait_mem "$($DK_CKPTD inspect -f '{{.State.Pid}}' mig)"
  sleep 1; sync
  t0=$(now)
  curl -fsS --unix-socket "$W/ckptd.sock" -X POST "http://x/v1.47/containers/mig/checkpoint?image=bench/mig:$i" >/dev/null
  $DK_CKPTD save "bench/mig:$i" | $DK_B load >/dev/null
  $DK_B run -d --name mig "bench/mig:$i" >/dev/null
  t1=$(now)
  sleep 1
  a=$(last_ts "$DK_CKPTD" mig); b=$(first_ts "$DK_B" mig)
  mig_tot+=("$(echo "$t1 - $t0" | bc -l)")
  mig_down+=("$(echo "$(ts_secs "$b") - $(ts_secs "$a")" | bc -l)")
  log "migration ckptd run $i: total ${mig_tot[-1]} s, downtime ${mig_down[-1]} s"
  $DK_CKPTD rm -f mig >/dev/null; $DK_B rm -f mig >/dev/null
  $DK_CKPTD rmi -f "bench/mig:$i" >/dev/null 2>&1 || true; $DK_B rmi -f "bench/mig:$i" >/dev/null 2>&1 || true
done

if [ "$PEERS" = 1 ] && command -v podman >/dev/null; then
  PMA="podman --root $W/pm-a/root --runroot $W/pm-a/run --tmpdir $W/pm-a/tmp --cgroup-manager cgroupfs --events-backend file --log-level error"
  PMB="podman --root $W/pm-b/root --runroot $W/pm-b/run --tmpdir $W/pm-b/tmp --cgroup-manager cgroupfs --events-backend file --log-level error"
  mkdir -p "$W"/pm-a/tmp "$W"/pm-b/tmp
  cleanup_hooks+=("$PMA rm -a -f -t 0" "$PMB rm -a -f -t 0" "umount -R $W/pm-a/root/overlay" "umount -R $W/pm-b/root/overlay")
  $PMA load -i "$W/img.tar" >/dev/null 2>&1 && $PMB load -i "$W/img.tar" >/dev/null 2>&1
  for i in $(seq 1 "$RUNS"); do
    $PMA rm -f -t 0 mig >/dev/null 2>&1 || true; $PMB rm -a -f -t 0 >/dev/null 2>&1 || true
    $PMB rmi -f "localhost/mig:$i" >/dev/null 2>&1 || true
    # podman's default RLIMIT_NOFILE/NPROC are above this host's hard limits
    $PMA run -d --name mig --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --log-driver k8s-file "$BIMG" sh -c "$MIG_SCRIPT" >/dev/null
    mig_wait_mem "$($PMA inspect -f '{{.State.Pid}}' mig)"
    sleep 1; sync
    t0=$(now)
    ok=1
    $PMA container checkpoint --create-image "localhost/mig:$i" mig >/dev/null 2>>"$W/podman-mig.log" || ok=0
    rm -f "$W/pm-mig.tar"
    [ $ok = 1 ] && { $PMA save --format oci-archive -o "$W/pm-mig.tar" "localhost/mig:$i" >/dev/null 2>>"$W/podman-mig.log" || ok=0; }
    [ $ok = 1 ] && { $PMB load -i "$W/pm-mig.tar" >/dev/null 2>>"$W/podman-mig.log" || ok=0; }
    [ $ok = 1 ] && { $PMB container restore "localhost/mig:$i" >/dev/null 2>>"$W/podman-mig.log" || ok=0; }
    t1=$(now)
    if [ $ok = 0 ]; then log "podman migration failed (see podman-mig.log): podman row skipped"; pm_tot=(); break; fi
    sleep 1
    a=$(last_ts "$PMA" mig); b=$(first_ts "$PMB" "$($PMB ps -q | awk 'NR == 1')")
    pm_tot+=("$(echo "$t1 - $t0" | bc -l)")
    pm_down+=("$(echo "$(ts_secs "$b") - $(ts_secs "$a")" | bc -l)")
    log "migration podman run $i: total ${pm_tot[-1]} s, downtime ${pm_down[-1]} s"
    $PMA rm -f -t 0 mig >/dev/null; $PMB rm -a -f -t 0 >/dev/null
    $PMA rmi -f "localhost/mig:$i" >/dev/null 2>&1 || true; $PMB rmi -f "localhost/mig:$i" >/dev/null 2>&1 || true
  done
fi

med() { if [ $# = 0 ]; then echo -; else printf '%s\n' "$@" | median; fi; }
ct=$(med "${mig_tot[@]}"); cd_=$(med "${mig_down[@]}"); pt=$(med "${pm_tot[@]}"); pd=$(med "${pm_down[@]}")
fmt() { [ "$1" = - ] && echo - || printf '%.2f' "$1"; }
printf '\n%-26s %10s %10s %12s\n' "migration ($MIG_MIB MiB)" "ckptd s" "podman s" "ckptd/podman"
printf '%-26s %10s %10s %12s\n' "total (A ckpt -> B runs)" "$(fmt "$ct")" "$(fmt "$pt")" "$(ratio "$ct" "$pt")"
printf '%-26s %10s %10s %12s\n' "downtime (last A -> 1st B)" "$(fmt "$cd_")" "$(fmt "$pd")" "$(ratio "$cd_" "$pd")"
printf 'migration\t%s\t%s\t%s\t%s\n' "$ct" "$cd_" "$pt" "$pd" >> "$MIG_OUT/migration.tsv"
