"""WebSocket tunnelling (docs/proxying.md, "WebSocket"): a GET handshake with `Connection:
Upgrade` and `Upgrade: websocket` keeps its upgrade fields; a 101 from the server turns both
connections into one byte stream each way until both sides have closed, or until it has been
silent for timeouts.client_idle. Any other upgrade is dropped and the request served as plain
HTTP; a 101 nobody asked for is a 502."""
import base64
import hashlib
import signal
import socket

import pytest

from harness import Deadline, RawClient, RequestReader, echo_handler, make_config, request_bytes, scaled

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
HANDSHAKE = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", KEY),
             ("Sec-WebSocket-Version", "13")]


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def ws_echo_handler(conn, server):
    """Answers a WebSocket handshake with 101 and a greeting, then echoes raw bytes until EOF.
    Anything else gets a plain 200 naming the Upgrade field it saw (or "none"). Every head seen
    is kept in server.heads."""
    reader = RequestReader(conn)
    while True:
        req = reader.read_head()
        if req is None:
            return
        method, target, headers = req
        with server.lock:
            server.heads = getattr(server, "heads", []) + [req]
        h = {k.lower(): v for k, v in headers}
        if target == "/rogue-101":
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            return
        if h.get("upgrade", "").lower() == "websocket":
            break
        reader.read_body(headers)
        body = h.get("upgrade", "none").encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Accept: {accept_for(h['sec-websocket-key'])}\r\n\r\nhello").encode())
    if reader.buf:
        conn.sendall(bytes(reader.buf))  # bytes the client sent right behind its handshake
        reader.buf.clear()
    if target != "/server-closes":
        echo_handler(conn, server)


@pytest.fixture
def env(spawn):
    server = spawn.tiny(ws_echo_handler)
    haven = spawn.haven(make_config(pools={"ws": [server.address]}, timeouts={"client_idle": "2s"}))
    return haven, server


def take(c: RawClient, n: int) -> bytes:
    return c._take(n, Deadline(10), [])


def handshake(c: RawClient, path: str = "/chat", extra: bytes = b""):
    c.send(request_bytes("GET", path, headers=HANDSHAKE) + extra)
    return c.read_head(timeout=10)


def test_handshake_is_forwarded_and_answered(env):
    haven, server = env
    with haven.raw() as c:
        head = handshake(c)
        assert head.status == 101
        assert head.header("Upgrade") == "websocket"
        assert head.header("Connection") == "Upgrade"
        assert head.header("Sec-WebSocket-Accept") == accept_for(KEY)
        assert take(c, 5) == b"hello"
    _, _, headers = server.heads[0]
    seen = {k.lower(): v for k, v in headers}
    assert seen["upgrade"] == "websocket" and seen["connection"] == "Upgrade"
    assert seen["sec-websocket-key"] == KEY and seen["sec-websocket-version"] == "13"
    assert "x-forwarded-for" in seen


def test_bytes_flow_both_ways_until_both_sides_close(env):
    haven, _ = env
    with haven.raw() as c:
        assert handshake(c, extra=b"early").status == 101
        assert take(c, 10) == b"helloearly", "bytes behind the handshake reach the server"
        for i in range(20):
            msg = b"\x81\x05frame" + bytes([i]) * 100  # any bytes: haven does not parse frames
            c.send(msg)
            assert take(c, len(msg)) == msg
        big = bytes(range(256)) * 4096  # 1 MiB
        c.send(big)
        assert take(c, len(big)) == big
        c.sock.shutdown(socket.SHUT_WR)  # the client's close reaches the server as a half-close...
        assert c.read_until_close(timeout=10) == b"", "...and the server's close comes back"


def test_server_closing_ends_the_tunnel(env):
    haven, _ = env
    with haven.raw() as c:
        assert handshake(c, path="/server-closes").status == 101
        assert take(c, 5) == b"hello"
        assert c.read_until_close(timeout=10) == b""


def test_silent_tunnel_is_closed_after_client_idle(env):
    haven, _ = env
    with haven.raw() as c:
        assert handshake(c).status == 101
        assert take(c, 5) == b"hello"
        assert c.closed_within(10), "a tunnel silent both ways ends at timeouts.client_idle (2 s)"


def test_other_upgrades_are_dropped_and_served_as_http(env):
    haven, server = env
    # Served as plain HTTP; since no tunnel opened, the connection closes after the answer (the
    # client may already be sending the protocol it asked for: docs/proxying.md, "WebSocket").
    h2c = request_bytes("GET", "/", headers=[("Upgrade", "h2c"), ("Connection", "Upgrade, HTTP2-Settings"),
                                            ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")])
    # a handshake that is not a GET without a body is not an upgrade either
    post = request_bytes("POST", "/", headers=HANDSHAKE, body=b"x")
    for request in (h2c, post):
        with haven.raw() as c:
            c.send(request)
            r = c.read_response(timeout=10)
            assert r.status == 200 and r.body == b"none"
            assert r.header("Connection", "").lower() == "close", r.headers
            assert c.closed_within(5)
    for _, _, headers in server.heads:
        names = {k.lower() for k, _ in headers}
        assert "upgrade" not in names and "http2-settings" not in names


def test_101_nobody_asked_for_is_502(env):
    haven, _ = env
    with haven.raw() as c:
        c.send(request_bytes("GET", "/rogue-101"))
        assert c.read_response(timeout=10).status == 502


def test_access_log_shows_the_tunnel(spawn, tmp_path):
    server = spawn.tiny(ws_echo_handler)
    log = tmp_path / "access.log"
    haven = spawn.haven(make_config(pools={"ws": [server.address]}, access_log=str(log), threads=1))
    with haven.raw() as c:
        assert handshake(c, path="/server-closes").status == 101
        assert take(c, 5) == b"hello"
        assert c.read_until_close(timeout=10) == b""
    rec = haven.access_log(min_lines=1)[0]
    assert rec["status"] == 101
    assert rec["bytes_out"] >= 5


def test_open_tunnel_works_while_draining_and_is_cut_at_the_drain_timeout(spawn):
    server = spawn.tiny(ws_echo_handler)
    haven = spawn.haven(make_config(pools={"ws": [server.address]}, timeouts={"drain": "1s"}))
    with haven.raw() as c:
        assert handshake(c).status == 101
        assert take(c, 5) == b"hello"
        haven.send_signal(signal.SIGTERM)
        c.send(b"during")  # the tunnel still works while draining
        assert take(c, 6) == b"during"
        assert c.closed_within(10), "cut at timeouts.drain"
    assert haven.proc.wait(timeout=scaled(10)) == 0
