"""Local error replies, malformed requests, timeouts, truncated upstream responses and the
connection cap."""

import socket
import struct
import time

import pytest

from harness import (IncompleteResponse, RawClient, RequestReader, make_config, request_bytes, scaled,
                     wait_until)


@pytest.fixture(scope="module")
def env(mspawn):
    backend = mspawn.backend("b1")
    dead = mspawn.dead_port()
    cfg = make_config(
        pools={
            "live": [backend.address],
            "dead": [dead.address],
            "drained": [{"name": "d1", "address": backend.address, "weight": 0},
                        {"name": "d2", "address": backend.address, "weight": 0}],
        },
        listeners=[
            {"name": "live", "listen": "127.0.0.1:0", "pool": "live"},
            {"name": "dead", "listen": "127.0.0.1:0", "pool": "dead"},
            {"name": "drained", "listen": "127.0.0.1:0", "pool": "drained"},
        ],
        timeouts={"connect": "1s", "server": "1s", "request_headers": "1s", "client_idle": "1500ms"},
        limits={"max_header_bytes": 8192, "max_headers": 20, "max_request_line": 1024},
    )
    haven = mspawn.haven(cfg)
    return {"haven": haven, "backend": backend}


@pytest.fixture
def haven(env):
    return env["haven"]


# --- upstream failures -----------------------------------------------------------------------

def test_slow_server_is_504(haven):
    t0 = time.monotonic()
    r = haven.get("/delay?ms=3000", listener="live", timeout=20)
    elapsed = time.monotonic() - t0
    assert r.status == 504
    assert r.header("Content-Type", "").startswith("text/plain")
    assert r.body.startswith(b"504 Gateway Timeout"), r.body
    assert 0.9 <= elapsed < scaled(2.8), f"504 after {elapsed:.2f}s (timeouts.server is 1s)"


def test_connection_still_usable_after_504(haven):
    """A 504 for a request with no body leaves nothing unread on the client connection, so haven
    keeps it (only 408 and refused requests close it): the next request on it works."""
    with haven.raw(listener="live") as c:
        local = c.sock.getsockname()
        c.send(request_bytes("GET", "/delay?ms=3000"))
        r = c.read_response(timeout=10)
        assert r.status == 504
        assert (r.header("Connection") or "").lower() != "close", r.headers
        assert c.is_open(), "haven closed the connection after a 504"
        c.send(request_bytes("GET", "/status/200"))
        r2 = c.read_response()
        assert (r2.status, r2.body) == (200, b"status\n")
        assert c.sock.getsockname() == local


def test_server_timeout_is_reset_by_every_byte(spawn):
    """timeouts.server is an inactivity timeout: a response trickling in slower than the whole
    timeout, but never pausing that long, completes."""
    def trickler(conn, server):
        reader = RequestReader(conn)
        if reader.read_head() is None:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for byte in b"abcdef":
            if server.stopping.wait(0.4):
                return
            conn.sendall(bytes([byte]))

    server = spawn.tiny(trickler)
    haven = spawn.haven(make_config(pools={"t": [server.address]}, timeouts={"server": "1s"}))
    r = haven.get("/", timeout=20)
    assert (r.status, r.body) == (200, b"abcdef")


def test_connect_timeout_is_502(spawn):
    """A server whose accept queue is full never completes the handshake: after timeouts.connect
    haven answers 502."""
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    try:
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(full.getsockname())
            except BlockingIOError:
                pass
            fillers.append(f)
        time.sleep(0.1)
        cfg = make_config(pools={"p": [f"127.0.0.1:{full.getsockname()[1]}"]}, timeouts={"connect": "1s"})
        cfg["pools"][0]["retries"] = 0  # one attempt: the timeout itself is under test
        haven = spawn.haven(cfg)
        t0 = time.monotonic()
        r = haven.get("/", timeout=20)
        elapsed = time.monotonic() - t0
        assert r.status == 502
        assert r.body.startswith(b"502 Bad Gateway"), r.body
        assert 0.9 <= elapsed < scaled(3), f"502 after {elapsed:.2f}s (timeouts.connect 1s)"
    finally:
        for f in fillers:
            f.close()
        full.close()


def test_dead_server_is_502(haven):
    r = haven.get("/", listener="dead")
    assert r.status == 502
    assert r.header("Content-Type", "").startswith("text/plain")
    assert r.body.startswith(b"502 Bad Gateway"), r.body


