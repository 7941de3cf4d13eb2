#!/usr/bin/env bash
# setup-host.sh — idempotent host preparation for ckptd on Debian 12 (run as root).
#
# Installs containerd, runc, iptables, Debian's docker.io (dockerd 20.10, never started: the side-by-side test's reference), the containerd .proto files (for the wire-parity test),
# the pinned Node.js LTS (setup-node.sh) and a CRIU >= 4 that passes `criu check`. Debian 12's CRIU 3.17 fails on recent kernels
# (vDSO), so CRIU 4.x is taken from Debian 13 ("trixie"): the trixie suite is added at pin
# priority 100 (never chosen by a plain install/upgrade), criu and the trixie libraries it
# needs are `apt-get download`ed and unpacked into a private prefix, and a wrapper runs the
# prefix's own dynamic loader. The system libc is never touched.
#
# Environment: CKPTD_CRIU_PREFIX (default /opt/ckptd/criu4), CKPTD_CRIU_WRAPPER
# (default /usr/local/sbin/criu), CKPTD_GOCRIU_PREFIX (default /opt/ckptd/go-criu: CRIU's .proto
# files for the wire-parity test), CKPTD_SETUP_QUIET=1 for less output.
set -euo pipefail

PREFIX=${CKPTD_CRIU_PREFIX:-/opt/ckptd/criu4}
WRAPPER=${CKPTD_CRIU_WRAPPER:-/usr/local/sbin/criu}
GOCRIU=${CKPTD_GOCRIU_PREFIX:-/opt/ckptd/go-criu}
GOCRIU_IMAGES=$GOCRIU/usr/share/gocode/src/github.com/checkpoint-restore/go-criu/v7/crit/images
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup-host] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root"; exit 1
fi
# podman: only as the peer of the checkpoint-image interop tests and the migration bench (no service is started)

need_pkgs=()
for p in containerd runc iptables golang-github-containerd-containerd-dev zstd xz-utils procps ca-certificates busybox-static python3-docker tini openssl podman docker-registry apache2-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done

# trixie at low priority: only ever used by `apt-get download -t trixie` below.
TRIXIE_LIST=/etc/apt/sources.list.d/ckptd-trixie.list
TRIXIE_PIN=/etc/apt/preferences.d/ckptd-trixie
added_trixie=0
if [ ! -f "$TRIXIE_LIST" ]; then
  echo 'deb http://deb.debian.org/debian trixie main' > "$TRIXIE_LIST"
  added_trixie=1
fi
if [ ! -f "$TRIXIE_PIN" ]; then
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > "$TRIXIE_PIN"
fi

criu_ok() { [ -x "$WRAPPER" ] && "$WRAPPER" --version 2>/dev/null | grep -Eq 'Version: ([4-9]|[1-9][0-9])\.' ; }

need_docker_io=0
dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q 'install ok installed' || need_docker_io=1

