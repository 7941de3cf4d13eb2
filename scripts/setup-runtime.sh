#!/usr/bin/env bash
# setup-runtime.sh — idempotent preparation of a Debian 12 host (or image) to RUN ckptd (as root):
# containerd, runc, iptables, the programs ckptd runs (tar's compressors, ps, tini-static for
# --init), the `docker` group (the socket's group, as ckptd.socket wants it), the pinned
# Node.js LTS (setup-node.sh) and a CRIU >= 4 that passes `criu check`. What only the tests
# need (the reference dockerd, podman, a registry, .proto files...) is in setup-host.sh, which
# runs this first; the Dockerfile runs only this.
#
# Debian 12's CRIU 3.17 fails on recent kernels (vDSO), so CRIU 4.x is taken from Debian 13
# ("trixie"): the trixie suite is added at pin priority 100 (never chosen by a plain
# install/upgrade), criu and the trixie libraries it needs are `apt-get download`ed and unpacked
# into a private prefix, and a wrapper runs the prefix's own dynamic loader. The system libc is
# never touched.
#
# Environment: CKPTD_CRIU_PREFIX (default /opt/ckptd/criu4), CKPTD_CRIU_WRAPPER
# (default /usr/local/sbin/criu), CKPTD_SETUP_QUIET=1 for less output, CKPTD_SETUP_IMAGE=1 when
# building an image (no `criu check` or test dump: the build host's kernel and privileges are not
# the runtime's; no `docker` group: its gid would not be the host's).
set -euo pipefail

PREFIX=${CKPTD_CRIU_PREFIX:-/opt/ckptd/criu4}
WRAPPER=${CKPTD_CRIU_WRAPPER:-/usr/local/sbin/criu}
IMAGE=${CKPTD_SETUP_IMAGE:-0}
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup-runtime] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root"; exit 1
fi

# What ckptd itself runs: containerd + runc; tar's compressors (zstd, xz, bzip2; gzip and tar are
# essential); /bin/ps (procps) for `docker top`; tini's tini-static as docker-init (--init), and
# tini as the image's PID 1; iptables; openssl checks the Node.js tarball (setup-node.sh).
RUNTIME_PKGS=(containerd runc iptables zstd xz-utils bzip2 procps ca-certificates tini openssl)
need_pkgs=()
for p in "${RUNTIME_PKGS[@]}"; do
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

if [ ${#need_pkgs[@]} -gt 0 ] || [ $added_trixie = 1 ] || ! criu_ok; then
  log "apt-get update"
  apt-get update -qq
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing: ${need_pkgs[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm "${need_pkgs[@]}" >/dev/null
fi

# Debian's containerd package starts a system containerd on /run/containerd; ckptd manages
# its own, so leave the system one as the admin configured it (we never depend on it).

# ckptd.socket's SocketGroup= (and the default -G): dockerd's package creates it too
if [ "$IMAGE" != 1 ] && ! getent group docker >/dev/null; then
  log "creating the docker group (owner of ckptd's socket)"
  groupadd --system docker
fi

# Node.js: the pinned LTS in its own prefix (Debian 12 has no Node 24).
bash "$(dirname "$0")/setup-node.sh"

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

# The wrapper is (re)written whenever its text differs, so a fix here reaches installed hosts.
# CRIU_FAULT=130 is CRIU's FI_NO_BREAKPOINTS: compel then reaches the parasite's final sigreturn by
# PTRACE_SYSCALL steps instead of an x86 debug-register breakpoint. In some VMs (seen: a
# Firecracker guest, kernel 6.18, AMD EPYC) the debug registers are accepted but never fire, and
# every dump hangs forever in wait4 after "Daemon exited trapping" while `criu check` passes.
# CKPTD_CRIU_HW_BREAKPOINTS=1 (or an explicit CRIU_FAULT) restores CRIU's default.
R=$PREFIX/root
wrapper_text="#!/bin/sh
# CRIU 4 from Debian trixie, run through its own loader (installed by ckptd's setup-runtime.sh)
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
if [ "$IMAGE" = 1 ]; then
  "$WRAPPER" --version >/dev/null
  log "image build: criu check and the test dump run at the first start on the real host (criu check)"
  exit 0
fi
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
