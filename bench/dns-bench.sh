#!/usr/bin/env bash
# haven's DNS server against NSD and Knot serving the same zone, same run: each server pinned to
# one core (CPU 0), dnsperf on the other (CPU 1), REPS alternated rounds of SECONDS each. Prints
# queries/s and server CPU per query (user+system time of the server's processes, from /proc)
# per target, the median over the rounds, and the ratios against the faster peer.
#
#   bench/dns-bench.sh [targets=haven,nsd,knot]
#   env: HAVEN_BIN (default build/dns/haven, then build/release/haven), REPS=3, SECONDS_PER_RUN=10,
#        NAMES=1000 (A records in the zone), CLIENTS=4, OUTSTANDING=200 (dnsperf -c, -q)
#
# Needs dnsperf, nsd and knot (scripts/install-deps --bench). Response-rate limiting is off in
# all three (it would limit dnsperf's single address); NSD runs one server process, Knot one UDP
# worker; haven answers on its one DNS thread.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
targets=${1:-haven,nsd,knot}
reps=${REPS:-3}
seconds=${SECONDS_PER_RUN:-10}
names=${NAMES:-1000}
clients=${CLIENTS:-4}
outstanding=${OUTSTANDING:-200}
haven_bin=${HAVEN_BIN:-}
if [[ -z $haven_bin ]]; then
    for b in "$root/build/dns/haven" "$root/build/release/haven"; do [[ -x $b ]] && { haven_bin=$b; break; }; done
fi
[[ -x ${haven_bin:-} ]] || { echo "dns-bench: no haven binary (set HAVEN_BIN)" >&2; exit 1; }
for tool in dnsperf nsd knotd taskset; do
    command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || { echo "dns-bench: $tool missing (scripts/install-deps --bench)" >&2; exit 1; }
done
export PATH=$PATH:/usr/sbin