if [ ${#need_pkgs[@]} -gt 0 ] || [ $need_docker_io = 1 ] || [ $added_trixie = 1 ] || ! criu_ok || [ ! -f "$GOCRIU_IMAGES/creds.proto" ]; then
  log "apt-get update"
  apt-get update -qq
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing: ${need_pkgs[*]}"
  apt-get install -y -qq --no-install-recommends -t bookworm "${need_pkgs[@]}" >/dev/null
fi

# Debian's dockerd 20.10 (docker.io), only as the reference of test/integration/side-by-side.test.ts,
# which starts it on its own data root, exec root, socket and containerd. No service may start:
# a policy-rc.d refuses every start during the install (an existing one is kept), and on a
# systemd host the units the package enables are disabled again. The package's /usr/bin/docker
# (CLI 20.10) stays behind /usr/local/bin/docker (CLI 28) on PATH. Not fatal: without it the
# side-by-side test is skipped.
if [ $need_docker_io = 1 ]; then
  log "installing docker.io (dockerd 20.10, the side-by-side reference; no service started)"
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && added_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm docker.io >/dev/null \
    || log "docker.io could not be installed: the side-by-side test will be skipped"
  [ $added_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now docker.socket docker.service >/dev/null 2>&1 || true
  fi
fi
if [ -x /usr/local/bin/docker ] && [ "$(command -v docker)" != /usr/local/bin/docker ]; then
  log "warning: $(command -v docker) precedes /usr/local/bin/docker on PATH"
fi
# docker-registry (distribution 2.8) is for the registry tests and bench, which start their own
# on loopback: the packaged service must not hold :5000.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled docker-registry >/dev/null 2>&1; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
if pid=$(pgrep -x docker-registry 2>/dev/null) && grep -q /etc/docker/registry/config.yml "/proc/$pid/cmdline" 2>/dev/null; then
  kill "$pid" || true
fi

# Node.js: the pinned LTS in its own prefix (Debian 12 has no Node 24).
bash "$(dirname "$0")/setup-node.sh"

# Debian's containerd package starts a system containerd on /run/containerd; ckptd manages
# its own, so leave the system one as the admin configured it (we never depend on it).

if ! criu_ok; then
  log "installing CRIU 4 from trixie into $PREFIX"
  PKGS="criu libcompel1 libc6 libgcc-s1 libprotobuf-c1 libnet1 libnl-3-200 libnftables1 libnftnl11 libxtables12
        libmnl0 libjansson4 libedit2 libtinfo6 libbsd0 libmd0 libgnutls30t64 libnettle8t64
        libhogweed6t64 libgmp10 libidn2-0 libunistring5 libtasn1-6 libp11-kit0 libffi8 libuuid1 libzstd1 libcap2"
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq -t trixie $PKGS)
  rm -rf "$PREFIX.new" && mkdir -p "$PREFIX.new"
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$PREFIX.new/root"; done
  if "$PREFIX.new/root/usr/lib64/ld-linux-x86-64.so.2" --library-path "$PREFIX.new/root/usr/lib/x86_64-linux-gnu" \
       --list "$PREFIX.new/root/usr/sbin/criu" | grep 'not found'; then
    log "CRIU 4 needs libraries not in the prefix (listed above)"; exit 1
  fi
  rm -rf "$PREFIX" && mv "$PREFIX.new" "$PREFIX"
fi

# CRIU's image definitions (images/*.proto, as shipped by go-criu 7.2 from trixie), for the CRIU
# wire-parity test of protos/criu/: unpacked into a private prefix, never installed system-wide.
if [ ! -f "$GOCRIU_IMAGES/creds.proto" ]; then
  log "unpacking go-criu's CRIU image definitions from trixie into $GOCRIU"
  gtmp=$(mktemp -d) && chmod 755 "$gtmp"
  (cd "$gtmp" && apt-get download -qq -t trixie golang-github-checkpoint-restore-go-criu-dev)
  rm -rf "$GOCRIU.new" && mkdir -p "$GOCRIU.new"
  dpkg-deb -x "$gtmp"/golang-github-checkpoint-restore-go-criu-dev_*.deb "$GOCRIU.new"
  rm -rf "$gtmp"
  rm -rf "$GOCRIU" && mv "$GOCRIU.new" "$GOCRIU"
fi

# The wrapper is (re)written whenever its text differs, so a fix here reaches installed hosts.
# CRIU_FAULT=130 is CRIU's FI_NO_BREAKPOINTS: compel then reaches the parasite's final sigreturn by
# PTRACE_SYSCALL steps instead of an x86 debug-register breakpoint. In some VMs (seen: a
# Firecracker guest, kernel 6.18, AMD EPYC) the debug registers are accepted but never fire, and
# every dump hangs forever in wait4 after "Daemon exited trapping" while `criu check` passes.
# CKPTD_CRIU_HW_BREAKPOINTS=1 (or an explicit CRIU_FAULT) restores CRIU's default.
R=$PREFIX/root
wrapper_text="#!/bin/sh
# CRIU 4 from Debian trixie, run through its own loader (installed by ckptd's setup-host.sh)
R=$R
if [ -z \"\${CRIU_FAULT:-}\" ] && [ \"\${CKPTD_CRIU_HW_BREAKPOINTS:-0}\" != 1 ]; then
  CRIU_FAULT=130; export CRIU_FAULT
fi
exec \$R/usr/lib64/ld-linux-x86-64.so.2 --library-path \$R/usr/lib/x86_64-linux-gnu \$R/usr/sbin/criu \"\$@\"
"
if [ "$(cat "$WRAPPER" 2>/dev/null)" != "${wrapper_text%$'\n'}" ]; then
  mkdir -p "$(dirname "$WRAPPER")"
  printf '%s' "$wrapper_text" > "$WRAPPER.tmp"
  chmod 755 "$WRAPPER.tmp" && mv "$WRAPPER.tmp" "$WRAPPER"
fi

# runc looks CRIU up on PATH; /usr/local/sbin precedes /usr/sbin, and Debian's criu 3.17 is
# not installed by us. Verify what runc and containerd will actually run.
if ! "$WRAPPER" check >/dev/null 2>&1; then
  log "criu check failed:"; "$WRAPPER" check || true; exit 1
fi
# `criu check` does not exercise a dump's parasite: dump a sleeping process (left running) as
# proof that checkpoints can work here, bounded so that a hang fails the setup instead.
probe=$(mktemp -d)
setsid sleep 120 </dev/null >/dev/null 2>&1 &
sp=$!
if ! timeout 30 "$WRAPPER" dump -t "$sp" -D "$probe" -o dump.log --leave-running >/dev/null 2>&1; then
  log "criu could not dump a test process:"; tail -5 "$probe/dump.log" >&2 || true
  kill "$sp" 2>/dev/null || true; rm -rf "$probe"; exit 1
fi
kill "$sp" 2>/dev/null || true; rm -rf "$probe"
[ "${CKPTD_SETUP_QUIET:-0}" = 1 ] || log "ok: $(containerd --version | head -1); $(runc --version | head -1); criu $("$WRAPPER" --version | awk '/Version/{print $2}')"
