#!/usr/bin/env bash
# Starts haven the way ../shared/bench/peers.sh and cpu-cost.sh expect an extra target: in the
# foreground, on 127.0.0.1:PORT, round-robin over the given backends, one worker thread, access
# log off (as for the peers), active health checks like HAProxy's (check inter 2s) when
# HEALTH_CHECKS is 1. HAVEN_PEER_POLICIES=1 adds a rate limit (client key, never reached) and a
# circuit breaker to the route, to measure what the policies cost per request.
# HAVEN_PEER_STICKY=cookie adds a sticky cookie (insert mode: the load sends no cookie, so every
# response carries a Set-Cookie); HAVEN_PEER_STICKY=table a stick table on the client's address
# (every request a lookup that hits), to measure what stickiness costs per request.
# HAVEN_PEER_REDIS=HOST:PORT adds shared_state on that Redis: with HAVEN_PEER_POLICIES=1 the rate
# limit is then shared between instances (its counts go to Redis every 100 ms), to measure what a
# shared limit costs per request against the same route with a local one.
#   haven-peer.sh PORT BACKENDS(host:port,host:port) WORKDIR
set -euo pipefail
port=$1 backends=$2 dir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
haven=${HAVEN_BIN:-$here/../build/release/haven}
mkdir -p "$dir"
{
    echo "threads: 1"
    echo "listeners:"
    if [[ ${HAVEN_PEER_POLICIES:-0} == 1 ]]; then
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$port"
        echo "    pool: be"
        echo "    policies:"
        echo "      rate_limit: { limits: [\"1000000000 per second\"], key: client }"
        echo "      circuit_breaker: { consecutive_failures: 5, timeout: 60s }"
    else
        echo "  - { name: bench, listen: 127.0.0.1:$port, mode: http, pool: be }"
    fi
    echo "pools:"
    echo "  - name: be"
    echo "    balance: roundrobin"
    case ${HAVEN_PEER_STICKY:-} in
        cookie) echo "    sticky: { cookie: { name: SRV, mode: insert, httponly: true } }" ;;
        table) echo "    sticky: { table: { on: source, expire: 30m } }" ;;
        '') ;;
        *) echo "haven-peer: HAVEN_PEER_STICKY must be cookie or table" >&2; exit 2 ;;
    esac
    echo "    servers:"
    i=0
    for b in ${backends//,/ }; do
        i=$((i + 1))
        echo "      - { name: b$i, address: $b }"
    done
    echo "timeouts: { connect: 5s, client_idle: 60s, server: 60s }"
    if [[ -n ${HAVEN_PEER_REDIS:-} ]]; then
        echo "shared_state: { redis: $HAVEN_PEER_REDIS }"
    fi
} >"$dir/haven.yaml"
exec "$haven" run -c "$dir/haven.yaml" --log-level warn
