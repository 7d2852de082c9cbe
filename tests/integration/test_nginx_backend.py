"""haven in front of a real third-party server: Debian's nginx."""

import collections
import hashlib
import http.client
import random

import pytest

from harness import (NGINX_BIN, RawClient, http_request, make_config, request_bytes, require_tool, scaled,
                     tcp_sockets, wait_until)



@pytest.fixture(scope="module", autouse=True)
def _nginx_installed():
    """Without nginx these tests skip, except under CI=true where they fail."""
    require_tool(NGINX_BIN, "apt-get install nginx-light (scripts/install-deps)")


BIG = random.Random(20240601).randbytes(20 * 1024 * 1024 + 12345)
INDEX = b"<html><body>haven integration test</body></html>\n"
SSI = b"<p>before</p>\n<!--# include virtual=\"/part.html\" -->\n<p>after</p>\n"
PART = b"<b>included part</b>\n"


@pytest.fixture(scope="module")
def env(mspawn):
    nginx = mspawn.nginx({"index.html": INDEX, "big.bin": BIG, "reuse.txt": b"reuse\n", "part.html": PART})
    (nginx.www / "ssi").mkdir(exist_ok=True)
    (nginx.www / "ssi" / "page.html").write_bytes(SSI)
    haven = mspawn.haven(make_config(
        pools={"nginx": [{"name": "nginx1", "address": nginx.address}],
               "short": [{"name": "nginx-short", "address": nginx.address.replace(
                   str(nginx.port), str(nginx.short_port))}]},
        listeners=[{"name": "web", "listen": "127.0.0.1:0", "pool": "nginx"},
                   {"name": "short", "listen": "127.0.0.1:0", "pool": "short"}]), name="haven-nginx")
    return haven, nginx


def test_get_fixed_body(env):
    haven, _ = env
    r = haven.get("/hello")
    assert r.status == 200
    assert r.body == b"hello from nginx\n"
    assert r.header("Server", "").startswith("nginx")


def test_get_index(env):
    haven, _ = env
    r = haven.get("/")
    assert (r.status, r.body) == (200, INDEX)
    assert r.header("Content-Type") == "text/html"


def test_nginx_404_passes_through(env):
    haven, _ = env
    r = haven.get("/missing.html")
    assert r.status == 404
    assert b"nginx" in r.body


def test_large_static_file(env):
    haven, _ = env
    with RawClient(haven.port(), timeout=60) as c:
        c.send(request_bytes("GET", "/big.bin"))
        r = c.read_response(timeout=60)
        assert r.status == 200
        assert r.header("Content-Length") == str(len(BIG))
        assert len(r.body) == len(BIG)
        assert hashlib.sha256(r.body).digest() == hashlib.sha256(BIG).digest()
        c.send(request_bytes("GET", "/hello"))  # the connection survives a 20 MiB body
        assert c.read_response().body == b"hello from nginx\n"


def test_large_static_file_to_http10_client(env):
    haven, _ = env
    with RawClient(haven.port(), timeout=60) as c:
        c.send(b"GET /big.bin HTTP/1.0\r\n\r\n")
        r = c.read_response(timeout=60)
        assert r.status == 200
        assert hashlib.sha256(r.body).digest() == hashlib.sha256(BIG).digest()
        assert c.closed_within(scaled(5))


def test_range_request(env):
    haven, _ = env
    r = haven.get("/big.bin", headers={"Range": "bytes=1000-1999"})
    assert r.status == 206
    assert r.body == BIG[1000:2000]
    assert r.header("Content-Range") == f"bytes 1000-1999/{len(BIG)}"


def test_head_then_get_on_one_connection(env):
    haven, _ = env
    with haven.raw() as c:
        c.send(request_bytes("HEAD", "/big.bin") + request_bytes("GET", "/hello"))
        h = c.read_response(head_request=True)
        assert h.status == 200 and h.header("Content-Length") == str(len(BIG))
        assert c.read_response().body == b"hello from nginx\n"


def test_conditional_get_304(env):
    haven, _ = env
    first = haven.get("/index.html")
    etag = first.header("ETag")
    assert etag
    with haven.raw() as c:
        c.send(request_bytes("GET", "/index.html", headers=[("If-None-Match", etag)])
               + request_bytes("GET", "/hello"))
        r = c.read_response()
        assert r.status == 304 and r.body == b""
        assert c.read_response().body == b"hello from nginx\n"


