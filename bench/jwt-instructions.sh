#!/usr/bin/env bash
# What a route's `jwt:` check adds per HTTP request, in user-space instructions, through the
# whole proxy (client -> haven -> `haven demo-backend`), deterministically.
# haven ("threads: 1", one plain-HTTP listener on 127.0.0.1, one route to a pool of one demo
# backend) runs under valgrind --tool=cachegrind --cache-sim=no, which counts every instruction
# the haven process executes in user space (Ir). A Python client sends exactly N GETs, one after
# another, on ONE kept-alive connection, each with "Authorization: Bearer <token>". Per
# algorithm (RS256, and HS256 / ES256 unless ALGS says otherwise) three cases:
#   base  the route has no `jwt:` (the client still sends the same header: same bytes on the wire)
#   same  `jwt:` on the route, the SAME valid token on every request (verified once, then cached)
#   new   `jwt:` on the route, a NEW valid token on every request (distinct `jti`, same length):
#         a full signature check each time, then stored in the cache (cache_size 4096 > N2: no
#         evictions)
# The jwt policy checks iss, aud and exp and forwards `sub` as X-User (like bench/jwt_bench.cpp).
# The peer (PEER=1, the default): HAProxy 2.6, whose jwt_verify converter checks a token on every
# request (it has no cache), with the same checks as http-request rules; its "base" has no rules.
# HAProxy's "same" and "new" cost the same: it verifies the signature every time.
# All tokens are minted (python3-jwt, keys from python3-cryptography) before haven starts.
# Every case is run twice, in separate haven runs, with N1 and N2 requests:
#     Ir/request = (Ir(N2) - Ir(N1)) / (N2 - N1)     (start-up and shutdown cancel out)
# and "added" = Ir/request of a jwt case - Ir/request of that algorithm's base case.
# NOT included: kernel work (syscalls, TCP over loopback), the backend's and the client's work.
# Timers that fire by wall clock add a little noise (an N2 run lasts longer than an N1 run).
# Usage: bench/jwt-instructions.sh        knobs: N1=200 N2=1200 ALGS="RS256 HS256 ES256"
# Requires valgrind, python3-jwt, python3-cryptography (Debian packages); build haven first.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
haven=$here/../build/release/haven
N1=${N1:-200}; N2=${N2:-1200}
ALGS=${ALGS:-RS256 HS256 ES256}
PEER=${PEER:-1}
py=/usr/bin/python3
[[ -x $haven ]] || { echo "no haven binary at $haven: build it first" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind missing (apt-get install valgrind)" >&2; exit 1; }
(( N2 > N1 && N1 > 0 )) || { echo "need 0 < N1 < N2" >&2; exit 1; }
work=$(mktemp -d /tmp/haven-jwt-instr.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT
cp "$haven" "$work/haven" && haven=$work/haven     # a copy: a rebuild during the run cannot change it
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT PID: up to 60 s, and give up early if PID died
wait_port() {
    for _ in $(seq 600); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { echo "process $2 exited before port $1 opened" >&2; return 1; }
        sleep 0.1
    done
    echo "port $1 never opened" >&2; return 1
}

# Keys (public halves in files for haven) and N2 tokens per algorithm, one per line.
$py - "$work" "$N2" $ALGS <<'PY'
import json, secrets, sys, time
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
work, n, algs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pub = lambda k: k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP256R1())
secret = secrets.token_hex(32).encode()          # 64 ASCII bytes; the file's bytes are the secret
open(f"{work}/rsa.pem", "wb").write(pub(rsa_key))
open(f"{work}/ec.pem", "wb").write(pub(ec_key))
open(f"{work}/hs.secret", "wb").write(secret)
sign = {"RS256": rsa_key, "ES256": ec_key, "HS256": secret}
now = int(time.time())
for alg in algs:
    if alg not in sign:
        sys.exit(f"unsupported algorithm {alg} (RS256, HS256, ES256)")
    toks = [jwt.encode({"iss": "https://issuer.bench", "aud": "api", "sub": "alice", "iat": now - 10,
                        "exp": now + 3600, "jti": f"{i:08d}"}, sign[alg], algorithm=alg) for i in range(n)]
    assert len(set(toks)) == n and len({len(t) for t in toks}) == 1
    open(f"{work}/tokens-{alg}.txt", "w").write("\n".join(toks) + "\n")
PY

# The client: exactly N sequential GETs on one kept-alive connection; every answer must be 200.
cat >"$work/client.py" <<'PY'
import http.client, sys
port, n, mode, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
toks = open(path).read().split()
if len(toks) < n:
    sys.exit(f"client: {len(toks)} tokens for {n} requests")
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
sock = None
for i in range(n):
    tok = toks[0] if mode != "new" else toks[i]
    conn.request("GET", "/", headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"client: request {i + 1}/{n} ({mode}) answered {r.status}: {body[:200]!r}")
    if sock is None:
        sock = conn.sock
    elif conn.sock is not sock:
        sys.exit(f"client: the connection was not kept alive (request {i + 1})")
conn.close()
print(n)
PY

bport=$(free_port)
"$haven" demo-backend --listen "127.0.0.1:$bport" --name b1 >"$work/backend.log" 2>&1 &
backend_pid=$!; pids+=($!)
wait_port "$bport" "$backend_pid"

# write_cfg FILE PORT ALG with|without
write_cfg() {
    local keys
    case $3 in
        RS256) keys="[ { file: $work/rsa.pem } ]" ;;
        ES256) keys="[ { file: $work/ec.pem } ]" ;;
        HS256) keys="[ { secret_file: $work/hs.secret } ]" ;;
    esac
    {
        echo "threads: 1"
        echo "listeners:"
        echo "  - name: web"
        echo "    listen: \"127.0.0.1:$2\""
        echo "    routes:"
        echo "      - pool: p"
        if [[ $4 == with ]]; then
            echo "        policies:"
            echo "          jwt: { issuer: \"https://issuer.bench\", audiences: [api], algorithms: [$3],"
            echo "                 keys: $keys, forward_claims: { sub: X-User } }"
        fi
        echo "pools:"
        echo "  - { name: p, servers: [ { name: b1, address: \"127.0.0.1:$bport\" } ] }"
    } >"$1"
}

