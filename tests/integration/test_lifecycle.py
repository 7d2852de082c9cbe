"""Process life cycle: graceful shutdown, `haven check`, the command line, start-up failures,
`haven demo`, the access log and hot reload (SIGHUP)."""

import collections
import glob
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from harness import (HAVEN_BIN, SOURCE_DIR, Deadline, IncompleteResponse, Proc, RawClient, RequestReader,
                     children_of, echo_handler,
                     echo_headers, free_port, header_values, http_request, make_config, port_accepts,
                     process_running, request_bytes, scaled, wait_until)


def run_cli(*args, timeout=20):
    return subprocess.run([HAVEN_BIN, *map(str, args)], capture_output=True, text=True, timeout=scaled(timeout),
                          stdin=subprocess.DEVNULL)


def wait_backend_requests(backend, n, timeout=10):
    """Waits until the backend has received n more requests than when `backend._mark` was set
    (each /stats poll counts as a request and is subtracted)."""
    polls = [0]

    def arrived():
        polls[0] += 1
        return backend.stats()["requests"] - backend._mark - polls[0] >= n

    wait_until(arrived, scaled(timeout), interval=0.05, what=f"{n} requests at {backend.name}")


def mark(backend):
    backend._mark = backend.stats()["requests"]


# --- haven check -----------------------------------------------------------------------------

EXAMPLES = sorted(glob.glob(str(SOURCE_DIR / "examples" / "*.yaml")))