work=$(mktemp -d /tmp/haven-dns-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The zone, in haven's YAML and as an RFC 1035 zone file, and the query mix: 80% A for existing
# names, 10% AAAA (NODATA), 10% names that do not exist (NXDOMAIN).
python3 - "$work" "$names" <<'EOF'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
recs = [("www%d" % i, "A", "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)) for i in range(n)]
with open(f"{work}/example.com.zone", "w") as z:
    z.write("$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 60\n@ NS ns1\nns1 A 192.0.2.53\n")
    for name, t, v in recs:
        z.write(f"{name} {t} {v}\n")
with open(f"{work}/zone.yaml", "w") as y:
    y.write("      records:\n        - { name: '@', type: NS, value: ns1 }\n        - { name: ns1, type: A, value: 192.0.2.53 }\n")
    for name, t, v in recs:
        y.write(f"        - {{ name: {name}, type: {t}, value: {v} }}\n")
rng = random.Random(1)
with open(f"{work}/queries.txt", "w") as q:
    for _ in range(100000):
        r = rng.random()
        i = rng.randrange(n)
        q.write(f"www{i}.example.com A\n" if r < 0.8 else f"www{i}.example.com AAAA\n" if r < 0.9 else f"nx{i}.example.com A\n")
EOF

start_haven() {
    local port=$1 dir=$work/haven
    mkdir -p "$dir"
    cat > "$dir/haven.yaml" <<EOF
threads: 1
listeners: [ { name: web, listen: 127.0.0.1:0, pool: none } ]
pools: [ { name: none, servers: [ { address: 127.0.0.1:9 } ] } ]
dns:
  listeners: [ { name: bench, listen: 127.0.0.1:$port } ]
  rrl: { responses_per_second: 0 }
  zones:
    - name: example.com
      ttl: 300
      soa: { primary: ns1, admin: hostmaster, serial: 1, negative_ttl: 60 }
EOF
    cat "$work/zone.yaml" >> "$dir/haven.yaml"
    setsid taskset -c 0 "$haven_bin" run -c "$dir/haven.yaml" --log-level warn > "$dir/log" 2>&1 &
    echo $!
}

start_nsd() {
    local port=$1 dir=$work/nsd
    mkdir -p "$dir"
    cp "$work/example.com.zone" "$dir/"
    cat > "$dir/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$port
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  verbosity: 0
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: example.com
  zonefile: example.com.zone
EOF
    setsid taskset -c 0 nsd -d -c "$dir/nsd.conf" > "$dir/out" 2>&1 &
    echo $!
}

start_knot() {
    local port=$1 dir=$work/knot
    mkdir -p "$dir/db"
    cp "$work/example.com.zone" "$dir/"
    cat > "$dir/knot.conf" <<EOF
server:
    rundir: "$dir"
    listen: 127.0.0.1@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$dir/db"
log:
  - target: stderr
    any: error
zone:
  - domain: example.com
    storage: "$dir"
    file: example.com.zone
EOF
    setsid taskset -c 0 knotd -c "$dir/knot.conf" > "$dir/out" 2>&1 &
    echo $!
}

# CPU seconds (user + system) of every process in the server's session.
cpu_of() {
    local sid=$1 total=0 ticks
    ticks=$(getconf CLK_TCK)
    for p in $(ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s { print $1 }'); do
        [[ -r /proc/$p/stat ]] || continue
        # utime and stime are fields 14 and 15, counted after the ")" that closes comm: NSD
        # renames its processes "nsd: server 1", and a comm with spaces shifts awk's fields.
        total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    python3 -c "print($total / $ticks)"
}

wait_ready() {
    local port=$1
    for _ in $(seq 100); do
        dig +time=1 +tries=1 @127.0.0.1 -p "$port" www1.example.com A 2>/dev/null | grep -q "status: NOERROR" && return 0
        sleep 0.1
    done
    echo "dns-bench: server on port $port did not answer" >&2
    return 1
}

results=$work/results.tsv
: > "$results"
for rep in $(seq "$reps"); do
    for target in ${targets//,/ }; do
        port=$(free_port)
        sid=$("start_$target" "$port")
        pids+=("$sid")
        wait_ready "$port"
        dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l 1 -c "$clients" -q "$outstanding" > /dev/null 2>&1 || true
        before=$(cpu_of "$sid")
        taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$seconds" -c "$clients" -q "$outstanding" \
            > "$work/$target-$rep.txt" 2>&1
        after=$(cpu_of "$sid")
        kill -- "-$sid" 2>/dev/null || true
        wait "$sid" 2>/dev/null || true
        qps=$(awk '/Queries per second/ { print $4 }' "$work/$target-$rep.txt")
        completed=$(awk '/Queries completed/ { print $3 }' "$work/$target-$rep.txt")
        lost=$(awk '/Queries lost/ { print $3 }' "$work/$target-$rep.txt")
        cpu_us=$(python3 -c "print(round(($after - $before) * 1e6 / max(1, $completed), 2))")
        printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$rep" "$qps" "$cpu_us" "$lost" | tee -a "$results"
    done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
by = {}
for t, rep, qps, cpu, lost in rows:
    by.setdefault(t, []).append((float(qps), float(cpu), int(lost)))
med = {t: (statistics.median(q for q, _, _ in v), statistics.median(c for _, c, _ in v), sum(l for _, _, l in v)) for t, v in by.items()}
peers = [t for t in med if t != "haven"]
best = max(peers, key=lambda t: med[t][0]) if peers else None
print("\n| target | queries/s (median) | ratio to %s | server CPU µs/query | CPU ratio to %s | lost |" % (best, best))
print("|---|---:|---:|---:|---:|---:|")
for t, (q, c, l) in med.items():
    rq = q / med[best][0] if best else 1
    rc = c / med[best][1] if best and med[best][1] else 1
    print(f"| {t} | {q:,.0f} | {rq:.2f} | {c:.2f} | {rc:.2f} | {l} |")
EOF
echo "raw results: $results"
