#!/usr/bin/env python3
"""Failover drill: haven beside HAProxy, configured the same way, under the same steady load.

Two demo backends, `primary` and `backup`. HAProxy: `option httpchk GET /health`, `check inter 1s
fall 2 rise 2`, `option redispatch`, `retries 2`, `retry-on all-retryable-errors`, the second server
`backup`. haven: health_check every 1s (fall 2, rise 2, no jitter), retries 2 on every retryable
failure, the second server `backup: true`. Each proxy gets GETs from its own client thread at a
fixed rate (one keep-alive connection, reconnecting after an error).

The drill: run steadily, kill -9 the primary, wait, restart it, wait. Reported per proxy:
  (a) client-visible errors (anything but 200, and connection errors),
  (b) seconds from the kill until the backup serves (first response from `backup`),
  (c) seconds from the restart until traffic returns (first response from `primary` again).

usage: failover_drill.py [--rate 50] [--before 3] [--down 8] [--after 8]
Bounded: every phase has a fixed length, every request a timeout; all processes are stopped.
"""
import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
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
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, **kw)
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


def backend(procs, name, port):
    p = procs.start([HAVEN, "demo-backend", "--listen", f"127.0.0.1:{port}", "--name", name])
    wait_port(port)
    return p


def haproxy_config(port, primary, backup):
    return f"""global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    option httpchk GET /health
    option redispatch
    retries 2
    retry-on all-retryable-errors
    server primary 127.0.0.1:{primary} check inter 1s fall 2 rise 2
    server backup 127.0.0.1:{backup} check inter 1s fall 2 rise 2 backup
"""


def haven_config(port, primary, backup):
    return f"""threads: 1
listeners:
  - {{ name: drill, listen: 127.0.0.1:{port}, mode: http, pool: be }}
pools:
  - name: be
    health_check:
      http: {{ path: /health }}
      interval: 1s
      fast_interval: 1s
      down_interval: 1s
      timeout: 900ms
      fall: 2
      rise: 2
      jitter: 0%
      initial: up
    retries: 2
    retry_on: [connect-failure, reset, timeout, 500, 502, 503, 504]
    servers:
      - {{ name: primary, address: 127.0.0.1:{primary} }}
      - {{ name: backup, address: 127.0.0.1:{backup}, backup: true }}
timeouts: {{ connect: 1s, server: 30s }}
"""


class Client(threading.Thread):
    """GETs at a fixed rate; records (time, status or None, backend name)."""

    def __init__(self, port, rate, stop):
        super().__init__(daemon=True)
        self.port, self.period, self.stop = port, 1.0 / rate, stop
        self.log = []

    def run(self):
        conn = None
        next_at = time.monotonic()
        while not self.stop.is_set():
            next_at += self.period
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                self.log.append((time.monotonic(), r.status, r.getheader("X-Backend")))
                if r.status != 200:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                self.log.append((time.monotonic(), None, None))
                if conn:
                    conn.close()
                conn = None
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def first_after(log, t, name):
    for when, status, who in log:
        if when >= t and status == 200 and who == name:
            return when - t
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--before", type=float, default=3)
    ap.add_argument("--down", type=float, default=8)
    ap.add_argument("--after", type=float, default=8)
    a = ap.parse_args()
    procs = Procs()
    work = tempfile.mkdtemp(prefix="failover-drill.")
    try:
        pport, bport, hport, xport = free_port(), free_port(), free_port(), free_port()
        primary = backend(procs, "primary", pport)
        backend(procs, "backup", bport)
        with open(os.path.join(work, "haproxy.cfg"), "w") as f:
            f.write(haproxy_config(hport, pport, bport))
        with open(os.path.join(work, "haven.yaml"), "w") as f:
            f.write(haven_config(xport, pport, bport))
        procs.start(["haproxy", "-db", "-f", os.path.join(work, "haproxy.cfg")])
        procs.start([HAVEN, "run", "-c", os.path.join(work, "haven.yaml"), "--log-level", "warn"])
        wait_port(hport)
        wait_port(xport)
        time.sleep(2.5)  # both proxies see the primary up
        stop = threading.Event()
        clients = {"haproxy": Client(hport, a.rate, stop), "haven": Client(xport, a.rate, stop)}
        for c in clients.values():
            c.start()
        time.sleep(a.before)
        t_kill = time.monotonic()
        os.killpg(primary.pid, signal.SIGKILL)
        time.sleep(a.down)
        t_restart = time.monotonic()
        backend(procs, "primary", pport)
        time.sleep(a.after)
        stop.set()
        for c in clients.values():
            c.join(timeout=10)
        print(f"# failover_drill.py rate={a.rate}/s before={a.before}s down={a.down}s after={a.after}s "
              f"{time.strftime('%Y-%m-%d', time.gmtime())}")
        print("| proxy | requests | client-visible errors | backup serves after kill (s) | "
              "primary serves again after restart (s) |")
        print("|---|---:|---:|---:|---:|")
        for name, c in clients.items():
            errors = sum(1 for _, status, _ in c.log if status != 200)
            to_backup = first_after(c.log, t_kill, "backup")
            back = first_after(c.log, t_restart, "primary")
            fmt = lambda v: "never" if v is None else f"{v:.2f}"
            print(f"| {name} | {len(c.log)} | {errors} | {fmt(to_backup)} | {fmt(back)} |")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
