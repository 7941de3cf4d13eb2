# bench/registry.sh — sourced by bench/run.sh for BENCH_CASES=registry (issue 13).
# Pull and push of an image with one BENCH_REG_MIB (512) MiB layer of random data against Debian's
# docker-registry (distribution 2.8) on loopback, ckptd vs dockerd 20.10, medians of BENCH_RUNS.
# Every timed push goes to a fresh registry (storage wiped, restarted), so nothing is skipped or
# mounted; every timed pull starts with the image and its blobs gone from the engine. Both engines
# pull the same image (as ckptd pushed it: layers as stored, uncompressed); dockerd's own push
# gzips the layer, as dockerd always does.
REG_MIB=${BENCH_REG_MIB:-512}
command -v docker-registry >/dev/null || apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
REG_DIR=$W/registry
REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
REG=127.0.0.1:$REG_PORT
# reg_start: (re)start the registry on empty storage; its pid is kept in a file, as timeit's PREP
# runs in a subshell.
reg_stop() {
  local p; p=$(cat "$REG_DIR/pid" 2>/dev/null || true)
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  rm -f "$REG_DIR/pid"
}
reg_start() {
  reg_stop
  rm -rf "$REG_DIR/storage"; mkdir -p "$REG_DIR"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
    "$REG_DIR/storage" "$REG" > "$REG_DIR/config.yml"
  docker-registry serve "$REG_DIR/config.yml" >>"$W/registry.log" 2>&1 &
  echo $! > "$REG_DIR/pid"
  for _ in $(seq 1 200); do curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && return 0; sleep 0.05; done
  log "docker-registry did not start"; return 1
}
cleanup_hooks+=('reg_stop')
RIMG=bench/reg:$REG_MIB
mk_reg_image() { # DK
  $1 rm -f breg >/dev/null 2>&1 || true
  $1 run -d --name breg --network none "$BIMG" sleep 100000 >/dev/null
  $1 exec breg sh -c "dd if=/dev/urandom of=/big bs=1M count=$REG_MIB 2>/dev/null"
  $1 commit breg "$RIMG" >/dev/null
  $1 rm -f breg >/dev/null
  $1 tag "$RIMG" "$REG/$RIMG"
}
reg_start
mk_reg_image "$DK_CKPTD"
rbytes=$((REG_MIB * 1048576))
# push: a fresh registry each run
pa=$(PREP="reg_start" timeit "$RUNS" "$DK_CKPTD push $REG/$RIMG")
pb=-
if [ -n "$DK_PEER" ]; then
  mk_reg_image "$DK_PEER"
  pb=$(PREP="reg_start" timeit "$RUNS" "$DK_PEER push $REG/$RIMG")
fi
# pull: the image as ckptd pushed it, into an engine that has none of it
reg_start
$DK_CKPTD push "$REG/$RIMG" >/dev/null
drop_ckptd="$DK_CKPTD rmi -f $REG/$RIMG $RIMG; $DK_CKPTD image prune -af"
ua=$(PREP="$drop_ckptd" timeit "$RUNS" "$DK_CKPTD pull $REG/$RIMG")
ub=-
if [ -n "$DK_PEER" ]; then
  drop_peer="$DK_PEER rmi -f $REG/$RIMG $RIMG; $DK_PEER image prune -af"
  ub=$(PREP="$drop_peer" timeit "$RUNS" "$DK_PEER pull $REG/$RIMG")
  $DK_PEER rmi -f "$REG/$RIMG" "$RIMG" >/dev/null 2>&1 || true
fi
# the floor: curl of the layer blob from the registry to /dev/null
ldig=$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REG/v2/${RIMG%%:*}/manifests/$REG_MIB" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);console.log(m.layers.reduce((a,b)=>a.size>b.size?a:b).digest)})')
uf=$(timeit "$RUNS" "curl -fsS http://$REG/v2/${RIMG%%:*}/blobs/$ldig -o /dev/null")
printf '\n%-22s %10s %10s %10s %12s %10s\n' "registry ($REG_MIB MiB)" "ckptd MB/s" "dockerd" "curl floor" "ckptd/dockerd" "RSS kB"
printf '%-22s %10s %10s %10s %12s %10s\n' "push" "$(mbps "$rbytes" "$pa")" "$(mbps "$rbytes" "$pb")" "-" \
  "$(ratio "$(mbps "$rbytes" "$pa")" "$(mbps "$rbytes" "$pb")")" "$(rss_now)"
printf '%-22s %10s %10s %10s %12s %10s\n' "pull" "$(mbps "$rbytes" "$ua")" "$(mbps "$rbytes" "$ub")" "$(mbps "$rbytes" "$uf")" \
  "$(ratio "$(mbps "$rbytes" "$ua")" "$(mbps "$rbytes" "$ub")")" "$(rss_now)"
printf 'seconds: push ckptd %s dockerd %s; pull ckptd %s dockerd %s\n' "$pa" "$pb" "$ua" "$ub"
$DK_CKPTD rmi -f "$REG/$RIMG" "$RIMG" >/dev/null 2>&1 || true
reg_stop
