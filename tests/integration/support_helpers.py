"""Helpers shared by test_retry_rules.py, test_upstream_keepalive.py, test_admin_auth.py and
test_checks_and_outliers.py (kept apart from harness.py, which other changes touch).

  * admin(), pools(), server_view(), api_events()   the admin API as a test reads it
  * KeepAliveServer   a TinyServer-style HTTP/1.1 keep-alive responder that records when each
                      connection opens and when the peer (haven) closes it
  * PortListener      a listening socket that can be closed and opened again on the same port
  * start_haven_unready()   haven started without waiting for "haven ready"
  * NetNamespace      a network namespace joined to the host by a veth pair, always removed

Standard library only; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from harness import _LISTENING, HAVEN_BIN, Haven, Proc, RequestReader, http_request, scaled, wait_until

# --------------------------------------------------------------------------------------------
# The admin API


def admin(haven, method, path, body=None, token=None, headers=None, port=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    return http_request(port or haven.admin_port(), method, path, body=body, headers=h)


def pools(haven) -> list:
    r = admin(haven, "GET", "/api/pools")
    assert r.status == 200, r
    return r.json()["pools"]


def server_view(haven, pool: str, server: str) -> dict:
    for p in pools(haven):
        if p["name"] == pool:
            for s in p["servers"]:
                if s["name"] == server:
                    return s
    raise AssertionError(f"no server {pool}/{server} in /api/pools")


def states(haven, pool: str) -> dict:
    """{server name: state} of one pool, from /api/pools."""
    for p in pools(haven):
        if p["name"] == pool:
            return {s["name"]: s["state"] for s in p["servers"]}
    raise AssertionError(f"no pool {pool} in /api/pools")


def api_events(haven, kind: str | None = None) -> list:
    r = admin(haven, "GET", "/api/events")
    assert r.status == 200, r
    ev = r.json()["events"]
    return [e for e in ev if kind is None or e["kind"] == kind]


# --------------------------------------------------------------------------------------------
# A keep-alive HTTP server that shows its connections


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1:0: answers every request `200` with body `conn N request M` (header
    `X-Conn: N`; a target `/sleep/MS` answers after MS milliseconds) and keeps
    the connection open until the peer closes it. Records, per connection, when it was accepted
    and when the peer closed it (EOF), so a test can see haven's upstream connections directly."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.opened: list[float] = []          # accept time per connection
        self.closed: dict[int, float] = {}     # connection index -> time the peer closed it
        self.served: list[int] = []            # connection index per request, in order
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(60)
            with self.lock:
                index = len(self.opened)
                self.opened.append(time.monotonic())
                self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            t.start()
            with self.lock:
                self.threads.append(t)

    def _serve(self, conn, index):
        reader = RequestReader(conn)
        n = 0
        try:
            while True:
                req = reader.read_head()
                if req is None:
                    break
                reader.read_body(req[2])
                if req[1].startswith("/sleep/"):  # /sleep/MS: answer after MS milliseconds
                    time.sleep(int(req[1].rsplit("/", 1)[1]) / 1000)
                n += 1
                with self.lock:
                    self.served.append(index)
                body = f"conn {index} request {n}".encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Conn: %d\r\n\r\n" % (len(body), index) + body)
        except OSError:
            pass
        finally:
            with self.lock:
                self.closed.setdefault(index, time.monotonic())
            try:
                conn.close()
            except OSError:
                pass

    def connections(self) -> int:
        with self.lock:
            return len(self.opened)

    def closed_count(self) -> int:
        with self.lock:
            return len(self.closed)

    def close(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns, threads = list(self.conns), list(self.threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)
        for t in threads:
            t.join(timeout=5)


# --------------------------------------------------------------------------------------------
# A port that can stop and start listening


class PortListener:
    """Listens on 127.0.0.1 (port 0 the first time), accepting and closing every connection — all
    a TCP health check needs. stop() closes the port (connects are refused), start() listens on
    the same port again."""

    def __init__(self, port: int = 0):
        self.port = port
        self.sock = None
        self.thread = None
        self.accepted = 0
        self.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        assert self.sock is None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.1)
        self.port = s.getsockname()[1]
        self.sock = s
        self.running = threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self._loop, args=(s, self.running), daemon=True)
        self.thread.start()

    def _loop(self, s, running):
        while running.is_set():
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            c.close()

    def stop(self):
        if self.sock is None:
            return
        self.running.clear()
        self.thread.join(timeout=5)
        self.sock.close()
        self.sock = None

    def close(self):
        self.stop()


# --------------------------------------------------------------------------------------------
# haven before it is ready


def start_haven_unready(spawn, config, name: str = "haven-unready") -> Haven:
    """Starts haven without waiting for `haven ready` (Haven.start would). The Haven is registered
    with the spawner, so teardown stops it like any other. Call finish_start() later."""
    h = Haven(spawn.workdir, config, name=name, start=False)
    spawn.items.append(h)
    h.proc = Proc([HAVEN_BIN, "run", "-c", h.config_path, "--log-level", h.log_level], spawn.workdir, name)
    return h


def finish_start(h: Haven, timeout: float = 15.0):
    """Waits for `haven ready` and reads the listener ports, as Haven.start does."""
    h.proc.wait_for(r"haven ready", scaled(timeout))
    for m in _LISTENING.finditer(h.proc.output()):
        h.ports[m.group(1)] = int(m.group(3))


# --------------------------------------------------------------------------------------------
# A network namespace for a client with a non-loopback address


class NetNamespace:
    """`ip netns add NAME` plus a veth pair: HOST_IP on the host side, NS_IP inside. Both are
    addresses of a /30 in 10.253.0.0/16 that nothing else on the machine uses; no route, no
    forwarding, so traffic stays between the two ends. remove() deletes the namespace, which
    deletes the veth pair with it."""

    def __init__(self):
        tag = os.getpid() % 60000
        self.name = f"havtest{tag}"
        self.host_if, self.ns_if = f"hvt{tag}a", f"hvt{tag}b"
        third = tag % 250
        self.host_ip, self.ns_ip = f"10.253.{third}.1", f"10.253.{third}.2"
        self.created = False

    @staticmethod
    def available() -> str | None:
        """None when namespaces can be made here, else the reason they cannot."""
        if os.geteuid() != 0:
            return "not root: cannot create a network namespace"
        if not shutil.which("ip"):
            return "no `ip` command (iproute2)"
        return None

    def _ip(self, *args):
        out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")

    def create(self):
        routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, timeout=20).stdout
        assert "10.253." not in routes, f"10.253.0.0/16 is already routed here:\n{routes}"
        self._ip("netns", "add", self.name)
        self.created = True
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self._ip("link", "set", self.ns_if, "netns", self.name)
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        self._ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
        self._ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")

    def remove(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)
            self.created = False
        # The veth pair goes with the namespace; delete the host end in case creation stopped half-way.
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=20)

    def http_get(self, host: str, port: int, path: str, token: str | None = None) -> tuple[int, str, dict]:
        """A GET run by a Python client inside the namespace: (status, body, headers)."""
        script = (
            "import http.client, json, sys\n"
            "host, port, path, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]\n"
            "c = http.client.HTTPConnection(host, port, timeout=10)\n"
            "c.request('GET', path, headers={'Authorization': 'Bearer ' + token} if token else {})\n"
            "r = c.getresponse()\n"
            "print(json.dumps({'status': r.status, 'body': r.read().decode('utf-8', 'replace'),\n"
            "                  'headers': dict(r.getheaders())}))\n")
        out = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", script,
                              host, str(port), path, token or ""],
                             capture_output=True, text=True, timeout=scaled(30))
        assert out.returncode == 0, out.stderr
        d = json.loads(out.stdout)
        return d["status"], d["body"], d["headers"]


def wait_state(haven, pool: str, server: str, state: str, timeout: float, what: str | None = None):
    return wait_until(lambda: server_view(haven, pool, server)["state"] == state, scaled(timeout), interval=0.05,
                      what=what or f"{pool}/{server} {state}")
