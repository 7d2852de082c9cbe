"""Layer-4 listeners: haven relays bytes between a client and one server of the pool."""

import collections
import http.client
import os
import signal
import socket
import threading
import time

import pytest

from harness import Deadline, echo_handler, http_request, make_config, scaled


def tcp_listener(pool: str, name: str = "tcp") -> dict:
    return {"name": name, "listen": "127.0.0.1:0", "mode": "tcp", "pool": pool}


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exactly(s: socket.socket, n: int, timeout: float = 20.0) -> bytes:
    deadline = Deadline(scaled(timeout))
    out = bytearray()
    while len(out) < n:
        assert not deadline.expired(), f"received {len(out)} of {n} bytes"
        s.settimeout(max(deadline.remaining(), 0.05))
        data = s.recv(min(1 << 20, n - len(out)))
        assert data, f"connection closed after {len(out)} of {n} bytes"
        out += data
    return bytes(out)


def recv_until_eof(s: socket.socket, timeout: float = 10.0) -> bytes:
    deadline = Deadline(scaled(timeout))
    out = bytearray()
    while True:
        assert not deadline.expired(), f"no EOF after {len(out)} bytes"
        s.settimeout(max(deadline.remaining(), 0.05))
        try:
            data = s.recv(1 << 20)
        except ConnectionResetError:
            return bytes(out)
        if not data:
            return bytes(out)
        out += data


def echo_roundtrip(port: int, payload: bytes):
    """Sends payload while reading the echo (so neither side's buffers fill up)."""
    with connect(port) as s:
        got = bytearray()
        errors = []

        def reader():
            try:
                got.extend(recv_exactly(s, len(payload), timeout=30))
            except Exception as e:  # reported below
                errors.append(e)

        t = threading.Thread(target=reader)
        t.start()
        s.sendall(payload)
        t.join(timeout=scaled(40))
        assert not t.is_alive(), "echo reader did not finish"
        assert not errors, errors
        return bytes(got)


@pytest.fixture(scope="module")
def echo_env(mspawn):
    echo = mspawn.tiny(echo_handler)
    haven = mspawn.haven(make_config(pools={"echo": [echo.address]}, listeners=[tcp_listener("echo")], threads=1),
                         name="tcp-echo")
    return haven, echo


def test_relays_bytes_both_ways(echo_env):
    haven, _ = echo_env
    payload = os.urandom(1 << 20)  # binary, including CR/LF and NUL: no HTTP parsing in tcp mode
    assert echo_roundtrip(haven.port(), payload) == payload


def test_relay_interactive_exchange(echo_env):
    haven, _ = echo_env
    with connect(haven.port()) as s:
        for i in range(50):
            msg = f"ping {i}\n".encode()
            s.sendall(msg)
            assert recv_exactly(s, len(msg)) == msg


def test_non_http_bytes_are_relayed_verbatim(echo_env):
    haven, _ = echo_env
    garbage = b"\x00\x01GET / HTTP/9.9\r\n\n\r\x16\x03\x01 not http at all"
    with connect(haven.port()) as s:
        s.sendall(garbage)
        assert recv_exactly(s, len(garbage)) == garbage


def test_client_half_close_is_propagated(echo_env):
    """The client shuts down its sending side; the echo server sees EOF, finishes and closes; the
    client still receives every echoed byte and then EOF."""
    haven, _ = echo_env
    payload = os.urandom(200_000)
    with connect(haven.port()) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = recv_until_eof(s, timeout=10)
    assert got == payload


def test_concurrent_relays(echo_env):
    haven, echo = echo_env
    results = {}

    def one(i):
        payload = bytes([i]) * 300_000
        try:
            results[i] = echo_roundtrip(haven.port(), payload) == payload
        except Exception as e:
            results[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(60))
    assert results == {i: True for i in range(10)}


def test_server_close_reaches_client(spawn):
    def greeter(conn, server):
        conn.sendall(b"hello and goodbye\n")

    server = spawn.tiny(greeter)
    haven = spawn.haven(make_config(pools={"g": [server.address]}, listeners=[tcp_listener("g")]))
    with connect(haven.port()) as s:
        assert recv_until_eof(s, timeout=10) == b"hello and goodbye\n"


# --- HTTP servers behind a tcp listener ------------------------------------------------------

@pytest.fixture(scope="module")
def http_env(mspawn):
    b1, b2 = mspawn.backends(2)
    haven = mspawn.haven(make_config(pools={"web": [b1.address, b2.address]},
                                     listeners=[tcp_listener("web")], threads=1), name="tcp-web")
    return haven, b1, b2


