"""After haven refuses a request whose follow-up bytes cannot be trusted, it answers and closes the
connection: the bytes that follow are never read as the next request (a desync). Each path —
CONNECT, an Expect haven cannot meet, a malformed request, an upgrade refused by haven or by the
server — is sent with a second request right behind it; the backend must never see that one."""

import pytest

from harness import RequestReader, make_config, request_bytes, scaled

SMUGGLED = request_bytes("GET", "/smuggled")


def counting_ok(conn, server):
    """Answers every request on the connection 200 "ok", recording each path in server.paths."""
    reader = RequestReader(conn)
    while True:
        req = reader.read_head()
        if req is None:
            return
        reader.read_body(req[2])
        with server.lock:
            server.paths = getattr(server, "paths", []) + [req[1]]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def setup(spawn):
    backend = spawn.tiny(counting_ok)
    dead = spawn.dead_port()
    cfg = make_config(pools={"live": [backend.address], "dead": [dead.address]},
                      routes=[{"match": {"path_prefix": "/dead"}, "pool": "dead"}, {"pool": "live"}],
                      timeouts={"connect": "1s", "server": "2s"})
    return spawn.haven(cfg), backend


def exchange(haven, first: bytes):
    """Sends `first` and a second request in one write; returns the first response and whether
    haven closed the connection after it (without answering the second)."""
    with haven.raw() as c:
        c.send(first + SMUGGLED)
        r = c.read_response(timeout=10)
        rest = c.read_until_close(timeout=scaled(5))
    return r, rest


def assert_closed_without_second(haven, backend, first, status):
    r, rest = exchange(haven, first)
    assert r.status == status, r
    assert r.header("Connection", "").lower() == "close", r.headers
    assert rest == b"", f"a second response followed: {rest[:200]!r}"
    assert "/smuggled" not in getattr(backend, "paths", []), "the follow-up bytes reached the backend"


def test_connect_is_refused_and_the_connection_closed(setup):
    haven, backend = setup
    assert_closed_without_second(haven, backend, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405)


def test_an_expectation_haven_cannot_meet_closes(setup):
    haven, backend = setup
    assert_closed_without_second(haven, backend, request_bytes("GET", "/", headers=[("Expect", "teapot")]), 417)


def test_a_malformed_request_closes(setup):
    haven, backend = setup
    bad = b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    assert_closed_without_second(haven, backend, bad, 400)


def test_a_bad_chunked_body_closes(setup):
    haven, backend = setup
    bad = request_bytes("POST", "/", headers=[("Transfer-Encoding", "chunked")]) + b"zz\r\nhello\r\n0\r\n\r\n"
    r, rest = exchange(haven, bad)
    assert r.status == 400, r
    assert rest == b""
    assert "/smuggled" not in getattr(backend, "paths", [])


WS = [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
      ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]


def test_an_upgrade_the_server_does_not_accept_closes_after_its_answer(setup):
    haven, backend = setup
    # The server answers 200, not 101: the client may already be sending WebSocket frames.
    r, rest = exchange(haven, request_bytes("GET", "/chat", headers=WS))
    assert r.status == 200 and r.body == b"ok", r
    assert r.header("Connection", "").lower() == "close", r.headers
    assert rest == b""
    assert backend.paths == ["/chat"], backend.paths


def test_an_upgrade_haven_answers_itself_closes(setup):
    haven, backend = setup
    r, rest = exchange(haven, request_bytes("GET", "/dead", headers=WS))
    assert r.status in (502, 503), r  # 503 once an earlier refusal took the dead server out
    assert r.header("Connection", "").lower() == "close", r.headers
    assert rest == b""
    assert "/smuggled" not in getattr(backend, "paths", [])


def test_a_plain_request_keeps_the_connection(setup):
    """The control: without any of the above, both requests are answered on one connection."""
    haven, backend = setup
    with haven.raw() as c:
        c.send(request_bytes("GET", "/first") + SMUGGLED)
        assert c.read_response(timeout=10).status == 200
        assert c.read_response(timeout=10).status == 200
        assert c.is_open()
    assert backend.paths == ["/first", "/smuggled"]
