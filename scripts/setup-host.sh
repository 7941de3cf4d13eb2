#!/usr/bin/env bash
# setup-host.sh — idempotent host preparation for ckptd's tests on Debian 12 (run as root): first
# setup-runtime.sh (what ckptd needs to run: containerd, runc, iptables, tini, the pinned Node.js
# LTS, CRIU >= 4), then what only the tests need: containerd's .proto files
# (golang-github-containerd-containerd-dev, for the wire-parity test), busybox-static (test
# images), python3-docker, systemd's tools (systemd-analyze, systemd-socket-activate,
# systemd-notify for the systemd test), Debian's docker.io (dockerd 20.10, never started: the
# side-by-side test's reference), podman, docker-registry and apache2-utils (registry tests), and
# CRIU's image .proto files (go-criu, for the CRIU wire-parity test).
#
# Environment: CKPTD_GOCRIU_PREFIX (default /opt/ckptd/go-criu), CKPTD_SETUP_QUIET=1 for less
# output; setup-runtime.sh's variables.
set -euo pipefail

GOCRIU=${CKPTD_GOCRIU_PREFIX:-/opt/ckptd/go-criu}
GOCRIU_IMAGES=$GOCRIU/usr/share/gocode/src/github.com/checkpoint-restore/go-criu/v7/crit/images
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup-host] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root"; exit 1
fi

bash "$(dirname "$0")/setup-runtime.sh"

# podman: only as the peer of the checkpoint-image interop tests and the migration bench (no service is started)
need_pkgs=()
for p in golang-github-containerd-containerd-dev busybox-static python3-docker systemd podman docker-registry apache2-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done

need_docker_io=0
dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q 'install ok installed' || need_docker_io=1

if [ ${#need_pkgs[@]} -gt 0 ] || [ $need_docker_io = 1 ] || [ ! -f "$GOCRIU_IMAGES/creds.proto" ]; then
  log "apt-get update"
  apt-get update -qq
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing: ${need_pkgs[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm "${need_pkgs[@]}" >/dev/null
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
