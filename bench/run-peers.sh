#!/usr/bin/env bash
# haven as the extra row of ../shared/bench/peers.sh (HAProxy, nginx, Caddy side by side, proxy
# pinned to one core and the load to the other). Extra arguments and environment knobs are passed
# through, e.g.  REPS=5 bench/run-peers.sh direct,haproxy,nginx,haven
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shared=${HAVEN_SHARED:-$here/../../shared}
[[ -f $shared/bench/peers.sh ]] || { echo "run-peers: $shared/bench/peers.sh not found (set HAVEN_SHARED)" >&2; exit 1; }
[[ -x $here/../build/release/haven ]] || { echo "run-peers: build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
export EXTRA_TARGET_NAME=haven
export EXTRA_TARGET_CMD="$here/haven-peer.sh {PORT} {BACKENDS} {WORKDIR}"
exec bash "$shared/bench/peers.sh" "${1:-direct,haproxy,nginx,caddy,haven}"
