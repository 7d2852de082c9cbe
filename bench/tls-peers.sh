#!/usr/bin/env bash
# HTTPS termination: haven against HAProxy and nginx in the same run, same backend, same
# certificate (ECDSA P-256 or RSA 2048), each proxy pinned to core 0 with one thread and wrk on
# core 1. Two figures per proxy:
#   keep-alive  requests/s over CONNS kept-alive TLS connections (the common case)
#   handshakes  requests/s with "Connection: close": one full TLS handshake per request
# Usage: bench/tls-peers.sh [ecdsa|rsa]    (DURATION=5 CONNS=50 knobs)
# Requires wrk haproxy nginx openssl taskset (Debian packages); build haven first.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
haven=$here/../build/release/haven
kind=${1:-ecdsa}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
work=$(mktemp -d /tmp/haven-tls-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

if [[ $kind == rsa ]]; then newkey=(-newkey rsa:2048); else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
openssl req -x509 "${newkey[@]}" -nodes -keyout "$work/k.pem" -out "$work/c.pem" -days 2 -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test,IP:127.0.0.1 2>/dev/null
cat "$work/c.pem" "$work/k.pem" >"$work/haproxy.pem"

bport=$(free_port)
taskset -c 1 "$haven" demo-backend --listen "127.0.0.1:$bport" --name b1 >/dev/null 2>&1 &
pids+=($!)
wait_port "$bport"

hv=$(free_port); hp=$(free_port); ng=$(free_port)
cat >"$work/haven.yaml" <<EOF
threads: 1
listeners:
  - { name: web, listen: "127.0.0.1:$hv", pool: p, tls: { cert: $work/c.pem, key: $work/k.pem } }
pools:
  - { name: p, servers: [ { name: b1, address: "127.0.0.1:$bport" } ] }
EOF
cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend f
    bind 127.0.0.1:$hp ssl crt $work/haproxy.pem alpn http/1.1
    default_backend b
backend b
    http-reuse always
    server b1 127.0.0.1:$bport
EOF
cat >"$work/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/t1; proxy_temp_path $work/t2; fastcgi_temp_path $work/t3;
    uwsgi_temp_path $work/t4; scgi_temp_path $work/t5;
    upstream b { server 127.0.0.1:$bport; keepalive 64; }
    server {
        listen 127.0.0.1:$ng ssl;
        ssl_certificate $work/c.pem; ssl_certificate_key $work/k.pem;
        ssl_session_cache shared:S:10m;
        location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
taskset -c 0 "$haven" run -c "$work/haven.yaml" --log-level warn >"$work/haven.log" 2>&1 &
pids+=($!)
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" >"$work/nginx.log" 2>&1 &
pids+=($!)
wait_port "$hv"; wait_port "$hp"; wait_port "$ng"

run_wrk() { # port [extra wrk args] -> requests/s
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
}
echo "TLS ($kind), ${CONNS} connections, ${DURATION}s, one proxy thread on core 0, wrk on core 1"
printf '%-8s %14s %14s\n' proxy keepalive_rps handshake_rps
declare -A ka hs
for name in haproxy haven nginx; do
    case $name in haven) port=$hv ;; haproxy) port=$hp ;; nginx) port=$ng ;; esac
    run_wrk "https://127.0.0.1:$port/" >/dev/null # warm up
    ka[$name]=$(run_wrk "https://127.0.0.1:$port/")
    hs[$name]=$(run_wrk -H "Connection: close" "https://127.0.0.1:$port/")
    printf '%-8s %14s %14s\n' "$name" "${ka[$name]}" "${hs[$name]}"
done
awk -v a="${ka[haven]}" -v b="${ka[haproxy]}" -v c="${hs[haven]}" -v d="${hs[haproxy]}" \
    'BEGIN { printf "haven / haproxy: keep-alive %.2f, handshakes %.2f\n", a / b, c / d }'