def test_http_through_tcp_listener_is_not_rewritten(http_env):
    haven, _, _ = http_env
    r = http_request(haven.port(), "POST", "/echo", body=b"12345", headers={"Connection": "keep-alive"})
    assert r.status == 200
    j = r.json()
    assert j["body_length"] == 5
    names = {k.lower() for k, _ in j["headers"]}
    # a layer-4 relay does not touch the bytes: no forwarding headers, hop-by-hop kept
    assert "x-forwarded-for" not in names and "via" not in names and "x-request-id" not in names
    assert "connection" in names


def test_tcp_connection_sticks_to_one_server(http_env):
    haven, _, _ = http_env
    conn = http.client.HTTPConnection("127.0.0.1", haven.port(), timeout=scaled(10))
    try:
        seen = {http_request(0, "GET", "/", conn=conn).header("X-Backend") for _ in range(10)}
    finally:
        conn.close()
    assert len(seen) == 1, seen


def test_tcp_balances_connections_round_robin(http_env):
    haven, _, _ = http_env
    seen = [http_request(haven.port(), "GET", "/").header("X-Backend") for _ in range(10)]
    assert collections.Counter(seen) == {"b1": 5, "b2": 5}, seen
    assert all(seen[i] != seen[i + 1] for i in range(9)), seen


def test_tcp_large_download(http_env):
    haven, _, _ = http_env
    n = 32 << 20
    with connect(haven.port()) as s:
        s.sendall(f"GET /bytes?n={n} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = recv_until_eof(s, timeout=60)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert len(body) == n and body.count(b"x") == n


# --- failures --------------------------------------------------------------------------------

def test_connect_failure_falls_over_to_other_server(spawn):
    live = spawn.backend("live")
    dead = spawn.dead_port()
    haven = spawn.haven(make_config(
        pools={"p": [{"name": "dead", "address": dead.address}, {"name": "live", "address": live.address}]},
        listeners=[tcp_listener("p")], threads=1, timeouts={"connect": "1s"}))
    for _ in range(6):
        r = http_request(haven.port(), "GET", "/", timeout=10)
        assert (r.status, r.header("X-Backend")) == (200, "live")


def test_no_reachable_server_closes_client(spawn):
    dead1, dead2 = spawn.dead_port(), spawn.dead_port()
    haven = spawn.haven(make_config(pools={"p": [dead1.address, dead2.address]}, listeners=[tcp_listener("p")],
                                    timeouts={"connect": "1s"}))
    with connect(haven.port()) as s:
        try:
            s.sendall(b"hello")
        except OSError:
            pass
        t0 = time.monotonic()
        assert recv_until_eof(s, timeout=10) == b""
        assert time.monotonic() - t0 < scaled(5)


def test_server_going_away_mid_stream_closes_client(spawn):
    def abrupt(conn, server):
        conn.recv(100)
        conn.sendall(b"partial")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST

    server = spawn.tiny(abrupt)
    haven = spawn.haven(make_config(pools={"a": [server.address]}, listeners=[tcp_listener("a")]))
    with connect(haven.port()) as s:
        s.sendall(b"go")
        data = recv_until_eof(s, timeout=10)
    assert data in (b"", b"partial")


def test_tcp_and_http_listeners_side_by_side(spawn):
    echo = spawn.tiny(echo_handler)
    web = spawn.backend("w")
    haven = spawn.haven(make_config(
        pools={"echo": [echo.address], "web": [web.address]},
        listeners=[tcp_listener("echo", name="raw"), {"name": "http", "listen": "127.0.0.1:0", "pool": "web"}]))
    assert echo_roundtrip(haven.port("raw"), b"abc" * 1000) == b"abc" * 1000
    r = http_request(haven.port("http"), "GET", "/echo")
    assert r.status == 200
    assert ["Via", "1.1 haven"] in r.json()["headers"]


def test_open_relay_is_closed_at_drain_timeout(spawn):
    echo = spawn.tiny(echo_handler)
    haven = spawn.haven(make_config(pools={"e": [echo.address]}, listeners=[tcp_listener("e")],
                                    timeouts={"drain": "1s"}))
    with connect(haven.port()) as s:
        s.sendall(b"before")
        assert recv_exactly(s, 6) == b"before"
        t0 = time.monotonic()
        haven.send_signal(signal.SIGTERM)
        s.sendall(b"during")  # the relay still works while draining
        assert recv_exactly(s, 6) == b"during"
        assert recv_until_eof(s, timeout=10) == b""
        closed_after = time.monotonic() - t0
    rc = haven.proc.wait(timeout=scaled(10))
    assert rc == 0
    assert 0.8 <= closed_after < scaled(3), f"relay closed {closed_after:.2f}s after SIGTERM (drain 1s)"
