#!/usr/bin/env bash
# User-space instructions per TLS operation, for haven, HAProxy and nginx, with one certificate
# (ECDSA P-256 or RSA 2048) and the same backend and configs as bench/tls-peers.sh.
# Each proxy (one thread: haven "threads: 1", haproxy "nbthread 1", nginx single process) runs
# under valgrind --tool=cachegrind --cache-sim=no, which counts every instruction the proxy
# process executes in user space ("I refs"). A sequential Python client (ssl + socket) loads it
# with exactly N1 operations in one proxy run and N2 in another; then
#     Ir/op = (Ir(N2) - Ir(N1)) / (N2 - N1)
# which cancels start-up, the one-off first handshake of a resumption chain and shutdown.
# Kernel work (syscalls, TCP, loopback) is NOT included; neither is the backend's or client's work.
# Operations (one column each):
#   full13  full TLS 1.3 handshake + one GET (Connection: close), new connection, no resumption
#   res13   TLS 1.3 resumed with the ticket of the previous connection (fresh X25519 exchange)
#   full12  full TLS 1.2 handshake + one GET;   res12  TLS 1.2 abbreviated handshake + one GET
#   ka      one GET on a single kept-alive TLS 1.3 connection (HTTP/1.1, Content-Length framed);
#           KA_N2 <= 1000 because nginx closes a connection after keepalive_requests (1000) requests
# Timers that fire by wall clock add a little noise (a valgrind run lasts longer for N2).
# Usage: bench/tls-instructions.sh [ecdsa|rsa]   knobs: HS_N1=40 HS_N2=200 KA_N1=200 KA_N2=1000
#        PROXIES="haven haproxy nginx"   Requires valgrind haproxy nginx openssl python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kind=${1:-ecdsa}
HS_N1=${HS_N1:-40}; HS_N2=${HS_N2:-200}; KA_N1=${KA_N1:-200}; KA_N2=${KA_N2:-1000}
PROXIES=${PROXIES:-haven haproxy nginx}
MODES=(full13 res13 full12 res12 ka)
py=/usr/bin/python3
work=$(mktemp -d /tmp/haven-tls-instr.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT
# Snapshot the binary: every run then measures the same haven even if a build replaces it meanwhile.
install -m 755 "$here/../build/release/haven" "$work/haven"; haven=$work/haven
die() { echo "error: $*" >&2; exit 1; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Wait (up to 60 s) until something listens on 127.0.0.1:PORT, read from /proc so that no probe
# connection reaches the measured proxy. PID must stay alive meanwhile.
wait_listen() {
    local hex; hex=$(printf '0100007F:%04X' "$1")
    for _ in $(seq 600); do
        awk -v a="$hex" '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

source "$here/tls-common.sh"
make_cert "$kind"

bport=$(free_port)
"$haven" demo-backend --listen "127.0.0.1:$bport" --name b1 >/dev/null 2>&1 &
pids+=($!)
wait_listen "$bport" "$!" || die "backend did not start"

# The client: client.py PORT MODE N -> "ok=N resumed=R"; exits non-zero on any failure.
cat >"$work/client.py" <<'PY'
import socket, ssl, sys
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if mode.endswith('12') else ssl.TLSVersion.TLSv1_3
def connect(session=None):
    raw = socket.create_connection(('127.0.0.1', port), timeout=60)
    return ctx.wrap_socket(raw, server_hostname='bench.test', session=session)
def check_status(line):
    if not line.startswith(b'HTTP/1.1 200'): sys.exit('bad response: %r' % line[:80])
ok = resumed = 0
if mode == 'ka':
    s = connect(); f = s.makefile('rb')
    for _ in range(n):
        s.sendall(b'GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n')
        check_status(f.readline()); length = None
        while True:
            line = f.readline()
            if line in (b'\r\n', b''): break
            k, _, v = line.partition(b':')
            if k.strip().lower() == b'content-length': length = int(v)
        if length is None or len(f.read(length)) != length: sys.exit('response without full body')
        ok += 1
    f.close(); s.close()
else:
    session = None
    for _ in range(n):
        s = connect(session if mode.startswith('res') else None)
        s.sendall(b'GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n')
        data = b''
        while True:                      # read to EOF: TLS 1.3 tickets arrive on the way
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        check_status(data)
        resumed += s.session_reused; session = s.session; ok += 1
        s.close()
print('ok=%d resumed=%d' % (ok, resumed))
want = n - 1 if mode.startswith('res') else 0
if mode != 'ka' and resumed != want: sys.exit('resumed %d of %d connections, expected %d' % (resumed, n, want))
PY

# run_one PROXY MODE N -> prints the proxy's total Ir for a run with N operations
run_one() {
    local proxy=$1 mode=$2 n=$3 port out sig vpid cmd
    port=$(free_port); out=$work/cg.$proxy.$mode.$n
    write_conf "$proxy" "$port"
    case $proxy in   # the stop signal each one handles with a normal exit (so cachegrind writes)
    haven) cmd=("$haven" run -c "$work/haven.yaml" --log-level warn); sig=TERM ;;
    haproxy) cmd=(haproxy -f "$work/haproxy.cfg" -db); sig=USR1 ;;   # soft stop
    nginx) cmd=(nginx -c "$work/nginx.conf" -p "$work"); sig=QUIT ;;  # graceful shutdown
    esac
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" --log-file="$out.vg" \
        "${cmd[@]}" >"$out.log" 2>&1 &
    vpid=$!; pids+=($vpid)
    wait_listen "$port" "$vpid" || { cat "$out.log" "$out.vg" >&2; die "$proxy did not listen on $port"; }
    timeout 1800 "$py" "$work/client.py" "$port" "$mode" "$n" >"$out.client" 2>&1 \
        || { cat "$out.client" >&2; die "$proxy $mode N=$n: client failed"; }
    # nginx (single process) can miss a signal that lands between its check and epoll_wait (a window
    # valgrind widens), then sleeps on: so repeat the signal every 5 s, up to 120 s. Harmless for all.
    for i in $(seq 1200); do
        kill -0 "$vpid" 2>/dev/null || break
        ((i % 50 == 1)) && { kill -"$sig" "$vpid"; ((i > 1)) && echo "note: $proxy: SIG$sig sent again" >&2; }
        sleep 0.1
    done
    kill -0 "$vpid" 2>/dev/null && die "$proxy did not exit within 120 s of SIG$sig"
    wait "$vpid" || true
    awk '/^summary:/ { print $2; f = 1 } END { exit !f }' "$out" 2>/dev/null \
        || { cat "$out.vg" >&2; die "$proxy wrote no cachegrind summary to $out"; }
}