# write_haproxy_cfg FILE PORT ALG with|without
write_haproxy_cfg() {
    local key
    case $3 in
        RS256) key=$work/rsa.pem ;;
        ES256) key=$work/ec.pem ;;
        HS256) key=$(cat "$work/hs.secret") ;;
    esac
    printf '%s\n' global "    nbthread 1" defaults "    mode http" "    timeout connect 5s" "    timeout client 120s" \
        "    timeout server 120s" "    option http-keep-alive" "frontend f" "    bind 127.0.0.1:$2" >"$1"
    if [[ $4 == with ]]; then
        printf '    %s\n' \
            "http-request deny deny_status 401 unless { http_auth_bearer,jwt_verify(\"$3\",\"$key\") -m int 1 }" \
            "http-request deny deny_status 401 unless { http_auth_bearer,jwt_payload_query('\$.iss') -m str https://issuer.bench }" \
            "http-request deny deny_status 401 unless { http_auth_bearer,jwt_payload_query('\$.aud') -m str api }" \
            "http-request set-var(txn.exp) http_auth_bearer,jwt_payload_query('\$.exp','int')" \
            "http-request set-var(txn.now) date" \
            "http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }" \
            "http-request set-header X-User %[http_auth_bearer,jwt_payload_query('\$.sub')]" >>"$1"
    fi
    printf '%s\n' "    default_backend b" "backend b" "    http-reuse always" "    server b1 127.0.0.1:$bport" >>"$1"
}

# measure ALG CASE N -> sets IR to the total Ir of one haven run serving N requests (no subshell:
# the pids it starts stay known to cleanup)
measure() {
    local alg=$1 kase=$2 n=$3 port pid out cfg jwt=with mode=$2 proxy=${4:-haven} cmd sig=TERM
    [[ $kase == base ]] && { jwt=without; mode=same; }
    port=$(free_port); cfg=$work/cfg-$proxy-$alg-$kase-$n; out=$work/cg-$proxy-$alg-$kase-$n.out
    if [[ $proxy == haproxy ]]; then
        write_haproxy_cfg "$cfg" "$port" "$alg" "$jwt"; cmd=(haproxy -f "$cfg" -db); sig=USR1 # soft stop
    else
        write_cfg "$cfg" "$port" "$alg" "$jwt"; cmd=("$haven" run -c "$cfg" --log-level warn)
    fi
    valgrind --tool=cachegrind --cache-sim=no "--cachegrind-out-file=$out" --log-file="$work/vg-$proxy-$alg-$kase-$n.log" \
        "${cmd[@]}" >"$work/$proxy-$alg-$kase-$n.log" 2>&1 &
    pid=$!; pids+=($!)
    wait_port "$port" "$pid" || { cat "$work/$proxy-$alg-$kase-$n.log" >&2; exit 1; }
    timeout 1800 $py "$work/client.py" "$port" "$n" "$mode" "$work/tokens-$alg.txt" >/dev/null \
        || { echo "$proxy $alg/$kase N=$n: client failed (above); aborting" >&2; exit 1; }
    kill -"$sig" "$pid"
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "$proxy $alg/$kase N=$n: did not exit 60 s after SIG$sig" >&2; exit 1; }
    wait "$pid" || { echo "$proxy $alg/$kase N=$n: exited with status $? after SIG$sig" >&2; exit 1; }
    IR=$(awk '/^summary:/ { print $2 }' "$out" 2>/dev/null || true)
    [[ $IR =~ ^[0-9]+$ ]] || { echo "$alg/$kase N=$n: no summary line in $out" >&2; exit 1; }
}

start=$SECONDS
echo "haven user-space instructions per HTTP request (cachegrind), keep-alive, 1 connection, N=$N1 vs $N2"
printf '%-8s %-6s %-5s %14s %14s %10s %14s\n' proxy alg case "Ir(N1)" "Ir(N2)" Ir/req "added vs base"
proxies=(haven); [[ $PEER == 1 ]] && proxies+=(haproxy)
for alg in $ALGS; do
    for proxy in "${proxies[@]}"; do
        base=""
        for kase in base same new; do
            measure "$alg" "$kase" "$N1" "$proxy"; a=$IR
            measure "$alg" "$kase" "$N2" "$proxy"; b=$IR
            per=$(( (b - a + (N2 - N1) / 2) / (N2 - N1) ))
            [[ $kase == base ]] && base=$per
            printf '%-8s %-6s %-5s %14s %14s %10s %14s\n' "$proxy" "$alg" "$kase" "$a" "$b" "$per" \
                "$([[ $kase == base ]] && echo - || echo $((per - base)))"
        done
    done
done
echo "(same = one token on every request, verified once then cached; new = a new token each request)"
echo "runtime: $((SECONDS - start)) s"
