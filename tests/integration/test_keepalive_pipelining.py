"""Connection reuse on both sides, pipelining, and large bodies streamed with bounded memory."""

import http.client
import json
import resource
import socket
import threading
import time

import pytest

from harness import (read_and_count, Deadline, RawClient, RequestReader, chunk_encode, http_request, make_config, request_bytes,
                     scaled, tcp_sockets, wait_until)

MiB = 1 << 20


@pytest.fixture(scope="module")
def env(mspawn):
    b1, b2 = mspawn.backends(2)
    single = mspawn.backend("single")
    haven = mspawn.haven(make_config(
        pools={"two": [b1.address, b2.address], "single": [single.address]},
        listeners=[
            {"name": "two", "listen": "127.0.0.1:0", "pool": "two"},
            {"name": "single", "listen": "127.0.0.1:0", "pool": "single"},
        ]))
    return {"haven": haven, "b1": b1, "b2": b2, "single": single}


# --- client side keep-alive ------------------------------------------------------------------

def test_client_keepalive_many_requests_one_connection(env):
    haven, single = env["haven"], env["single"]
    before = single.stats()["requests"]
    with haven.raw(listener="single") as c:
        local = c.sock.getsockname()
        for i in range(200):
            c.send(request_bytes("GET", f"/echo?i={i}"))
            r = c.read_response()
            assert r.status == 200
            assert r.json()["query"] == f"i={i}"
            assert r.header("Connection") is None or r.header("Connection").lower() != "close"
        assert c.is_open()
        assert c.sock.getsockname() == local
    # 200 requests plus this /stats call
    assert single.stats()["requests"] - before == 201


def test_http_client_connection_is_reused(env):
    haven = env["haven"]
    conn = haven.connection(listener="single")
    try:
        http_request(0, "GET", "/", conn=conn)
        sock = conn.sock
        assert sock is not None
        for _ in range(20):
            r = http_request(0, "POST", "/echo", body=b"hello", conn=conn)
            assert r.status == 200 and r.json()["body_length"] == 5
            assert conn.sock is sock, "http.client had to reconnect: haven closed a keep-alive connection"
    finally:
        conn.close()


def test_client_connection_close_is_honoured(env):
    with env["haven"].raw(listener="single") as c:
        c.send(request_bytes("GET", "/", headers=[("Connection", "close")]))
        r = c.read_response()
        assert r.status == 200
        assert (r.header("Connection") or "").lower() == "close"
        assert c.closed_within(scaled(5))


# --- upstream keep-alive ---------------------------------------------------------------------

def test_upstream_connections_reused_sequential_keepalive_client(env):
    haven, single = env["haven"], env["single"]
    before = single.stats()["connections"]
    conn = haven.connection(listener="single")
    try:
        for _ in range(200):
            assert http_request(0, "GET", "/", conn=conn).status == 200
    finally:
        conn.close()
    opened = single.stats()["connections"] - before - 1  # minus the /stats connection itself
    assert opened <= 2, f"haven opened {opened} upstream connections for 200 sequential requests"


def test_upstream_connections_reused_across_client_connections(env):
    haven, single = env["haven"], env["single"]
    before = single.stats()["connections"]
    for _ in range(200):
        assert haven.get("/", listener="single").status == 200
    opened = single.stats()["connections"] - before - 1
    # one pool per worker thread (2 threads): a couple of connections, never one per request
    assert opened <= 4, f"haven opened {opened} upstream connections for 200 sequential requests"


def closing_server_handler(conn, server):
    """Answers one request with Connection: close and closes."""
    if read_and_count(conn, server) is None:
        return
    with server.lock:
        n = server.requests
    body = f"closing {n}".encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_upstream_close_does_not_close_client(spawn):
    server = spawn.tiny(closing_server_handler)
    haven = spawn.haven(make_config(pools={"p": [server.address]}))
    with haven.raw() as c:
        for i in range(1, 6):
            c.send(request_bytes("GET", "/"))
            r = c.read_response()
            assert (r.status, r.body) == (200, f"closing {i}".encode())
            assert (r.header("Connection") or "").lower() != "close"
        assert c.is_open()
    assert server.accepted == 5