echo "TLS instructions ($kind cert): handshakes N=$HS_N1/$HS_N2, keep-alive requests N=$KA_N1/$KA_N2" >&2
results=$work/results.tsv; : >"$results"
for proxy in $PROXIES; do
    for mode in "${MODES[@]}"; do
        if [[ $mode == ka ]]; then n1=$KA_N1 n2=$KA_N2; else n1=$HS_N1 n2=$HS_N2; fi
        ir1=$(run_one "$proxy" "$mode" "$n1"); ir2=$(run_one "$proxy" "$mode" "$n2")
        per=$(( (ir2 - ir1) / (n2 - n1) ))
        printf '%-8s %-7s Ir(N=%d)=%d Ir(N=%d)=%d -> %d Ir/op  [%s]\n' "$proxy" "$mode" "$n1" "$ir1" "$n2" "$ir2" \
            "$per" "$(cat "$work/cg.$proxy.$mode.$n2.client")" >&2
        printf '%s\t%s\t%s\n' "$proxy" "$mode" "$per" >>"$results"
    done
done

"$py" - "$results" "$kind" <<'PY'
import sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().splitlines() if l]
ir = {(p, m): int(v) for p, m, v in rows}
modes = ['full13', 'res13', 'full12', 'res12', 'ka']
heads = ['1.3 full hs', '1.3 resumed hs', '1.2 full hs', '1.2 resumed hs', 'keep-alive req']
proxies = list(dict.fromkeys(p for p, _, _ in rows))
print('\nuser-space instructions per operation, %s certificate (ratio to haproxy)' % sys.argv[2])
print('%-8s' % 'proxy' + ''.join('%22s' % h for h in heads))
for p in proxies:
    cells = []
    for m in modes:
        v, b = ir[(p, m)], ir.get(('haproxy', m))
        cells.append('%d (%s)' % (v, '%.2f' % (v / b) if b else '-'))
    print('%-8s' % p + ''.join('%22s' % c for c in cells))
PY
echo "elapsed: ${SECONDS}s" >&2