def test_chunked_response_from_nginx(env):
    """nginx's SSI output has no length: it is sent chunked to HTTP/1.1 peers."""
    haven, _ = env
    expected = SSI.replace(b'<!--# include virtual="/part.html" -->', PART.rstrip(b"\n"))
    with haven.raw() as c:
        c.send(request_bytes("GET", "/ssi/page.html"))
        r = c.read_response()
    assert r.status == 200
    assert r.chunked
    assert r.body.replace(b"\n", b"") == expected.replace(b"\n", b"")
    with haven.raw() as c:
        c.send(b"GET /ssi/page.html HTTP/1.0\r\nHost: x\r\n\r\n")
        head = c.read_head()
        assert head.status == 200 and head.header("Transfer-Encoding") is None
        body = c.read_until_close(timeout=10)
    assert body.replace(b"\n", b"") == expected.replace(b"\n", b"")


def test_post_to_static_file_is_nginx_405(env):
    haven, _ = env
    with haven.raw() as c:
        c.send(request_bytes("POST", "/index.html", body=b"p" * 100_000))
        r = c.read_response()
        assert r.status == 405
        # haven forwarded the whole body and nginx (which discards it) keeps the connection, so the
        # client connection stays open too and serves the next request
        assert (r.header("Connection") or "").lower() != "close", r.headers
        assert c.is_open(), "haven closed the connection after nginx's 405"
        c.send(request_bytes("GET", "/hello"))
        assert c.read_response().body == b"hello from nginx\n"


def test_pipelined_requests(env):
    haven, _ = env
    paths = ["/hello", "/index.html", "/reuse.txt", "/missing"] * 5
    with haven.raw() as c:
        c.send(b"".join(request_bytes("GET", p) for p in paths))
        statuses = [c.read_response().status for _ in paths]
    assert statuses == [200, 200, 200, 404] * 5


def test_upstream_keepalive_reuse(env):
    haven, nginx = env
    for _ in range(100):
        r = haven.get("/reuse.txt")
        assert (r.status, r.body) == (200, b"reuse\n")

    def records():
        recs = [rec for rec in nginx.access_records() if rec[3] == "/reuse.txt"]
        return recs if len(recs) >= 100 else None

    recs = wait_until(records, scaled(5), what="nginx access log")
    conns = collections.Counter(rec[0] for rec in recs)
    # 2 worker threads, each with its own pool: at most a couple of upstream connections
    assert len(conns) <= 4, conns
    assert max(int(rec[1]) for rec in recs) >= 25  # $connection_requests: many requests per connection


def test_client_keepalive_reuse(env):
    haven, _ = env
    conn = http.client.HTTPConnection("127.0.0.1", haven.port(), timeout=scaled(10))
    try:
        http_request(0, "GET", "/hello", conn=conn)
        sock = conn.sock
        for _ in range(50):
            assert http_request(0, "GET", "/index.html", conn=conn).body == INDEX
            assert conn.sock is sock
    finally:
        conn.close()


def test_idle_upstream_connection_closed_by_nginx_is_not_an_error(env):
    """nginx (keepalive_timeout 1s) closes haven's pooled connection; the next GET must still
    succeed (a fresh connection, or one retry for an idempotent request)."""
    haven, nginx = env

    def hello_records():
        return [rec for rec in nginx.access_records() if rec[3] == "/hello"]

    def nginx_closed_idle_connections():
        # haven's ends of its connections to the short server: none is ESTABLISHED any more once
        # nginx has closed them all (haven's end is then in CLOSE_WAIT, or gone if haven noticed)
        return not [t for t in tcp_sockets(remote_port=nginx.short_port) if t.state == "ESTABLISHED"]

    before = len(hello_records())
    conn = http.client.HTTPConnection("127.0.0.1", haven.port("short"), timeout=scaled(10))
    try:
        for i in range(3):
            r = http_request(0, "GET", "/hello", conn=conn)
            assert (r.status, r.body) == (200, b"hello from nginx\n")
            # the pooled connection sits idle until nginx's keep-alive timeout (1 s) closes it
            wait_until(nginx_closed_idle_connections, scaled(5), interval=0.05,
                       what="nginx to close haven's idle upstream connection")
    finally:
        conn.close()
    recs = wait_until(lambda: (lambda rs: rs if len(rs) >= before + 3 else None)(hello_records()), scaled(5),
                      what="nginx access log")[before:]
    assert [rec[4] for rec in recs] == ["200"] * 3, recs
    # nginx closed the connection after each request, so each was served on a connection of its own
    assert len({rec[0] for rec in recs}) == 3, recs