# --- pipelining ------------------------------------------------------------------------------

def test_pipelined_mixed_requests_in_one_send(env):
    haven = env["haven"]
    reqs, expect = [], []
    for i in range(10):
        kind = i % 4
        if kind == 0:
            reqs.append(request_bytes("GET", f"/echo?i={i}"))
            expect.append(("echo", i, 0))
        elif kind == 1:
            body = bytes([65 + i]) * (i * 1000 + 1)
            reqs.append(request_bytes("POST", f"/echo?i={i}", body=body))
            expect.append(("echo", i, len(body)))
        elif kind == 2:
            body = b"q" * (i * 333)
            reqs.append(request_bytes("PUT", f"/echo?i={i}", headers=[("Transfer-Encoding", "chunked")])
                        + chunk_encode(body, chunk=100))
            expect.append(("echo", i, len(body)))
        else:
            reqs.append(request_bytes("GET", f"/bytes?n={i * 100}&chunked=1"))
            expect.append(("bytes", i, i * 100))
    with haven.raw(listener="two") as c:
        c.send(b"".join(reqs))
        for kind, i, n in expect:
            r = c.read_response()
            assert r.status == 200
            if kind == "echo":
                j = r.json()
                assert (j["query"], j["body_length"]) == (f"i={i}", n)
            else:
                assert r.body == b"x" * n
        assert c.is_open()


def test_pipelined_responses_stay_in_order_when_first_is_slow(env):
    """Round-robin sends the slow request to one backend and later ones to the other: the
    later answers are ready first, but must be written after the slow one."""
    haven = env["haven"]
    batch = [request_bytes("GET", "/delay?ms=400")] + [request_bytes("GET", f"/echo?i={i}") for i in range(6)]
    with haven.raw(listener="two") as c:
        t0 = time.monotonic()
        c.send(b"".join(batch))
        first = c.read_response()
        assert (first.status, first.body) == (200, b"delayed\n")
        assert time.monotonic() - t0 >= 0.35
        for i in range(6):
            r = c.read_response()
            assert r.status == 200 and r.json()["query"] == f"i={i}"


def test_pipelined_hundred_requests(env):
    haven = env["haven"]
    with haven.raw(listener="single") as c:
        c.send(b"".join(request_bytes("GET", f"/echo?n={i}") for i in range(100)))
        for i in range(100):
            r = c.read_response(timeout=20)
            assert r.status == 200 and r.json()["query"] == f"n={i}"


def test_pipelined_ending_with_connection_close(env):
    haven = env["haven"]
    with haven.raw(listener="single") as c:
        c.send(request_bytes("GET", "/echo?i=0") + request_bytes("GET", "/echo?i=1")
               + request_bytes("GET", "/echo?i=2", headers=[("Connection", "close")])
               + request_bytes("GET", "/echo?i=3"))  # after close: never answered
        for i in range(3):
            r = c.read_response()
            assert r.json()["query"] == f"i={i}"
        assert (r.header("Connection") or "").lower() == "close"
        assert c.read_until_close(timeout=5) == b""


def test_pipelined_bytes_split_across_sends(env):
    """Requests cut at arbitrary points, including inside the CRLF CRLF and inside a chunk."""
    haven = env["haven"]
    data = (request_bytes("POST", "/echo?i=a", body=b"hello world")
            + request_bytes("POST", "/echo?i=b", headers=[("Transfer-Encoding", "chunked")])
            + chunk_encode(b"0123456789" * 10, chunk=33)
            + request_bytes("GET", "/echo?i=c"))
    with haven.raw(listener="single") as c:
        for i in range(0, len(data), 7):
            c.send(data[i:i + 7])
            time.sleep(0.001)
        got = [c.read_response().json() for _ in range(3)]
    assert [(g["query"], g["body_length"]) for g in got] == [("i=a", 11), ("i=b", 100), ("i=c", 0)]