def test_examples_exist():
    assert EXAMPLES, f"no examples in {SOURCE_DIR / 'examples'}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_check_accepts_every_example(path):
    r = run_cli("check", "-c", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout
    assert r.stderr == ""


def test_check_summarises_regions_dns_listeners_and_every_record_set():
    r = run_cli("check", "-c", str(SOURCE_DIR / "examples" / "dns.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "  region eu  1 endpoint(s), up while at least 1 are up  clients 10.1.0.0/16 127.0.0.0/8" in out, out
    assert "  dns listener main  127.0.0.1:5353 (udp and tcp)" in out, out
    assert re.search(r"^  zone example\.com  ttl 1h  \d+ record set\(s\)$", out, re.M), out
    assert ("    app.example.com A failover  ttl 5s  primary 127.0.0.2 [region eu], secondary 127.0.0.3 [region us]"
            in out), out
    assert "    example.com MX simple  ttl 1h  10 mail [always]" in out, out


BASE = """listeners:
  - name: web
    listen: 127.0.0.1:0
    pool: p
pools:
  - name: p
    servers: [ { address: 127.0.0.1:1 } ]
"""

# Each bad config marks the line the error belongs to with "#<".
BAD_CONFIGS = {
    "yaml_syntax": "listeners:\n  - name: web\n    listen: [127.0.0.1:0  #<\npools: []\n",
    "unknown_top_level_key": BASE + "bogus: 1  #<\n",
    "unknown_listener_key": BASE.replace("pool: p\npools", "pool: p\n    colour: red  #<\npools"),
    "bad_balance": BASE.replace("  - name: p\n", "  - name: p\n    balance: fastest  #<\n"),
    "undefined_pool": BASE.replace("    pool: p\n", "    routes:\n      - pool: nope  #<\n"),
    "tcp_with_routes": BASE.replace("    pool: p\n", "    mode: tcp\n    pool: p\n    routes:\n      - pool: p  #<\n"),
    "bad_duration": BASE + "timeouts:\n  connect: 5 parsecs  #<\n",
    "address_without_port": BASE.replace("listen: 127.0.0.1:0", "listen: 127.0.0.1  #<"),
    "port_out_of_range": BASE.replace("listen: 127.0.0.1:0", "listen: 127.0.0.1:70000  #<"),
    "duplicate_listener": BASE.replace("pools:", "  - name: web  #<\n    listen: 127.0.0.1:0\n    pool: p\npools:"),
    "weight_too_big": BASE.replace("servers: [ { address: 127.0.0.1:1 } ]",
                                   "servers:\n      - { address: 127.0.0.1:1, weight: 300 }  #<"),
    "bad_hash_on": BASE.replace("  - name: p\n", "  - name: p\n    balance: hash\n    hash_on: moon  #<\n"),
    "negative_threads": "threads: -1  #<\n" + BASE,
    "zero_max_connections": BASE + "limits:\n  max_connections: 0  #<\n",
    "tls_unknown_key": BASE.replace("pool: p\npools", "pool: p\n    tls:\n      colour: red  #<\n"
                                    "      cert: /nonexistent/site.pem\n      key: /nonexistent/site.key\npools"),
    "tls_bad_min_version": BASE.replace("pool: p\npools", "pool: p\n    tls:\n      min_version: \"1.1\"  #<\n"
                                        "      cert: /nonexistent/site.pem\n      key: /nonexistent/site.key\npools"),
    "tls_unreadable_cert": BASE.replace("pool: p\npools", "pool: p\n    tls:\n      cert: /nonexistent/site.pem  #<\n"
                                        "      key: /nonexistent/site.key\npools"),
    "tls_pool_unknown_key": BASE.replace("  - name: p\n", "  - name: p\n    tls: { verify: true, sni: x }  #<\n"),
    "default_route_not_last": BASE.replace(
        "    pool: p\n", "    routes:\n      - pool: p  #<\n      - match: { path: /x }\n        pool: p\n"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_check_rejects_bad_config_with_location(tmp_path, name):
    text = BAD_CONFIGS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    marked = next(i + 1 for i, ln in enumerate(text.splitlines()) if "#<" in ln)
    r = run_cli("check", "-c", path)
    assert r.returncode == 1, r.stdout + r.stderr
    out = (r.stderr + r.stdout).strip()
    errors = [ln for ln in out.splitlines() if ln.startswith(str(path) + ":")]
    assert errors, out
    m = re.match(re.escape(str(path)) + r":(\d+):(\d+): (.+)", errors[0])
    assert m, f"not FILE:LINE:COL: message: {errors[0]!r}"
    line, col = int(m.group(1)), int(m.group(2))
    slack = 1 if name == "yaml_syntax" else 0  # a syntax error may be noticed on the next line
    assert marked <= line <= marked + slack, f"error at line {line}, expected {marked}: {errors[0]}"
    assert col >= 1
    assert len(m.group(3)) > 5


def test_check_missing_file(tmp_path):
    r = run_cli("check", "-c", tmp_path / "absent.yaml")
    assert r.returncode == 1
    assert "absent.yaml" in r.stderr + r.stdout


def test_run_refuses_bad_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIGS["bad_balance"])
    r = run_cli("run", "-c", path)
    assert r.returncode == 1
    assert re.search(re.escape(str(path)) + r":\d+:\d+: ", r.stderr + r.stdout)


# --- command line ----------------------------------------------------------------------------

def test_version():
    r = run_cli("version")
    assert r.returncode == 0
    assert re.fullmatch(r"haven \d+\.\d+\.\d+\n", r.stdout), r.stdout


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["check", "--help"], ["demo", "--help"],
                                  ["demo-backend", "--help"], ["version", "--help"]],
                         ids=lambda a: " ".join(a))
def test_help(args):
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout


def test_top_level_help_lists_subcommands():
    out = run_cli("--help").stdout
    for sub in ("run", "check", "demo", "demo-backend", "version"):
        assert re.search(rf"^\s+{re.escape(sub)}\s", out, re.M), f"{sub} missing from --help"


@pytest.mark.parametrize("args", [[], ["bogus"], ["run"], ["run", "--bogus"], ["check"], ["version", "--bogus"],
                                  ["demo-backend"], ["demo-backend", "--listen", "127.0.0.1:0", "--status", "999"],
                                  ["demo", "--backends", "0"]],
                         ids=lambda a: " ".join(a) or "no-args")
def test_usage_errors_exit_2(args):
    r = run_cli(*args)
    assert r.returncode == 2, f"rc={r.returncode}\n{r.stdout}{r.stderr}"
    assert r.stderr.strip(), "usage error without a message on stderr"


def test_run_with_port_in_use_exits_1(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        cfg = tmp_path / "busy.yaml"
        cfg.write_text(BASE.replace("127.0.0.1:0", f"127.0.0.1:{port}"))
        r = run_cli("run", "-c", cfg, timeout=20)
    finally:
        holder.close()
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert str(port) in out, out
    assert re.search(r"in use|EADDRINUSE", out, re.I), out
    assert "haven ready" not in out


# --- haven demo ------------------------------------------------------------------------------

def _start_demo(tmp_path, port):
    admin = free_port()
    proc = Proc([HAVEN_BIN, "demo", "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{admin}"],
                tmp_path, "demo")
    proc.wait_for(r"haven ready", scaled(20))
    proc.wait_for(r"Press Ctrl-C", scaled(5))
    # "haven ready" waits for the replicas only up to a bound; a loaded (ASan, parallel) run can
    # reach it with some backends still starting. Wait for all three to serve.
    wait_until(lambda: http_request(admin, "GET", "/api/pools/demo").json().get("serving") == 3, scaled(10),
               what="the demo's three backends serving")
    backends = {m.group(1): int(m.group(2))
                for m in re.finditer(r"^\s+(backend-\d+)\s+http://127\.0\.0\.1:(\d+)\s*$", proc.stdout(), re.M)}
    return proc, backends


def test_demo_serves_three_backends_and_stops_them(tmp_path):
    port = free_port()
    proc, backends = _start_demo(tmp_path, port)
    try:
        assert sorted(backends) == ["backend-1", "backend-2", "backend-3"], proc.stdout()
        kids = children_of(proc.pid)
        assert len(kids) == 3, kids
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
        try:
            seen = [http_request(port, "GET", "/", conn=conn) for _ in range(9)]
        finally:
            conn.close()
        assert all(r.status == 200 for r in seen)
        assert collections.Counter(r.header("X-Backend") for r in seen) == {
            "backend-1": 3, "backend-2": 3, "backend-3": 3}
        for name, bport in backends.items():  # the printed addresses are the backends
            assert http_request(bport, "GET", "/").header("X-Backend") == name

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=scaled(15)) == 0, proc.describe()
        wait_until(lambda: not any(process_running(k) for k in kids), scaled(5),
                   what="demo backends to exit")
        for bport in [port, *backends.values()]:
            assert not port_accepts(bport)
    finally:
        proc.kill()


def test_demo_backends_die_with_a_killed_demo(tmp_path):
    port = free_port()
    proc, backends = _start_demo(tmp_path, port)
    try:
        kids = children_of(proc.pid)
        assert len(kids) == 3
        os.kill(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=scaled(10))
        wait_until(lambda: not any(process_running(k) for k in kids), scaled(5),
                   what="orphaned demo backends to exit")
    finally:
        proc.kill()


def test_demo_with_busy_port_fails_cleanly(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    proc = Proc([HAVEN_BIN, "demo", "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{free_port()}"],
                tmp_path, "demo-busy")
    try:
        rc = proc.wait(timeout=scaled(15))
        kids = children_of(proc.pid)
    finally:
        proc.kill()
        holder.close()
    assert rc == 1, proc.describe()
    assert str(port) in proc.output() and re.search(r"in use", proc.output(), re.I)
    assert kids == [], "demo backends left running"


# --- access log ------------------------------------------------------------------------------

FIELDS = {"time", "client", "listener", "method", "path", "host", "status", "bytes_in", "bytes_out",
          "duration_ms", "pool", "server", "attempts", "tried", "flag", "request_id",
          "tls_version", "tls_cipher"}


@pytest.fixture
def logged(spawn, tmp_path):
    backend = spawn.backend("b1")
    dead = spawn.dead_port()
    log = tmp_path / "access.log"
    haven = spawn.haven(make_config(
        pools={"live": [{"name": "live1", "address": backend.address}],
               "dead": [{"name": "dead1", "address": dead.address}]},
        routes=[{"match": {"path_prefix": "/live"}, "pool": "live"},
                {"match": {"path_prefix": "/dead"}, "pool": "dead"},
                {"match": {"path_prefix": "/echo"}, "pool": "live"},
                {"match": {"path_prefix": "/delay"}, "pool": "live"}],
        timeouts={"server": "1s", "connect": "1s", "request_headers": "1s"},
        access_log=str(log)))
    return haven


def _record(haven, n, pred):
    recs = haven.access_log(min_lines=n)
    found = [r for r in recs if pred(r)]
    assert found, recs
    return found[-1]


def test_access_log_fields_and_flags(logged):
    haven = logged
    r = haven.request("POST", "/echo?x=1", body=b"hello", headers={"Host": "logged.test"})
    assert r.status == 200
    rid = header_values(echo_headers(r), "X-Request-Id")[0]
    assert haven.get("/nothing-here").status == 404
    assert haven.get("/dead").status == 502
    assert haven.get("/delay?ms=3000").status == 504
    recs = haven.access_log(min_lines=4)
    for rec in recs:
        assert set(rec) == FIELDS, sorted(set(rec) ^ FIELDS)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", rec["time"]), rec["time"]
        assert rec["client"] == "127.0.0.1"
        assert rec["listener"] == "web"
        for k in ("status", "bytes_in", "bytes_out", "attempts"):
            assert isinstance(rec[k], int), (k, rec)
        assert isinstance(rec["duration_ms"], (int, float)) and rec["duration_ms"] >= 0
        assert isinstance(rec["request_id"], str)
        assert rec["tls_version"] == rec["tls_cipher"] == ""  # a plain listener

    ok = _record(haven, 4, lambda x: x["path"].startswith("/echo"))
    assert (ok["status"], ok["method"], ok["flag"]) == (200, "POST", "-")
    assert re.fullmatch(r"[0-9a-f]{32}", ok["request_id"])
    assert ok["path"] == "/echo?x=1" and ok["host"] == "logged.test"
    assert (ok["pool"], ok["server"], ok["attempts"], ok["tried"]) == ("live", "live1", 1, "live1")
    assert ok["request_id"] == rid
    assert ok["bytes_in"] > 5  # head and body as received from the client
    assert ok["bytes_out"] > len(r.body)  # head and body as sent to the client

    nr = _record(haven, 4, lambda x: x["path"] == "/nothing-here")
    assert (nr["status"], nr["flag"]) == (404, "no route")
    assert nr["server"] in ("-", "", None) and nr["attempts"] == 0

    bad = _record(haven, 4, lambda x: x["path"] == "/dead")
    assert (bad["status"], bad["flag"], bad["pool"]) == (502, "upstream connect failure", "dead")
    assert "dead1" in bad["tried"]

    slow = _record(haven, 4, lambda x: x["path"].startswith("/delay"))
    assert (slow["status"], slow["flag"], slow["server"]) == (504, "upstream timeout", "live1")
    assert slow["duration_ms"] >= 900


def test_access_log_bad_request_and_request_timeout(logged):
    haven = logged
    with haven.raw() as c:
        c.send(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
        assert c.read_response().status == 400
    with haven.raw() as c:
        c.send(b"GET /live HTTP/1.1\r\nHo")
        assert c.read_response(timeout=10).status == 408
    recs = haven.access_log(min_lines=2)
    assert [(x["status"], x["flag"]) for x in recs] == [(400, "bad request"), (408, "request timeout")]
    for rec in recs:
        assert set(rec) == FIELDS


def test_access_log_one_line_per_pipelined_request(logged):
    haven = logged
    with haven.raw() as c:
        c.send(b"".join(request_bytes("GET", f"/live/{i}") for i in range(5)))
        for _ in range(5):
            assert c.read_response().status == 200
    recs = haven.access_log(min_lines=5)
    assert [x["path"] for x in recs] == [f"/live/{i}" for i in range(5)]
    assert len({x["request_id"] for x in recs}) == 5


def test_access_log_client_request_id_kept_for_local_reply(logged):
    haven = logged
    assert haven.get("/nothing-here", headers={"X-Request-Id": "client-id-7"}).status == 404
    rec = haven.access_log(min_lines=1)[-1]
    assert (rec["status"], rec["request_id"]) == (404, "client-id-7")


def _flag_handler(conn, server):
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    if req[1] == "/aborted":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
    elif req[1] == "/malformed":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    time.sleep(0.1)


def test_access_log_failure_flags(spawn, tmp_path):
    """One record per outcome, with the flag and status docs/access-log.md gives for it."""
    backend = spawn.backend("b1")
    odd = spawn.tiny(_flag_handler)
    echo = spawn.tiny(echo_handler)
    log = tmp_path / "flags.log"

    def listener(name, pool, mode="http"):
        return {"name": name, "listen": "127.0.0.1:0", "mode": mode, "pool": pool}

    haven = spawn.haven(make_config(
        pools={"live": [{"name": "live1", "address": backend.address}],
               "odd": [{"name": "odd1", "address": odd.address}],
               "drained": [{"name": "zero", "address": backend.address, "weight": 0}],
               "echo": [{"name": "echo1", "address": echo.address}]},
        listeners=[listener("live", "live"), listener("odd", "odd"), listener("drained", "drained"),
                   listener("tcp", "echo", mode="tcp")],
        timeouts={"client_idle": "1s", "server": "5s"}, access_log=str(log)))

    expected = []
    # the server stops in the middle of the body
    with haven.raw(listener="odd") as c:
        c.send(request_bytes("GET", "/aborted"))
        with pytest.raises(IncompleteResponse):
            c.read_response(timeout=10)
    expected.append(("odd", "/aborted", 200, "upstream aborted"))
    # malformed response head
    assert haven.get("/malformed", listener="odd").status == 502
    expected.append(("odd", "/malformed", 502, "upstream protocol error"))
    # the server closes without answering
    assert haven.get("/close", listener="live").status == 502
    expected.append(("live", "/close", 502, "upstream reset"))
    # no server may take the request
    r = haven.get("/", listener="drained")
    assert (r.status, r.header("Retry-After")) == (503, "1")
    expected.append(("drained", "/", 503, "no healthy server"))
    # the client leaves in the middle of the answer
    with haven.raw(listener="live") as c:
        c.send(request_bytes("GET", f"/bytes?n={64 << 20}"))
        assert c.read_head().status == 200
        c.sock.recv(65536)
    # (the status sent was 200: the head had gone out before the client left)
    expected.append(("live", f"/bytes?n={64 << 20}", 200, "client aborted"))
    # the client stops sending its body
    with haven.raw(listener="live") as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", "100")], content_length=False) + b"abc")
        assert c.read_response(timeout=10).status == 408
    expected.append(("live", "/echo", 408, "client timeout"))
    # a TCP connection
    with socket.create_connection(("127.0.0.1", haven.port("tcp")), timeout=scaled(5)) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"

    recs = haven.access_log(min_lines=len(expected) + 1, timeout=10)
    for listener_name, path, status, flag in expected:
        found = [x for x in recs if x["listener"] == listener_name and x["path"] == path]
        assert found, f"no record for {listener_name} {path}: {recs}"
        assert (found[-1]["status"], found[-1]["flag"]) == (status, flag), found[-1]
    tcp = [x for x in recs if x["listener"] == "tcp"]
    assert tcp and tcp[0]["method"] == "TCP" and tcp[0]["status"] == 0, recs
    assert tcp[0]["bytes_in"] == 4 and tcp[0]["bytes_out"] == 4


# --- hot reload ------------------------------------------------------------------------------

class Load:
    """Sequential requests from a background thread, over a keep-alive connection that is
    re-opened every 10 requests; bounded by count and time."""

    def __init__(self, port, path="/", max_requests=3000, max_seconds=20):
        self.port, self.path = port, path
        self.max_requests, self.max_seconds = max_requests, scaled(max_seconds)
        self.results: list = []  # (status, backend) or exception
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = Deadline(self.max_seconds)
        conn = None
        while not self.stop_flag.is_set() and len(self.results) < self.max_requests and not deadline.expired():
            if conn is None or len(self.results) % 10 == 0:
                if conn:
                    conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(10))
            try:
                r = http_request(self.port, "GET", self.path, conn=conn)
                self.results.append((r.status, r.header("X-Backend")))
            except Exception as e:
                self.results.append(e)
                conn.close()
                conn = None
            time.sleep(0.002)
        if conn:
            conn.close()

    def backends(self):
        return {x[1] for x in self.results if isinstance(x, tuple)}

    def finish(self):
        self.stop_flag.set()
        self.thread.join(timeout=scaled(15))
        assert not self.thread.is_alive()
        return self.results


def test_reload_adds_server_without_failing_requests(spawn):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    load = Load(haven.port())
    try:
        wait_until(lambda: len(load.results) >= 50, scaled(10), what="load before reload")
        assert load.backends() == {"b1"}
        haven.reload(make_config(pools={"p": [b1.address, b2.address]}))
        wait_until(lambda: "b2" in load.backends(), scaled(10), what="the added server to get traffic")
        n = len(load.results)
        wait_until(lambda: len(load.results) >= n + 50, scaled(10), what="load after reload")
    finally:
        results = load.finish()
    failures = [x for x in results if not (isinstance(x, tuple) and x[0] == 200)]
    assert not failures, failures[:5]
    assert re.search(r"reload: configuration applied", haven.log())


def test_reload_removes_server(spawn):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(make_config(pools={"p": [b1.address, b2.address]}))
    assert {haven.get("/").header("X-Backend") for _ in range(6)} == {"b1", "b2"}
    haven.reload(make_config(pools={"p": [b2.address]}))
    wait_until(lambda: re.search(r"reload: configuration applied", haven.log()), scaled(5), what="reload")
    # workers adopt the new snapshot asynchronously: wait until both have it
    wait_until(lambda: all(haven.get("/").header("X-Backend") == "b2" for _ in range(4)), scaled(5),
               what="the removed server to stop getting traffic")
    conn = haven.connection()
    try:
        seen = {http_request(0, "GET", "/", conn=conn).header("X-Backend") for _ in range(10)}
    finally:
        conn.close()
    seen |= {haven.get("/").header("X-Backend") for _ in range(10)}
    assert seen == {"b2"}


def test_reload_does_not_disturb_in_flight_requests(spawn):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    mark(b1)
    threads, results = _slow_requests(haven.port(), 3, "/delay?ms=1000")
    wait_backend_requests(b1, 3)
    haven.reload(make_config(pools={"p": [b2.address]}))  # the busy server leaves the pool
    wait_until(lambda: haven.get("/").header("X-Backend") == "b2", scaled(5), what="the new pool")
    for t in threads:
        t.join(timeout=scaled(10))
    for r in results:
        assert not isinstance(r, Exception), r
        assert (r.status, r.body, r.header("X-Backend")) == (200, b"delayed\n", "b1")


def test_reload_changes_routes(spawn):
    b1, b2 = spawn.backends(2)
    before = make_config(pools={"one": [b1.address], "two": [b2.address]})
    haven = spawn.haven(before)
    assert haven.get("/api/x").header("X-Backend") == "b1"
    haven.reload(make_config(pools={"one": [b1.address], "two": [b2.address]},
                             routes=[{"match": {"path_prefix": "/api/"}, "pool": "two"}, {"pool": "one"}]))
    wait_until(lambda: haven.get("/api/x").header("X-Backend") == "b2", scaled(5), what="new route")
    assert haven.get("/other").header("X-Backend") == "b1"


def test_invalid_reload_is_refused_and_old_config_keeps_serving(spawn):
    b1 = spawn.backend("b1")
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    port = haven.port()
    haven.reload("listeners:\n  - name: web\n    listen: [oops\n")
    wait_until(lambda: re.search(r"reload refused", haven.log()), scaled(5), what="reload refusal")
    assert haven.alive()
    assert re.search(re.escape(str(haven.config_path)) + r":\d+:\d+: ", haven.log()), haven.log()
    for _ in range(5):
        r = haven.get("/")
        assert (r.status, r.header("X-Backend")) == (200, "b1")
    assert haven.port() == port


def test_reload_moves_adds_and_removes_listeners(spawn):
    """A listener that moves binds its new address and stops accepting on the old one; a new
    listener starts; a removed one stops; connections already open finish their request."""
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    old = haven.port()
    mark(b1)
    with haven.raw() as kept:
        kept.send(request_bytes("GET", "/delay?ms=600"))
        wait_backend_requests(b1, 1)  # the request is in flight before the reload
        moved, extra = free_port(), free_port()
        cfg = make_config(pools={"p": [b2.address]})
        cfg["listeners"][0]["listen"] = f"127.0.0.1:{moved}"
        cfg["listeners"].append({"name": "extra", "listen": f"127.0.0.1:{extra}", "mode": "http", "pool": "p"})
        haven.reload(cfg)
        wait_until(lambda: re.search(r"reload: configuration applied", haven.log()), scaled(5), what="reload")
        wait_until(lambda: port_accepts(moved) and port_accepts(extra), scaled(3), what="new listeners")
        r = kept.read_response(timeout=10)
        assert r.status == 200, "a request in flight on the old listener completes"
    wait_until(lambda: not port_accepts(old), scaled(3), what="old address closed")
    assert http_request(moved, "GET", "/").header("X-Backend") == "b2"
    assert http_request(extra, "GET", "/").header("X-Backend") == "b2"
    cfg["listeners"].pop()
    haven.reload(cfg)
    wait_until(lambda: not port_accepts(extra), scaled(3), what="removed listener closed")
    assert http_request(moved, "GET", "/").status == 200
    assert haven.alive()


def test_reload_with_a_listener_that_cannot_bind_changes_nothing(spawn):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        cfg = make_config(pools={"p": [b2.address]})
        cfg["listeners"].append({"name": "extra", "listen": f"127.0.0.1:{busy.getsockname()[1]}", "mode": "http",
                                 "pool": "p"})
        haven.reload(cfg)
        wait_until(lambda: re.search(r"reload refused: .*extra", haven.log()), scaled(5), what="reload refusal")
        assert haven.alive()
        assert haven.get("/").header("X-Backend") == "b1"  # the whole reload was refused, pools too
    finally:
        busy.close()


def test_many_reloads_under_load(spawn):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    load = Load(haven.port())
    try:
        for i in range(10):
            pools = [b1.address, b2.address] if i % 2 == 0 else [b2.address]
            haven.reload(make_config(pools={"p": pools}))
            wait_until(lambda: len(haven.log().split("reload: configuration applied")) - 1 >= i + 1,
                       scaled(5), what=f"reload {i + 1}")
            time.sleep(0.05)
    finally:
        results = load.finish()
    failures = [x for x in results if not (isinstance(x, tuple) and x[0] == 200)]
    assert len(results) > 20
    assert not failures, failures[:5]
    assert haven.alive()


# --- graceful shutdown -----------------------------------------------------------------------

def _slow_requests(port, n, path):
    results = [None] * n

    def one(i):
        try:
            with RawClient(port, timeout=30) as c:
                c.send(request_bytes("GET", path))
                results[i] = c.read_response(timeout=30)
        except Exception as e:  # reported by the test
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def _connect_refused(port) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=scaled(2)).close()
    except ConnectionRefusedError:
        return True
    return False


def test_graceful_shutdown_completes_in_flight_requests(spawn):
    backend = spawn.backend("slow")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, timeouts={"drain": "10s"}))
    port = haven.port()
    idle = RawClient(port)
    idle.send(request_bytes("GET", "/status/200"))
    assert idle.read_response().status == 200

    mark(backend)
    threads, results = _slow_requests(port, 5, "/delay?ms=1500")
    wait_backend_requests(backend, 5)

    t0 = time.monotonic()
    haven.send_signal(signal.SIGTERM)

    # the idle keep-alive connection is closed at once
    assert idle.closed_within(scaled(2)), "idle keep-alive connection not closed on SIGTERM"
    idle.close()
    # new connections are refused while the in-flight requests drain
    wait_until(lambda: _connect_refused(port), scaled(2), what="the listening socket to close")
    assert haven.alive(), "haven exited before its in-flight requests completed"
    with pytest.raises(ConnectionRefusedError):  # the listening socket is closed
        socket.create_connection(("127.0.0.1", port), timeout=scaled(2)).close()

    for t in threads:
        t.join(timeout=scaled(20))
    for r in results:
        assert not isinstance(r, Exception), r
        assert (r.status, r.body) == (200, b"delayed\n")
        assert (r.header("Connection") or "").lower() == "close"
    rc = haven.proc.wait(timeout=scaled(10))
    elapsed = time.monotonic() - t0
    assert rc == 0, haven.proc.describe()
    assert elapsed < 10, f"exit {elapsed:.1f}s after SIGTERM (drain timeout 10s)"
    assert not port_accepts(port)