def test_all_weights_zero_is_503_with_retry_after(haven):
    r = haven.get("/", listener="drained")
    assert r.status == 503
    assert r.header("Retry-After") == "1"
    assert r.body.startswith(b"503 Service Unavailable"), r.body


def test_local_reply_on_keepalive_connection_keeps_framing(haven):
    with haven.raw(listener="dead") as c:
        c.send(request_bytes("GET", "/a") + request_bytes("GET", "/b"))
        r1 = c.read_response()
        # 502 when this request's own connect was refused; 503 when an earlier request's refusal
        # already took the server out of this worker's picks (the fixture is shared).
        assert r1.status in (502, 503)
        assert r1.header("Content-Length") == str(len(r1.body))
        # A local reply to a complete request keeps the connection (docs/proxying.md): the
        # pipelined second request is answered on it, in order.
        assert (r1.header("Connection") or "").lower() != "close", r1
        # Same connection, same worker: the refusal is known now, so no connect is tried.
        r2 = c.read_response()
        assert r2.status == 503, r2
        assert r2.header("Content-Length") == str(len(r2.body))
        assert (r2.header("Connection") or "").lower() != "close", r2


# --- malformed requests ----------------------------------------------------------------------

H = "Host: test\r\n"
MALFORMED = [
    ("cl_and_te", f"POST / HTTP/1.1\r\n{H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te_and_cl", f"POST / HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("cl_not_a_number", f"POST / HTTP/1.1\r\n{H}Content-Length: abc\r\n\r\n", 400),
    ("cl_negative", f"POST / HTTP/1.1\r\n{H}Content-Length: -1\r\n\r\n", 400),
    ("cl_plus_sign", f"POST / HTTP/1.1\r\n{H}Content-Length: +5\r\n\r\nhello", 400),
    ("cl_list_differs", f"POST / HTTP/1.1\r\n{H}Content-Length: 5, 6\r\n\r\nhello", 400),
    ("cl_twice_differs", f"POST / HTTP/1.1\r\n{H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    ("cl_overflow", f"POST / HTTP/1.1\r\n{H}Content-Length: 99999999999999999999999\r\n\r\n", 400),
    ("bare_lf", "GET / HTTP/1.1\nHost: test\n\n", 400),
    ("bare_lf_in_headers", "GET / HTTP/1.1\r\nHost: test\nX-A: b\r\n\r\n", 400),
    ("bare_cr_in_value", f"GET / HTTP/1.1\r\n{H}X-A: a\rb\r\n\r\n", 400),
    ("obs_fold", f"GET / HTTP/1.1\r\n{H}X-A: a\r\n  folded\r\n\r\n", 400),
    ("space_before_colon", "GET / HTTP/1.1\r\nHost : test\r\n\r\n", 400),
    ("ctl_in_value", f"GET / HTTP/1.1\r\n{H}X-A: a\x01b\r\n\r\n", 400),
    ("nul_in_value", f"GET / HTTP/1.1\r\n{H}X-A: a\x00b\r\n\r\n", 400),
    ("ctl_in_name", f"GET / HTTP/1.1\r\n{H}X\x02A: b\r\n\r\n", 400),
    ("empty_name", f"GET / HTTP/1.1\r\n{H}: b\r\n\r\n", 400),
    ("no_colon", f"GET / HTTP/1.1\r\n{H}NoColonHere\r\n\r\n", 400),
    ("missing_host_11", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400),
    ("two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("bad_chunk_size", f"POST / HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    ("garbage", "HELLO\r\n\r\n", 400),
    ("double_space_in_line", "GET  / HTTP/1.1\r\nHost: test\r\n\r\n", 400),
    ("lowercase_version", "GET / http/1.1\r\nHost: test\r\n\r\n", 400),
    ("space_in_target", "GET /a b HTTP/1.1\r\nHost: test\r\n\r\n", 400),
    ("long_request_line", "GET /" + "a" * 2000 + " HTTP/1.1\r\nHost: test\r\n\r\n", 414),
    ("huge_header", f"GET / HTTP/1.1\r\n{H}X-Big: {'b' * 9000}\r\n\r\n", 431),
    ("too_many_headers", f"GET / HTTP/1.1\r\n{H}" + "".join(f"X-H{i}: v\r\n" for i in range(30)) + "\r\n", 431),
    ("chunked_not_last", f"POST / HTTP/1.1\r\n{H}Transfer-Encoding: chunked, x-custom\r\n\r\n0\r\n\r\n", 400),
    ("unknown_transfer_coding", f"POST / HTTP/1.1\r\n{H}Transfer-Encoding: x-custom, chunked\r\n\r\n0\r\n\r\n", 501),
    ("http_2_0", "GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505),
    ("http_3_1", "GET / HTTP/3.1\r\nHost: test\r\n\r\n", 505),
    ("http_0_9_style", "GET / HTTP/0.9\r\nHost: test\r\n\r\n", 505),
]

# Rejected as soon as the head is parsed: the backend never sees these.
NEVER_FORWARDED = [case for case in MALFORMED if case[0] != "bad_chunk_size"]


def _send_malformed(haven, raw: str):
    with haven.raw(listener="live") as c:
        c.send(raw.encode("latin-1"))
        r = c.read_response(timeout=10)
        closed = c.closed_within(scaled(3))
    return r, closed


@pytest.mark.parametrize("name,raw,status", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_request(haven, name, raw, status):
    r, closed = _send_malformed(haven, raw)
    assert r.status == status, f"{name}: got {r.status} {r.body!r}"
    assert r.header("Content-Type", "").startswith("text/plain")
    assert r.body.startswith(str(status).encode()), r.body
    assert (r.header("Connection") or "").lower() == "close"
    assert closed, f"{name}: connection left open after {status}"


def test_malformed_requests_never_reach_the_backend(env):
    haven, backend = env["haven"], env["backend"]
    before = backend.stats()["requests"]
    for name, raw, status in NEVER_FORWARDED:
        r, _ = _send_malformed(haven, raw)
        assert r.status == status, name
    assert backend.stats()["requests"] == before + 1, "a malformed request reached the backend"


def test_request_smuggling_attempt_is_rejected_whole(env):
    """CL+TE with a smuggled second request in the body: one 400, nothing forwarded."""
    haven, backend = env["haven"], env["backend"]
    before = backend.stats()["requests"]
    smuggle = (f"POST /echo HTTP/1.1\r\n{H}Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\nGET /status/299 HTTP/1.1\r\nHost: test\r\n\r\n")
    with haven.raw(listener="live") as c:
        c.send(smuggle.encode())
        r = c.read_response()
        assert r.status == 400
        assert c.read_until_close(timeout=5) == b"", "a second response followed the 400"
    assert backend.stats()["requests"] == before + 1


def test_long_request_line_limit_is_configurable(haven):
    ok = "/" + "a" * 900
    r = haven.get(ok, listener="live")
    assert r.status == 200


@pytest.mark.parametrize("fields,status", [(20, 200), (21, 431)])
def test_max_headers_boundary(haven, fields, status):
    """max_headers: 20 field lines (Host included) pass, 21 do not."""
    extra = "".join(f"X-F{i}: v\r\n" for i in range(fields - 1))
    with haven.raw(listener="live") as c:
        c.send(f"GET /status/200 HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
        assert c.read_response().status == status


@pytest.mark.parametrize("size,status", [(8192 - 16, 200), (8192 + 16, 431)])
def test_max_header_bytes_boundary(haven, size, status):
    base = "GET /status/200 HTTP/1.1\r\nHost: test\r\nX-Pad: "
    head = base + "p" * (size - len(base) - 4) + "\r\n\r\n"
    assert len(head) == size
    with haven.raw(listener="live") as c:
        c.send(head.encode())
        assert c.read_response().status == status


@pytest.mark.parametrize("length,status", [(1000, 200), (1040, 414)])
def test_max_request_line_boundary(haven, length, status):
    line = "GET /" + "a" * (length - len("GET / HTTP/1.1")) + " HTTP/1.1"
    assert len(line) == length
    with haven.raw(listener="live") as c:
        c.send(f"{line}\r\nHost: test\r\n\r\n".encode())
        assert c.read_response().status == status


def test_unknown_expect_is_417(haven):
    with haven.raw(listener="live") as c:
        c.send(request_bytes("POST", "/echo", headers=[("Expect", "something-else")], body=b"12345"))
        r = c.read_response(skip_interim=False)
        assert r.status == 417
        assert r.body.startswith(b"417")


def test_connect_method_is_405(haven):
    with haven.raw(listener="live") as c:
        c.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        r = c.read_response()
        assert r.status == 405
        assert r.body.startswith(b"405")


def test_valid_requests_after_malformed_on_other_connections(haven):
    """Rejections do not disturb other connections."""
    with haven.raw(listener="live") as good:
        good.send(request_bytes("GET", "/status/200"))
        assert good.read_response().status == 200
        _send_malformed(haven, "GET / HTTP/1.1\r\n\r\n")
        good.send(request_bytes("GET", "/status/201"))
        assert good.read_response().status == 201


# --- client timeouts -------------------------------------------------------------------------

def test_partial_head_gets_408(haven):
    with haven.raw(listener="live") as c:
        t0 = time.monotonic()
        c.send(b"GET /status/200 HTTP/1.1\r\nHo")
        r = c.read_response(timeout=10)
        elapsed = time.monotonic() - t0
        assert r.status == 408
        assert r.body.startswith(b"408")
        assert 0.8 <= elapsed < scaled(3), f"408 after {elapsed:.2f}s (request_headers is 1s)"
        assert c.closed_within(scaled(3))


def test_slowloris_drip_times_out_in_total(haven):
    """Bytes keep arriving, but the whole head must arrive within request_headers (1 s)."""
    head = b"GET /status/200 HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 200
    with haven.raw(listener="live") as c:
        t0 = time.monotonic()
        for byte in head:
            if c.readable() or time.monotonic() - t0 > scaled(5):
                break
            try:
                c.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.05)
        wait_until(c.readable, scaled(5), what="haven to answer the dripping head")
        elapsed = time.monotonic() - t0
        r = c.read_response(timeout=5)
    assert elapsed < scaled(3), f"haven kept a dripping head open for {elapsed:.1f}s"
    assert r.status == 408


def test_silent_connection_closed_after_request_headers_timeout(haven):
    with haven.raw(listener="live") as c:
        t0 = time.monotonic()
        data = c.read_until_close(timeout=10)
        elapsed = time.monotonic() - t0
    assert 0.8 <= elapsed < scaled(3), f"closed after {elapsed:.2f}s"
    assert data == b"", "no byte came: the close is silent"


def test_idle_keepalive_closed_after_client_idle(haven):
    with haven.raw(listener="live") as c:
        c.send(request_bytes("GET", "/status/200"))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        data = c.read_until_close(timeout=10)
        elapsed = time.monotonic() - t0
    assert data == b"", data
    assert 1.2 <= elapsed < scaled(4), f"idle connection closed after {elapsed:.2f}s (client_idle 1.5s)"


def test_request_within_idle_timeout_keeps_connection(haven):
    with haven.raw(listener="live") as c:
        for _ in range(3):
            c.send(request_bytes("GET", "/status/200"))
            assert c.read_response().status == 200
            time.sleep(0.7)  # below client_idle (1.5 s) each time, 2.1 s in total
        assert c.is_open()
        c.send(request_bytes("GET", "/status/200"))
        assert c.read_response().status == 200


def test_client_stalling_inside_a_body_is_cut_off(haven):
    """client_idle also bounds client inactivity inside a request body."""
    with haven.raw(listener="live") as c:
        t0 = time.monotonic()
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", "100")], content_length=False)
               + b"0123456789")
        r = c.read_response(timeout=10)
        assert r.status == 408
        elapsed = time.monotonic() - t0
        assert c.closed_within(scaled(3))
    assert 1.2 <= elapsed < scaled(4), f"stalled upload cut after {elapsed:.2f}s (client_idle 1.5s)"


# --- truncated upstream responses ------------------------------------------------------------

def truncating_handler(conn, server):
    """Announces more than it sends, then closes. Path selects the framing."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    target = req[1]
    if target.startswith("/cl"):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"0123456789")
    elif target.startswith("/chunked"):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"a\r\n0123456789\r\n10\r\n0123")
    elif target.startswith("/head"):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Len")
    elif target.startswith("/stall"):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        server.stopping.wait(6)
    time.sleep(0.2)
    conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def truncating_haven(spawn):
    server = spawn.tiny(truncating_handler)
    return spawn.haven(make_config(pools={"t": [server.address]}, timeouts={"server": "1s"}))


def test_truncated_content_length_response_is_never_completed(truncating_haven):
    with truncating_haven.raw() as c:
        c.send(request_bytes("GET", "/cl"))
        head = c.read_head(timeout=10)
        assert head.status == 200
        assert head.header("Content-Length") == "1000"
        rest = c.read_until_close(timeout=10)
    assert rest == b"0123456789", rest


def test_truncated_chunked_response_never_gets_last_chunk(truncating_haven):
    with truncating_haven.raw() as c:
        c.send(request_bytes("GET", "/chunked"))
        with pytest.raises(IncompleteResponse) as exc:
            c.read_response(timeout=10)
    assert b"0\r\n\r\n" not in exc.value.partial


def test_server_stalling_inside_a_body_is_cut_off(truncating_haven):
    """timeouts.server (1 s) is an inactivity timeout: a body that stops flowing is abandoned and
    the client connection closed, never completed."""
    with truncating_haven.raw() as c:
        t0 = time.monotonic()
        c.send(request_bytes("GET", "/stall"))
        with pytest.raises(IncompleteResponse) as exc:
            c.read_response(timeout=10)
        elapsed = time.monotonic() - t0
    assert exc.value.partial == b"0123456789"
    assert 0.9 <= elapsed < scaled(3), f"stalled response cut after {elapsed:.2f}s"


def test_response_head_cut_short_is_502(truncating_haven):
    with truncating_haven.raw() as c:
        c.send(request_bytes("GET", "/head"))
        r = c.read_response(timeout=10)
    assert r.status == 502


def resetting_handler(conn, server):
    """Sends part of an answer and resets the connection at once (SO_LINGER 0): the bytes and the
    reset usually reach haven together."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    if req[1].startswith("/head"):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Len")
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"0123456789")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_server_reset_behind_its_last_bytes_is_seen_at_once(spawn):
    """A reset that arrives together with the last bytes raises no further readiness event; haven
    must still notice it at once (docs/architecture.md, "Reads that would find nothing"), not
    at timeouts.server, set here far beyond the client's patience."""
    server = spawn.tiny(resetting_handler)
    haven = spawn.haven(make_config(pools={"t": [server.address]}, timeouts={"server": "120s"}))
    for i in range(20):
        with haven.raw() as c:
            c.send(request_bytes("GET", "/body"))
            head = c.read_head(timeout=15)
            assert head.status == 200
            assert c.read_until_close(timeout=15) == b"0123456789", f"request {i}"
        with haven.raw() as c:
            c.send(request_bytes("GET", "/head"))
            assert c.read_response(timeout=15).status == 502, f"request {i}"


# --- connection cap --------------------------------------------------------------------------

def _fill_with_idle(haven, n):
    idle = []
    for _ in range(n):
        c = RawClient(haven.port(), timeout=10)
        idle.append(c)
        c.send(request_bytes("GET", "/status/200"))
        assert c.read_response().status == 200
        if len(idle) == 1:
            # haven's clock for idle times ticks every 100 ms: make the first connection
            # clearly the longest idle
            time.sleep(0.35)
    assert all(c.is_open() for c in idle)
    return idle


@pytest.mark.parametrize("threads", [1, 2])
def test_max_connections_evicts_idle_connection(spawn, threads):
    backend = spawn.backend("b1")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, limits={"max_connections": 20},
                                    threads=threads, timeouts={"client_idle": "60s", "request_headers": "60s"}))
    idle = _fill_with_idle(haven, 20)
    try:
        for _ in range(3):
            r = haven.get("/status/200")  # each is a 21st connection: one idle one must make room
            assert r.status == 200
        evicted = wait_until(lambda: [i for i, c in enumerate(idle) if not c.is_open()], scaled(5),
                             what="an idle connection to be evicted")
        assert 1 <= len(evicted) <= 3, evicted
        if threads == 1:
            # the longest-idle connection goes first (eviction picks within the accepting worker,
            # so the order is only global with one worker)
            assert evicted[0] == 0, evicted
    finally:
        for c in idle:
            c.close()