# --- large bodies, bounded memory ------------------------------------------------------------

def sink_handler(conn, server):
    """Reads a request head, waits (so that haven must hold back the client), then reads the body
    counting bytes and checking the pattern; answers with the count."""
    reader = RequestReader(conn)
    while True:
        req = reader.read_head()
        if req is None:
            return
        time.sleep(1.5)
        bad = [0]

        def check(data):
            if data.strip(b"u"):
                bad[0] += 1

        n = reader.read_body(req[2], sink=check)
        body = json.dumps({"received": n, "bad_blocks": bad[0]}).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.fixture
def sink_haven(spawn):
    sink = spawn.tiny(sink_handler)
    return spawn.haven(make_config(pools={"sink": [sink.address]}, threads=1))


def _upload(haven, total: int, chunked: bool):
    block = b"u" * (256 * 1024)
    with RawClient(haven.port(), timeout=60) as c:
        hdrs = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length", str(total))]
        c.send(request_bytes("POST", "/upload", headers=hdrs, content_length=False))
        sent = 0
        deadline = Deadline(scaled(60))
        while sent < total:
            assert not deadline.expired(), "upload stalled"
            piece = block[:min(len(block), total - sent)]
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            c.send(b"0\r\n\r\n")
        return c.read_response(timeout=60)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_64mib_upload_streamed_with_bounded_memory(sink_haven, chunked):
    haven = sink_haven
    assert haven.get("/warmup").status == 200  # sink answers any request
    hwm_before = haven.vm_hwm_kib()
    total = 64 * MiB
    r = _upload(haven, total, chunked)
    assert r.status == 200
    assert r.json() == {"received": total, "bad_blocks": 0}
    growth = (haven.vm_hwm_kib() - hwm_before) * 1024
    assert growth < 48 * MiB, f"haven's peak RSS grew by {growth / MiB:.1f} MiB for a 64 MiB upload"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_64mib_download_streamed_with_bounded_memory(env, chunked):
    """The client stalls after the first MiB: haven must stop reading from the server
    instead of buffering the rest."""
    haven = env["haven"]
    assert haven.get("/bytes?n=10", listener="single").status == 200
    hwm_before = haven.vm_hwm_kib()
    total = 64 * MiB
    with RawClient(haven.port("single"), timeout=60) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        c.send(request_bytes("GET", f"/bytes?n={total}" + ("&chunked=1" if chunked else "")))
        head = c.read_head()
        assert head.status == 200
        if chunked:
            assert (head.header("Transfer-Encoding") or "").lower() == "chunked"
        else:
            assert head.header("Content-Length") == str(total)
        # Read the raw framed stream until the expected payload is complete.
        received = bytearray(c.buf)
        c.buf.clear()
        stalled = False
        deadline = Deadline(scaled(60))
        expected_wire = total if not chunked else None
        while True:
            if not stalled and len(received) >= MiB:
                time.sleep(2.0)  # the stall
                stalled = True
            if expected_wire is not None and len(received) >= expected_wire:
                break
            if chunked and received.endswith(b"\r\n0\r\n\r\n"):
                break
            assert not deadline.expired(), f"download stalled at {len(received)} bytes"
            c.sock.settimeout(max(deadline.remaining(), 0.1))
            data = c.sock.recv(1 << 20)
            assert data, f"connection closed after {len(received)} bytes"
            if chunked:
                received += data
            else:
                received += data
                if len(received) > total:
                    break
    if chunked:
        payload = _dechunk(bytes(received))
    else:
        payload = bytes(received)
    assert len(payload) == total
    assert payload.count(b"x") == total
    growth = (haven.vm_hwm_kib() - hwm_before) * 1024
    assert growth < 48 * MiB, f"haven's peak RSS grew by {growth / MiB:.1f} MiB for a 64 MiB download"


