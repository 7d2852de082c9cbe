#!/usr/bin/env python3
"""Failover drill: haven beside HAProxy (plain and tuned) under closed-loop load, a server killed
with SIGKILL mid-run and restarted.

Scenarios (each proxy in turn, against fresh `haven demo-backend` servers):
  A  three active servers s1 s2 s3; s2 is killed, then restarted
  B  one active server `primary` and a `backup`; the primary is killed, then restarted
Load: C closed-loop keep-alive connections (C in --conns, default 1 4 50 400), each sending its
next GET as soon as the previous answer arrived (tests/integration/closed_loop.py).

The proxies, configured as the report that found haven losing requests configured them (one
thread each; checks every 1 s, fall 2, rise 2; 2 retries on every retryable failure):
  haven          `retries: 2`, `retry_on` every retryable failure, `health_check: { interval: 1s,
                 timeout: 500ms, fall: 2, rise: 2 }` — everything else default
  haproxy        `retries 2`, `option redispatch`, `retry-on all-retryable-errors`,
                 `check inter 1s fall 2 rise 2`
  haproxy-tuned  the same plus what an operator adds for fast failover: `option redispatch 1`
                 (redispatch on every retry), `fastinter 250ms downinter 500ms`,
                 `observe layer4 error-limit 1 on-error mark-down`
  haven-tuned    haven with the same check timings as haproxy-tuned: `fast_interval: 250ms`,
                 `down_interval: 500ms`

Phase: a kill and a restart fall at a random point of a proxy's check cycle in production. With
fixed phase lengths the drill would hit each proxy's cycle at the same point in every run (HAProxy
checks on a fixed grid from its start, so a restart 4.0 s after a kill lands at the same spot of a
500 ms downinter grid every time). So each run adds a random 0 to 1 s to the time before the kill
and to the time down; one seeded draw per run, the same for every proxy (--seed; --fixed-phase
turns it off).

Reported per (scenario, connections, proxy), over --runs runs (default 5): failed requests
(anything but 2xx, and connection errors), the longest gap between two 2xx answers, kill -> the
backup serves (scenario B), restart -> the restarted server serves again. Prints markdown.

usage: failover_drill.py [--conns 1 4 50 400] [--runs 5] [--scenarios A B]
       [--proxies haven haproxy haven-tuned haproxy-tuned] [--before 2] [--down 4] [--after 4]
       [--seed 1] [--fixed-phase]
       HAVEN_BIN=path (default build/release/haven; use a copy if you rebuild meanwhile)
Bounded: every phase has a fixed length (plus at most 1 s); every process started is stopped.
"""
import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from closed_loop import ClosedLoop  # noqa: E402

HAVEN = os.environ.get("HAVEN_BIN", os.path.join(HERE, "..", "build", "release", "haven"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} did not open")


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args):
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self.procs.clear()


def backend(procs, name, port):
    p = procs.start([HAVEN, "demo-backend", "--listen", f"127.0.0.1:{port}", "--name", name])
    wait_port(port)
    return p


def haproxy_config(port, servers, tuned):
    extra = " fastinter 250ms downinter 500ms observe layer4 error-limit 1 on-error mark-down" if tuned else ""
    lines = [f"    server {name} 127.0.0.1:{p} check inter 1s fall 2 rise 2{extra}{' backup' if backup else ''}"
             for name, p, backup in servers]
    return "\n".join([
        "global", "    nbthread 1",
        "defaults", "    mode http", "    option http-keep-alive", "    timeout connect 1s",
        "    timeout client 30s", "    timeout server 30s",
        "frontend fe", f"    bind 127.0.0.1:{port}", "    default_backend be",
        "backend be", "    option httpchk GET /health",
        "    option redispatch 1" if tuned else "    option redispatch",
        "    retries 2", "    retry-on all-retryable-errors", *lines, ""])


def haven_config(port, servers, tuned=False):
    lines = [f"      - {{ name: {name}, address: 127.0.0.1:{p}{', backup: true' if backup else ''} }}"
             for name, p, backup in servers]
    return "\n".join([
        "threads: 1",
        "listeners:", f"  - {{ name: drill, listen: 127.0.0.1:{port}, mode: http, pool: be }}",
        "pools:", "  - name: be",
        "    retries: 2", "    retry_on: [connect-failure, reset, timeout, 500, 502, 503, 504]",
        "    health_check: { http: { path: /health }, interval: 1s, timeout: 500ms, fall: 2, rise: 2"
        + (", fast_interval: 250ms, down_interval: 500ms }" if tuned else " }"),
        "    servers:", *lines, ""])


SCENARIOS = {
    # servers (name, backup), the victim, the server that takes over (B only)
    "A": ([("s1", False), ("s2", False), ("s3", False)], "s2", None),
    "B": ([("primary", False), ("backup", True)], "primary", "backup"),
}