def test_max_connections_busy_connections_are_not_evicted(spawn):
    """Connections with a request in flight are not idle: they finish normally."""
    backend = spawn.backend("b1")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, limits={"max_connections": 4},
                                    timeouts={"client_idle": "60s"}))
    busy = []
    try:
        for _ in range(4):
            c = RawClient(haven.port(), timeout=10)
            c.send(request_bytes("GET", "/delay?ms=800"))
            busy.append(c)
        wait_until(lambda: backend.stats()["requests"] >= 5, scaled(5), what="slow requests to arrive")
        seen = backend.stats()["requests"]
        # nothing idle to evict: the extra connection is refused, i.e. accepted and closed at once
        # without an answer (the kernel completes the handshake, so connecting itself succeeds)
        with RawClient(haven.port(), timeout=5) as extra:
            try:
                extra.send(request_bytes("GET", "/status/200"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # haven had closed it already
            try:
                got = extra.read_until_close(timeout=5)  # a reset counts as closed
            except TimeoutError:
                pytest.fail("the connection over max_connections was kept open")
            assert got == b"", f"the connection over max_connections got an answer: {got[:200]!r}"
        assert backend.stats()["requests"] == seen + 1, "the extra request reached the server"  # +1: this /stats
        for c in busy:
            r = c.read_response(timeout=10)
            assert (r.status, r.body) == (200, b"delayed\n")
    finally:
        for c in busy:
            c.close()


# --- malformed upstream responses ------------------------------------------------------------

BAD_RESPONSES = {
    "cl_and_te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "not_http": b"FOO BAR\r\n\r\n",
    "bad_content_length": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nhello",
    "head_too_big": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 40000 + b"\r\nContent-Length: 2\r\n\r\nok",
    "obs_fold": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    "bare_lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "bad_first_chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


def bad_response_handler(conn, server):
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    reader.read_body(req[2])
    conn.sendall(BAD_RESPONSES[req[1].lstrip("/")])
    time.sleep(0.3)


@pytest.fixture(scope="module")
def bad_upstream_haven(mspawn):
    server = mspawn.tiny(bad_response_handler)
    return mspawn.haven(make_config(pools={"bad": [server.address]}, timeouts={"server": "2s"}),
                        name="bad-upstream")


@pytest.mark.parametrize("case", sorted(BAD_RESPONSES))
def test_malformed_upstream_response_is_502(bad_upstream_haven, case):
    with bad_upstream_haven.raw() as c:
        c.send(request_bytes("GET", f"/{case}"))
        r = c.read_response(timeout=10)
    assert r.status == 502
    assert r.body.startswith(b"502 Bad Gateway"), r.body


# --- clients that go away --------------------------------------------------------------------

def _healthy(haven, backend_name="b1"):
    """haven still answers correctly on several connections (no poisoned pooled connection)."""
    for i in range(10):
        r = haven.get(f"/bytes?n={1000 + i}", listener="live")
        assert (r.status, r.body) == (200, b"x" * (1000 + i))


def test_client_abort_mid_download(env):
    haven = env["haven"]
    with haven.raw(listener="live") as c:
        c.send(request_bytes("GET", f"/bytes?n={64 << 20}"))
        head = c.read_head()
        assert head.status == 200
        got = len(c.buf)
        while got < (1 << 20):
            c.sock.settimeout(scaled(10))
            data = c.sock.recv(1 << 16)
            assert data
            got += len(data)
    time.sleep(0.2)
    assert haven.alive()
    _healthy(haven)


def test_client_abort_mid_upload(env):
    haven = env["haven"]
    with haven.raw(listener="live") as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(10 << 20))], content_length=False))
        c.send(b"u" * (1 << 20))
    time.sleep(0.2)
    assert haven.alive()
    _healthy(haven)


def test_client_abort_while_waiting_for_response(env):
    haven = env["haven"]
    for _ in range(5):
        with haven.raw(listener="live") as c:
            c.send(request_bytes("GET", "/delay?ms=500"))
            time.sleep(0.05)
    time.sleep(0.6)
    assert haven.alive()
    _healthy(haven)


def test_expect_100_continue_to_dead_server_gets_final_502(haven):
    with haven.raw(listener="dead") as c:
        c.send(request_bytes("POST", "/echo", headers=[("Expect", "100-continue"), ("Content-Length", "5")],
                             content_length=False))
        r = c.read_response(skip_interim=False, timeout=10)
        assert r.status != 100, "a 100 Continue was sent although no server was connected"
        # 502: this request's connect was refused; 503: an earlier refusal took the server out.
        assert r.status in (502, 503), r