def test_drain_timeout_bounds_shutdown(spawn):
    backend = spawn.backend("slow")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, timeouts={"drain": "1s"}))
    mark(backend)
    threads, results = _slow_requests(haven.port(), 2, "/delay?ms=8000")
    wait_backend_requests(backend, 2)
    t0 = time.monotonic()
    haven.send_signal(signal.SIGTERM)
    rc = haven.proc.wait(timeout=scaled(8))
    elapsed = time.monotonic() - t0
    assert rc == 0
    assert 0.8 <= elapsed < scaled(3), f"exit {elapsed:.2f}s after SIGTERM with drain 1s"
    for t in threads:
        t.join(timeout=scaled(10))
    for r in results:  # cut short: never a complete response
        assert isinstance(r, (IncompleteResponse, ConnectionError)), r


def test_sigint_is_graceful_too(spawn):
    backend = spawn.backend("b")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}))
    assert haven.get("/").status == 200
    assert haven.stop(signal.SIGINT, timeout=10) == 0


def test_shutdown_with_no_traffic_is_quick(spawn):
    backend = spawn.backend("b")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, timeouts={"drain": "30s"}))
    t0 = time.monotonic()
    assert haven.stop(signal.SIGTERM, timeout=10) == 0
    assert time.monotonic() - t0 < scaled(2)