def first_ok_from(outcomes, after, name):
    done = [o.sent for o in outcomes if o.sent >= after and o.status // 100 == 2 and o.backend == name]
    return min(done) - after if done else None


def one_run(proxy, scenario, conns, a, work, shift=(0.0, 0.0)):
    servers, victim, takeover = SCENARIOS[scenario]
    procs = Procs()
    try:
        ports = {name: free_port() for name, _ in servers}
        for name, _ in servers:
            backend(procs, name, ports[name])
        spec = [(name, ports[name], backup) for name, backup in servers]
        port = free_port()
        if proxy.startswith("haven"):
            path = os.path.join(work, "haven.yaml")
            with open(path, "w") as f:
                f.write(haven_config(port, spec, proxy == "haven-tuned"))
            procs.start([HAVEN, "run", "-c", path, "--log-level", "warn"])
        else:
            path = os.path.join(work, "haproxy.cfg")
            with open(path, "w") as f:
                f.write(haproxy_config(port, spec, proxy == "haproxy-tuned"))
            procs.start(["haproxy", "-db", "-f", path])
        wait_port(port)
        time.sleep(2.5)  # every proxy sees every server up (rise 2 at 1 s for HAProxy)
        before, down = a.before + shift[0], a.down + shift[1]
        load = ClosedLoop(port, conns, duration=before + down + a.after, timeout=5.0)
        time.sleep(before)
        vp = next(p for p in procs.procs if p.args[-1] == victim)
        os.killpg(vp.pid, signal.SIGKILL)
        vp.wait()
        t_kill = time.monotonic()
        time.sleep(down)
        t_restart = time.monotonic()
        backend(procs, victim, ports[victim])
        out = load.finish()
        return {
            "requests": len(out),
            "failed": len(load.failures()),
            "gap": load.longest_gap(),
            "takeover": first_ok_from(out, t_kill, takeover) if takeover else None,
            "back": first_ok_from(out, t_restart, victim),
        }
    finally:
        procs.stop_all()


def fmt_s(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return "—"
    never = len(values) - len(vals)
    text = f"{statistics.median(vals):.2f} s ({min(vals):.2f}–{max(vals):.2f})"
    return text + (f", never in {never}" if never else "")


def main():
    # A SIGTERM (e.g. from `timeout`) unwinds like an exception, so every run's `finally` stops
    # the processes it started instead of leaving them behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, nargs="+", default=[1, 4, 50, 400])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scenarios", nargs="+", default=["A", "B"], choices=sorted(SCENARIOS))
    ap.add_argument("--proxies", nargs="+", default=["haven", "haproxy", "haven-tuned", "haproxy-tuned"],
                    choices=["haven", "haproxy", "haven-tuned", "haproxy-tuned"])
    ap.add_argument("--before", type=float, default=2.0)
    ap.add_argument("--down", type=float, default=4.0)
    ap.add_argument("--after", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fixed-phase", action="store_true", help="no random 0-1 s added to the phases")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="failover-drill.")
    print(f"# failover_drill.py --conns {' '.join(map(str, a.conns))} --runs {a.runs} "
          f"--before {a.before} --down {a.down} --after {a.after}"
          f"{' --fixed-phase' if a.fixed_phase else f' --seed {a.seed}'}  ({time.strftime('%Y-%m-%d', time.gmtime())})")
    print("| scenario | conns | proxy | requests (median) | failed: median (max) | failed per run | "
          "longest 2xx gap | kill -> backup serves | restart -> serving again |")
    print("|---|---:|---|---:|---:|---|---:|---:|---:|")
    pooled = {p: [] for p in a.proxies}  # restart -> serving, every run of a proxy
    for scenario in a.scenarios:
        for conns in a.conns:
            results = {p: [] for p in a.proxies}
            for _ in range(a.runs):  # interleaved, so drift hits every proxy alike
                shift = (0.0, 0.0) if a.fixed_phase else (rng.random(), rng.random())
                for proxy in a.proxies:
                    results[proxy].append(one_run(proxy, scenario, conns, a, work, shift))
            for proxy, rs in results.items():
                failed = [r["failed"] for r in rs]
                print(f"| {scenario} | {conns} | {proxy} | {statistics.median(r['requests'] for r in rs):.0f} | "
                      f"{statistics.median(failed):.0f} ({max(failed)}) | {' '.join(map(str, failed))} | "
                      f"{fmt_s([r['gap'] for r in rs])} | "
                      f"{fmt_s([r['takeover'] for r in rs]) if scenario == 'B' else '—'} | "
                      f"{fmt_s([r['back'] for r in rs])} |", flush=True)
                pooled[proxy] += [r["back"] for r in rs]
    # The restart -> serving time does not depend on the load: pooled over every scenario and
    # concurrency, each proxy's median rests on many runs instead of five.
    print("\n| proxy | runs | restart -> serving again, all runs: median (min-max) |\n|---|---:|---:|")
    for proxy, vals in pooled.items():
        print(f"| {proxy} | {len(vals)} | {fmt_s(vals)} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
