#!/usr/bin/env bash
# HTTPS termination: haven against HAProxy and nginx in the same run, same backend, same
# certificate (ECDSA P-256 or RSA 2048), each proxy pinned to core 0 with one thread, clients on
# core 1. ROUNDS rounds, the proxies' order rotating each round. For each proxy and round:
#   keep-alive  wrk -t1 -cCONNS over kept-alive TLS connections: requests/s and the proxy's CPU
#               time per request (utime+stime from /proc, before and after)
#   full hs     openssl s_time -new (PAR clients at once): a full handshake and one HTTP/1.0
#               request per connection, no resumption: CPU per handshake; TLS 1.3 and TLS 1.2
#   resumed hs  openssl s_time -reuse: every connection resumes the previous session (a TLS 1.3
#               ticket with a fresh X25519 exchange; a TLS 1.2 abbreviated handshake, no exchange)
#   wrk close   wrk with "Connection: close" (wrk resumes what it can): requests/s
# nginx 1.22 (Debian 12) offers only TLS 1.2 unless told otherwise (TLS 1.3 joined its default in
# 1.23.4); it is given "ssl_protocols TLSv1.2 TLSv1.3" (tls-common.sh) so that all three speak the same.
# CPU time per request is the figure the issue's goal names; requests/s on this 2-core VM moves
# with the client and the neighbours. Medians over the rounds are printed at the end.
# Usage: bench/tls-peers.sh [ecdsa|rsa]    (DURATION=5 CONNS=50 ROUNDS=3 PAR=2 knobs)
# Requires wrk haproxy nginx openssl taskset (Debian packages); build haven first.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
haven=$here/../build/release/haven
kind=${1:-ecdsa}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
PAR=${PAR:-2}
work=$(mktemp -d /tmp/haven-tls-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

source "$here/tls-common.sh"
make_cert "$kind"

bport=$(free_port)
taskset -c 1 "$haven" demo-backend --listen "127.0.0.1:$bport" --name b1 >/dev/null 2>&1 &
pids+=($!)
wait_port "$bport"

hv=$(free_port); hp=$(free_port); ng=$(free_port)
for p in haven:$hv haproxy:$hp nginx:$ng; do write_conf "${p%%:*}" "${p#*:}"; done
taskset -c 0 "$haven" run -c "$work/haven.yaml" --log-level warn >"$work/haven.log" 2>&1 &
pid_haven=$!; pids+=($!)
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pid_haproxy=$!; pids+=($!)
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" >"$work/nginx.log" 2>&1 &
pid_nginx=$!; pids+=($!)
wait_port "$hv"; wait_port "$hp"; wait_port "$ng"

ticks=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime
us_per() { awk -v t="$1" -v hz="$ticks" -v n="$2" 'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
# wrk_run PID PORT [wrk args] -> "requests/s cpu_us_per_request"
wrk_run() {
    local pid=$1 port=$2; shift 2
    local b a out
    b=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" "https://127.0.0.1:$port/" 2>/dev/null)
    a=$(cpu_ticks "$pid")
    local n rps
    n=$(awk '/requests in/ { print $1 }' <<<"$out"); rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    echo "$rps $(us_per $((a - b)) "${n:-0}")"
}
# stime_run PID PORT -new|-reuse -tls1_3|-tls1_2 -> "handshakes/s cpu_us_per_handshake"
stime_run() {
    local pid=$1 port=$2 mode=$3 version=$4 b a i total=0 n
    b=$(cpu_ticks "$pid")
    for i in $(seq "$PAR"); do
        taskset -c 1 openssl s_time -connect "127.0.0.1:$port" "$mode" "$version" -time "$DURATION" -www / \
            >"$work/st.$i" 2>&1 &
    done
    wait_clients=$(jobs -p | tail -n "$PAR"); wait $wait_clients 2>/dev/null || true
    a=$(cpu_ticks "$pid")
    for i in $(seq "$PAR"); do
        n=$(awk '/connections in .* real seconds/ { print $1; exit }' "$work/st.$i"); total=$((total + ${n:-0}))
    done
    awk -v n="$total" -v d="$DURATION" -v c="$(us_per $((a - b)) "$total")" 'BEGIN { printf "%.0f %s\n", n / d, c }'
}

echo "TLS ($kind): $ROUNDS rounds, ${DURATION}s each; one proxy thread on core 0, clients on core 1"
results=$work/results.tsv; : >"$results"
order=(haproxy haven nginx)
for round in $(seq "$ROUNDS"); do
    for name in "${order[@]}"; do
        case $name in haven) port=$hv pid=$pid_haven ;; haproxy) port=$hp pid=$pid_haproxy ;; nginx) port=$ng pid=$pid_nginx ;; esac
        [[ $round == 1 ]] && taskset -c 1 wrk -t1 -c"$CONNS" -d1s "https://127.0.0.1:$port/" >/dev/null 2>&1 # warm up
        read -r ka_rps ka_cpu < <(wrk_run "$pid" "$port")
        read -r _ full_cpu < <(stime_run "$pid" "$port" -new -tls1_3)
        read -r _ res_cpu < <(stime_run "$pid" "$port" -reuse -tls1_3)
        read -r _ full12_cpu < <(stime_run "$pid" "$port" -new -tls1_2)
        read -r _ res12_cpu < <(stime_run "$pid" "$port" -reuse -tls1_2)
        read -r close_rps _ < <(wrk_run "$pid" "$port" -H "Connection: close")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$ka_rps" "$ka_cpu" "$full_cpu" "$res_cpu" \
            "$full12_cpu" "$res12_cpu" "$close_rps" | tee -a "$results"
    done
    order=("${order[@]:1}" "${order[0]}")
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().splitlines() if l]
cols = ['keepalive req/s', 'keepalive us/req', '1.3 full us/hs', '1.3 resumed us/hs', '1.2 full us/hs',
        '1.2 resumed us/hs', 'wrk close req/s']
med = {}
for r in rows:
    med.setdefault(r[0], []).append([float(x) for x in r[2:]])
print('\nmedians over rounds (ratio to haproxy in brackets)')
print('%-8s' % 'proxy' + ''.join('%20s' % c for c in cols))
base = [statistics.median(v[i] for v in med['haproxy']) for i in range(len(cols))]
for name in ('haproxy', 'haven', 'nginx'):
    m = [statistics.median(v[i] for v in med[name]) for i in range(len(cols))]
    print('%-8s' % name + ''.join('%20s' % ('%.1f (%.2f)' % (x, x / b if b else 0)) for x, b in zip(m, base)))
PY