# --- known deviations (kept last: ctest runs this file with -x) -------------------------------

def test_access_log_local_replies_record_bytes_in(logged):
    """docs/access-log.md: bytes_in is "bytes received from the client (head and body)" - also for
    requests haven answered itself (404 no route, 502 connect failure)."""
    haven = logged
    assert haven.get("/nothing-here").status == 404
    assert haven.get("/dead").status == 502
    recs = haven.access_log(min_lines=2)
    for rec in recs:
        assert rec["bytes_in"] > 0, f"bytes_in is 0 for a request whose head was received: {rec}"


def test_access_log_client_gone_before_response_is_logged(spawn, tmp_path):
    """docs/access-log.md: haven does not watch the client while it waits for the server (as
    HAProxy without abortonclose); a client that closed meanwhile is noticed only if writing the
    response fails (499, "client aborted"), otherwise the server's status is logged. A client
    that closes normally (FIN) leaves a socket that still takes the response: writing it
    succeeds, so the server's 200 is logged with flag "-" and the bytes written."""
    backend = spawn.backend("b1")
    log = tmp_path / "gone.log"
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, access_log=str(log)))
    mark(backend)
    with haven.raw() as c:
        c.send(request_bytes("GET", "/delay?ms=700"))
        wait_backend_requests(backend, 1)  # the request is at the server: the client leaves now
    rec = haven.access_log(min_lines=1, timeout=5)[-1]
    assert (rec["path"], rec["status"], rec["flag"]) == ("/delay?ms=700", 200, "-"), rec
    assert rec["bytes_out"] > 0, rec


