# shellcheck shell=bash
# API at N running containers (issue 14, case group `api-running`, not in the default set):
# BENCH_RUNNING (default 100) containers running `sleep` on ckptd and on dockerd, then
# GET /containers/json and GET /containers/{id}/json (`docker ps`, `docker inspect`) at 1 and 8
# connections, ckptd and dockerd back to back per row, medians of BENCH_RUNS (default 3) runs:
#   BENCH_CASES=api-running BENCH_RUNNING=100 npm run bench
# Sourced by bench/run.sh (uses rps, DK_CKPTD, DK_PEER, BIMG, RUNS, W).
NRUN=${BENCH_RUNNING:-100}
# start_running DOCKER: NRUN containers br1..brN running sleep, 4 started at a time
start_running() {
  seq 1 "$NRUN" | xargs -P 4 -I{} sh -c "$1 run -d --name br{} --network none $BIMG sleep 100000 >/dev/null"
  local n
  n=$($1 ps -q --filter name=br | wc -l)
  log "$1: $n containers running"
}
# rps_median SOCKET PATH CONNS: the median req/s of RUNS runs
rps_median() { for _ in $(seq 1 "$RUNS"); do rps "$1" "$2" "$3"; done | median; }
log "starting $NRUN containers on ckptd"
start_running "$DK_CKPTD"
ck_id=$($DK_CKPTD inspect -f '{{.Id}}' br1)
if [ -n "$DK_PEER" ]; then
  log "starting $NRUN containers on dockerd"
  start_running "$DK_PEER"
  dk_id=$($DK_PEER inspect -f '{{.Id}}' br1)
fi
printf '\n%-34s %5s %12s %12s %8s\n' "api at $NRUN running" "conns" "ckptd req/s" "dockerd" "ratio"
for what in ping list inspect; do
  for c in 1 8; do
    # GET /_ping (same load, same moment) is each daemon's ceiling for a request
    if [ "$what" = ping ]; then p1=/_ping; p2=/_ping; label="GET /_ping (reference)"; elif
      [ "$what" = list ]; then p1=/containers/json; p2=/containers/json; label="GET /containers/json"; else
      p1=/containers/$ck_id/json; p2=/containers/${dk_id:-x}/json; label="GET /containers/{id}/json"; fi
    a=$(rps_median "$W/ckptd.sock" "$p1" "$c")
    b=-
    [ -n "$DK_PEER" ] && b=$(rps_median "$DOCKERD_SOCK" "$p2" "$c")
    printf '%-34s %5s %12s %12s %8s\n' "$label" "$c" "$a" "$b" "$(ratio "$a" "$b")"
  done
done
log "removing the $NRUN containers"
seq 1 "$NRUN" | xargs -P 4 -I{} sh -c "$DK_CKPTD rm -f br{} >/dev/null 2>&1" || true
[ -n "$DK_PEER" ] && { seq 1 "$NRUN" | xargs -P 4 -I{} sh -c "$DK_PEER rm -f br{} >/dev/null 2>&1" || true; }
