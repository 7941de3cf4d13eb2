#!/usr/bin/env bash
# start.sh — README "command 1": set up the host, build, and leave ckptd running in the
# background with a managed containerd (unless --containerd is given).
#   bash scripts/start.sh [--foreground] [ckptd flags...]
# Logs: /var/log/ckptd.log; pid: /run/ckptd.pid. Stop: kill "$(cat /run/ckptd.pid)".
set -euo pipefail
cd "$(dirname "$0")/.."
fg=0
if [ "${1:-}" = --foreground ]; then fg=1; shift; fi
bash scripts/ensure-deps.sh runtime
. scripts/node-env.sh # the pinned Node runs the build and the daemon
npm run --silent build
if [ $fg = 1 ]; then exec node dist/src/main.js "$@"; fi

pidfile=/run/ckptd.pid
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "ckptd is already running (pid $(cat "$pidfile")); stop it first: kill $(cat "$pidfile")" >&2
  exit 1
fi
# the socket to wait for: the last -H/--host unix:// given, else the default
sock=/run/ckptd.sock
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -H | --host) v=${args[$((i + 1))]:-}; [[ $v == unix://* ]] && sock=${v#unix://} ;;
    --host=*) v=${args[$i]#--host=}; [[ $v == unix://* ]] && sock=${v#unix://} ;;
  esac
done
nohup node dist/src/main.js "$@" >>/var/log/ckptd.log 2>&1 &
echo $! > "$pidfile"
for _ in $(seq 1 300); do
  if curl -fsS --unix-socket "$sock" http://ckptd/_ping >/dev/null 2>&1; then
    echo "ckptd is running (pid $(cat "$pidfile")), socket $sock; logs in /var/log/ckptd.log"
    echo "try: DOCKER_HOST=unix://$sock docker version"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "ckptd exited during start-up; last log lines:" >&2; tail -n 30 /var/log/ckptd.log >&2; exit 1
  fi
  sleep 0.2
done
echo "ckptd did not answer on $sock within 60 s; see /var/log/ckptd.log" >&2
exit 1
