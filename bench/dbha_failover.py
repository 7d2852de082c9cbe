#!/usr/bin/python3
"""Database failover drill: haven beside HAProxy's Patroni recipe in front of the same real
Patroni cluster (3 nodes, etcd, PostgreSQL 15; tests/integration/patroni_procs.py), a write loop
and a read loop through each proxy at once, the leader killed (or switched over) mid-run.

Proxies (checks every 500 ms, fast 250 ms, down 500 ms, fall 2, rise 1 for all):
  haproxy   docs of ../shared/dbha: `option httpchk OPTIONS /primary` (and /replica),
            `on-marked-down shutdown-sessions`, `check port REST`
  haven     role: primary / replica pools with the same REST checks (plus haven's connect to
            PostgreSQL's own port, on by default with a role)
  haven-pg  the same pools with haven's native postgres check (libpq: pg_is_in_recovery())

Scenarios: crash — kill -9 of the leader's Patroni and PostgreSQL (a node crash; Patroni's ttl
10 s bounds it); switchover — POST /switchover to a replica. Reported per scenario and proxy over
--runs runs: kill -> first write acknowledged by the new leader through the proxy (median, max),
failed writes, and reads answered / failed through the replica port in the 15 s after the kill.

usage: /usr/bin/python3 bench/dbha_failover.py [--runs 5] [--scenarios crash switchover]
       HAVEN_BIN=path (default build/release/haven). Run as root (PostgreSQL runs as postgres).
Bounded: every wait has a deadline; every process started is stopped.
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("HAVEN_BIN", os.path.join(HERE, "..", "build", "release", "haven"))
import harness  # noqa: E402
from harness import Haven, Proc, free_port, make_config  # noqa: E402
from patroni_procs import PatroniCluster  # noqa: E402
from pg_procs import WriteLoop, query  # noqa: E402

CHECK = {"interval": "500ms", "timeout": "500ms", "fast_interval": "250ms", "down_interval": "500ms",
         "fall": 2, "rise": 1}


def haven_config(cluster, native):
    def pool(role, path):
        servers = [{"name": n.name, "address": f"127.0.0.1:{n.pg_port}"} for n in cluster.nodes]
        if native:
            check = {"postgres": {"user": "postgres"}, **CHECK}
        else:
            check = {"http": {"method": "OPTIONS", "path": path}, **CHECK}
            for s, n in zip(servers, cluster.nodes):
                s["health_check"] = {"port": n.rest_port}
        return {"role": role, "health_check": check, "servers": servers}
    listeners = [{"name": "rw", "listen": "127.0.0.1:0", "mode": "tcp", "pool": "primary"},
                 {"name": "ro", "listen": "127.0.0.1:0", "mode": "tcp", "pool": "replicas"}]
    return make_config(pools={"primary": pool("primary", "/primary"), "replicas": pool("replica", "/replica")},
                       listeners=listeners, threads=1)


class HAProxy:
    def __init__(self, workdir, cluster):
        self.rw, self.ro = free_port(), free_port()
        lines = ["global", "    maxconn 500", "defaults", "    mode tcp", "    retries 2", "    timeout connect 2s",
                 "    timeout client 30m", "    timeout server 30m", "    timeout check 500ms"]
        for name, port, path, balance in (("primary", self.rw, "/primary", ""), ("replicas", self.ro, "/replica",
                                                                                  "    balance roundrobin")):
            lines += [f"listen {name}", f"    bind 127.0.0.1:{port}"] + ([balance] if balance else []) + [
                f"    option httpchk OPTIONS {path}", "    http-check expect status 200",
                "    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 1 "
                "on-marked-down shutdown-sessions"]
            lines += [f"    server {n.name} 127.0.0.1:{n.pg_port} maxconn 100 check port {n.rest_port}"
                      for n in cluster.nodes]
        cfg = os.path.join(workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = Proc(["haproxy", "-db", "-f", cfg], workdir, "haproxy")

    def close(self):
        self.proc.kill()


class ReadLoop:
    """SELECT 1 through `port` every 50 ms (a new connection each time) from start() to stop()."""

    def __init__(self, port):
        self.port, self.ok, self.failed, self.stop = port, 0, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = time.monotonic() + 60
        while not self.stop and time.monotonic() < deadline:
            if query(self.port, "SELECT 1", timeout=1) == 1:
                self.ok += 1
            else:
                self.failed += 1
            time.sleep(0.05)

    def finish(self):
        self.stop = True
        self.thread.join(timeout=5)


def one_run(cluster, proxies, scenario, run):
    cluster.wait_ready(90)
    old = cluster.leader()
    loops = {name: WriteLoop(rw, duration=60, first_id=(run * 10 + i + 1) * 10**9)
             for i, (name, (rw, _)) in enumerate(proxies.items())}
    for lp in loops.values():
        harness.wait_until(lambda: len(lp.acked) >= 10, 15, what="writes through each proxy")
    reads = {name: ReadLoop(ro) for name, (_, ro) in proxies.items()}
    t0 = time.monotonic()
    if scenario == "crash":
        old.kill()
    else:
        cluster.switchover(next(n for n in cluster.nodes if n is not old))
    deadline = t0 + 45
    while time.monotonic() < deadline and any(lp.first_ack_after(t0, old.pg_port) is None for lp in loops.values()):
        time.sleep(0.05)
    time.sleep(max(0.0, t0 + 15 - time.monotonic()))
    out = {}
    for name, lp in loops.items():
        lp.finish()
        reads[name].finish()
        first = lp.first_ack_after(t0, old.pg_port)
        out[name] = {"first_write": None if first is None else first - t0, "failed": len(lp.failures),
                     "reads_ok": reads[name].ok, "reads_failed": reads[name].failed}
    if scenario == "crash":
        old.start()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", nargs="+", default=["crash", "switchover"])
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="haven-dbha-bench-")
    cluster = PatroniCluster(nodes=3)
    started = []
    try:
        hp = HAProxy(workdir, cluster)
        started.append(hp)
        proxies = {"haproxy": (hp.rw, hp.ro)}
        for name, native in (("haven", False), ("haven-pg", True)):
            h = Haven(workdir, haven_config(cluster, native), name=name)
            started.append(h.proc)
            proxies[name] = (h.port("rw"), h.port("ro"))
        for name, (rw, _) in proxies.items():
            harness.wait_until(lambda: query(rw, "SELECT 1") == 1, 20, what=f"{name} routes writes")
        results = {}
        for scenario in args.scenarios:
            for run in range(args.runs):
                r = one_run(cluster, proxies, scenario, run + (0 if scenario == "crash" else 100))
                print(f"{scenario} run {run + 1}: " + ", ".join(
                    f"{n} {v['first_write']:.2f}s/{v['failed']} failed" if v["first_write"] is not None else f"{n} none"
                    for n, v in r.items()), flush=True)
                for n, v in r.items():
                    results.setdefault((scenario, n), []).append(v)
        print("\n| scenario | proxy | kill -> first write (median, max) | failed writes (median) | reads ok / failed (15 s) |")
        print("|---|---|---|---|---|")
        for (scenario, name), vs in results.items():
            fw = [v["first_write"] for v in vs if v["first_write"] is not None]
            print(f"| {scenario} | {name} | {statistics.median(fw):.2f} s, {max(fw):.2f} s | "
                  f"{statistics.median(v['failed'] for v in vs):.0f} | "
                  f"{sum(v['reads_ok'] for v in vs)} / {sum(v['reads_failed'] for v in vs)} |"
                  if fw else f"| {scenario} | {name} | none | | |")
    finally:
        for s in started:
            (s.close if hasattr(s, "close") else s.kill)()
        cluster.close()


if __name__ == "__main__":
    main()