def _dechunk(data: bytes) -> bytes:
    out = []
    pos = 0
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            assert data[pos:] == b"\r\n", "trailing bytes after the last chunk"
            return b"".join(out)
        out.append(data[pos:pos + size])
        assert data[pos + size:pos + size + 2] == b"\r\n"
        pos += size + 2


def test_64mib_echo_upload_counted_by_backend(env):
    """A 64 MiB content-length upload through to the demo backend (which counts it)."""
    haven = env["haven"]
    total = 64 * MiB
    block = b"e" * MiB
    with RawClient(haven.port("single"), timeout=60) as c:
        c.send(request_bytes("POST", "/echo", headers=[("Content-Length", str(total))], content_length=False))
        for _ in range(64):
            c.send(block)
        r = c.read_response(timeout=60)
    assert r.status == 200
    assert r.json()["body_length"] == total


# --- stale pooled connections and retries ----------------------------------------------------

def early_closer_handler(conn, server):
    """Answers one request with keep-alive framing, then closes the idle connection 100 ms later
    (like a server with a very short keep-alive timeout)."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    n = reader.read_body(req[2])
    with server.lock:
        server.requests += 1
        server.log.append((req[0], req[1], n))
    body = f"{req[0]} {req[1]} {n}".encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    time.sleep(0.1)  # the server's keep-alive timeout
    conn.close()


def _no_established_connection_to(port) -> bool:
    """True once no connection to `port` (haven's upstream ends) is ESTABLISHED: the server's
    FIN has reached every one (CLOSE_WAIT), or haven has closed it."""
    return not [t for t in tcp_sockets(remote_port=port) if t.state == "ESTABLISHED"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_server_closed_pooled_connection_is_not_an_error(spawn, method):
    server = spawn.tiny(early_closer_handler)
    server.log = []
    haven = spawn.haven(make_config(pools={"p": [server.address]}, threads=1))
    with haven.raw() as c:
        for i in range(4):
            body = b"b" * 10 if method == "POST" else b""
            c.send(request_bytes(method, f"/r{i}", body=body))
            r = c.read_response()
            assert (r.status, r.body) == (200, f"{method} /r{i} {len(body)}".encode())
            # the server closes the pooled connection while it sits idle in haven's pool
            wait_until(lambda: _no_established_connection_to(server.port), scaled(5),
                       what="the server to close the pooled connection")
    assert [x[1] for x in server.log] == ["/r0", "/r1", "/r2", "/r3"], "a request was sent twice or lost"


def test_non_idempotent_request_never_sent_twice(spawn):
    """The server reads the request and closes without answering (demo-backend /close): haven
    answers 502 and must not resend the POST, even on a reused upstream connection."""
    backend = spawn.backend("closer")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, threads=1))
    with haven.raw() as c:
        c.send(request_bytes("GET", "/status/200"))  # leaves a pooled upstream connection
        assert c.read_response().status == 200
        before = backend.stats()["requests"]
        c.send(request_bytes("POST", "/close", body=b"once only"))
        r = c.read_response(timeout=10)
    assert r.status == 502
    assert backend.stats()["requests"] - before - 1 == 1, "the POST reached the server twice"


def test_idempotent_request_retried_at_most_once(spawn):
    """With retries: 0, only the stale-keep-alive rule applies: one more try on a fresh connection."""
    backend = spawn.backend("closer")
    cfg = make_config(pools={"p": [backend.address]}, threads=1)
    cfg["pools"][0]["retries"] = 0
    haven = spawn.haven(cfg)
    with haven.raw() as c:
        c.send(request_bytes("GET", "/status/200"))
        assert c.read_response().status == 200
        before = backend.stats()["requests"]
        c.send(request_bytes("GET", "/close"))
        r = c.read_response(timeout=10)
    assert r.status == 502
    # The first try went out on the kept-alive connection and died unanswered (stale keep-alive
    # rule: one more try, on a fresh connection); that one died too: exactly two, never a third.
    assert backend.stats()["requests"] - before - 1 == 2


def test_concurrent_keepalive_clients(env):
    """50 clients x 20 requests each, mixed GET/POST, in parallel: every answer correct."""
    haven = env["haven"]
    port = haven.port("two")
    errors = []

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(20))
        try:
            for i in range(20):
                if i % 2:
                    body = bytes([97 + k % 26]) * (k * 100 + i)
                    r = http_request(0, "POST", f"/echo?k={k}&i={i}", body=body, conn=conn)
                    j = r.json()
                    if (r.status, j["body_length"], j["query"]) != (200, len(body), f"k={k}&i={i}"):
                        errors.append((k, i, r.status, j))
                else:
                    r = http_request(0, "GET", f"/bytes?n={k * 10 + i}", conn=conn)
                    if (r.status, r.body) != (200, b"x" * (k * 10 + i)):
                        errors.append((k, i, r.status, len(r.body)))
        except Exception as e:
            errors.append((k, repr(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(60))
    assert not any(t.is_alive() for t in threads), "clients still running"
    assert not errors, errors[:5]



# --- kept last: ctest runs this file with -x --------------------------------------------------

def stray_bytes_handler(conn, server):
    """Answers each request, then 50 ms later writes bytes nobody asked for (a misbehaving
    server, or the tail of a body the server should not have sent)."""
    reader = RequestReader(conn)
    while True:
        req = reader.read_head()
        if req is None:
            return
        reader.read_body(req[2])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.05)  # the response is complete (and the connection pooled) before the junk
        conn.sendall(b"junk")
        with server.lock:
            server.junk_sent += 1


def test_pooled_connection_with_stray_bytes_is_not_reused(spawn):
    """An idle pooled connection on which the server sent unsolicited bytes is unusable; haven
    must not send the next request on it (which fails as a 502 'upstream protocol error')."""
    server = spawn.tiny(stray_bytes_handler)
    server.junk_sent = 0
    haven = spawn.haven(make_config(pools={"p": [server.address]}, threads=1))

    def junk_reached_haven():
        # haven's ends of its upstream connections: each open one holds the unread junk (or haven
        # read it and dropped the connection)
        return all(t.rx_queue > 0 or t.state != "ESTABLISHED" for t in tcp_sockets(remote_port=server.port))

    statuses = []
    for i in range(4):
        r = haven.get("/")
        statuses.append((r.status, r.body))
        wait_until(lambda: server.junk_sent > i, scaled(5), what="the server to send stray bytes")
        wait_until(junk_reached_haven, scaled(5), what="the stray bytes to reach haven")
    assert statuses == [(200, b"ok")] * 4


def test_many_quiet_keepalive_clients_park_and_come_back(spawn):
    """More keep-alive clients go quiet at once than a worker lets wait with a buffer (1024): the
    rest park at once. Every connection still serves its next request."""
    n = 1200
    # This process holds n client sockets and haven, which inherits the limit, n more: raise the
    # soft open-files limit to the hard limit rather than depend on the shell's `ulimit -n`.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 256
    if soft != resource.RLIM_INFINITY and soft < need:
        assert hard == resource.RLIM_INFINITY or hard >= need, f"open-files hard limit {hard} < {need}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))
    backend = spawn.backend("b1")
    haven = spawn.haven(make_config(pools={"p": [backend.address]}, threads=1))
    conns = []
    try:
        for i in range(n):
            c = socket.create_connection(("127.0.0.1", haven.port()), timeout=10)
            c.sendall(b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n")
            conns.append(c)
        for c in conns:
            assert c.recv(4096).startswith(b"HTTP/1.1 204"), "first request"
        # On purpose: all stay idle past the 250 ms after which a connection parks (the first 1024
        # wait with a buffer, then park; the rest park at once). What follows checks they come back.
        time.sleep(0.5)
        for c in conns:
            c.sendall(b"GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n")
        for c in conns:
            assert c.recv(4096).startswith(b"HTTP/1.1 204"), "second request after parking"
    finally:
        for c in conns:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))  # haven and b1 keep theirs