def test_access_log_client_reset_before_response_is_499(spawn, tmp_path):
    """docs/access-log.md: status `499` when the client was gone before any of the response could
    be written. A client that resets its connection (SO_LINGER 0) while haven waits for the
    server makes the first write fail: nothing is sent, so the record says 499, client aborted."""
    backend = spawn.backend("b1")
    log = tmp_path / "reset.log"
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, access_log=str(log)))
    mark(backend)
    with haven.raw() as c:
        c.send(request_bytes("GET", "/delay?ms=700"))
        wait_backend_requests(backend, 1)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    rec = haven.access_log(min_lines=1, timeout=5)[-1]
    assert rec["bytes_out"] == 0, rec
    assert (rec["status"], rec["flag"]) == (499, "client aborted"), rec


# --- logging ---------------------------------------------------------------------------------

def test_log_lines_go_to_stderr(spawn):
    """Documented: haven logs to stderr (stdout stays free for an access log on stdout)."""
    b1 = spawn.backend("b1")
    haven = spawn.haven(make_config(pools={"p": [b1.address]}))
    assert re.search(r"info listening: web on 127\.0\.0\.1:\d+", haven.stderr()), (
        f"log not on stderr; stdout was:\n{haven.proc.stdout()}")
    assert "haven ready" in haven.stderr()


def test_access_log_on_stdout_is_separate_from_the_log(spawn):
    b1 = spawn.backend("b1")
    cfg = make_config(pools={"p": [b1.address]})
    cfg["access_log"] = {"path": "stdout"}
    haven = spawn.haven(cfg)
    assert haven.get("/x").status == 200
    lines = wait_until(lambda: [ln for ln in haven.proc.stdout().splitlines() if '"path"' in ln], scaled(5),
                       what="access log line on stdout")
    for ln in haven.proc.stdout().splitlines():
        json.loads(ln)  # stdout holds access log records only
    assert json.loads(lines[-1])["path"] == "/x"
