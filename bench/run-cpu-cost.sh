#!/usr/bin/env bash
# haven as the extra row of ../shared/bench/cpu-cost.sh: user-space instructions per request
# (valgrind) and syscalls per request (perf tracepoints), beside HAProxy, nginx and Caddy.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shared=${HAVEN_SHARED:-$here/../../shared}
[[ -f $shared/bench/cpu-cost.sh ]] || { echo "run-cpu-cost: $shared/bench/cpu-cost.sh not found (set HAVEN_SHARED)" >&2; exit 1; }
export EXTRA_TARGET_NAME=haven
export EXTRA_TARGET_CMD="$here/haven-peer.sh {PORT} {BACKENDS} {WORKDIR}"
exec bash "$shared/bench/cpu-cost.sh" "${1:-direct,haproxy,nginx,haven}"
