#!/usr/bin/env bash
# Memory with many idle keep-alive client connections: haven beside HAProxy (nbthread 1), same
# backend, same connection count. Each connection sends one request, reads the answer and stays
# open. Prints the resident memory growth of each proxy.
#   bench/idle-rss.sh [N=9900]   (HAProxy needs 2 fds per maxconn: with the 20,000 open-files
# limit of this machine its maxconn tops out at 9,993, hence 9,900 connections by default)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
haven=${HAVEN_BIN:-$here/../build/release/haven}
n=${1:-9900}
work=$(mktemp -d /tmp/idle-rss.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

bport=$(free_port); hport=$(free_port); xport=$(free_port)
"$haven" demo-backend --listen 127.0.0.1:$bport --name b1 >/dev/null & pids+=($!)
wait_port "$bport"
cat >"$work/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 9990
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
    maxconn 9990
frontend fe
    bind 127.0.0.1:$hport
    default_backend be
backend be
    server b1 127.0.0.1:$bport
CFG
haproxy -db -f "$work/haproxy.cfg" >/dev/null 2>&1 & pids+=($!); hpid=$!
cat >"$work/haven.yaml" <<CFG
threads: 1
listeners: [ { name: bench, listen: 127.0.0.1:$xport, mode: http, pool: be } ]
pools: [ { name: be, servers: [ { name: b1, address: 127.0.0.1:$bport } ] } ]
timeouts: { client_idle: 300s, request_headers: 300s }
limits: { max_connections: 30000 }
CFG
"$haven" run -c "$work/haven.yaml" --log-level warn & pids+=($!); xpid=$!
wait_port "$hport"; wait_port "$xport"
echo "# idle-rss.sh: $n idle keep-alive connections, $(date -u +%F)"
echo "haproxy $(python3 "$here/idle_conns.py" "$hport" "$n" "$hpid")"
echo "haven   $(python3 "$here/idle_conns.py" "$xport" "$n" "$xpid")"
