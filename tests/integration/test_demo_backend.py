"""`haven demo-backend` on its own: the test servers the other integration tests rely on must
speak correct HTTP/1.1 (checked over raw sockets, no haven in between)."""

import re
import time

import pytest

from harness import RawClient, chunk_encode, http_request, request_bytes


@pytest.fixture(scope="module")
def backend(mspawn):
    return mspawn.backend("solo")


def raw(backend) -> RawClient:
    return RawClient(backend.port, timeout=10)


def test_root_counts_requests(backend):
    a = http_request(backend.port, "GET", "/")
    b = http_request(backend.port, "GET", "/")
    m1 = re.fullmatch(rb"solo request (\d+)\n", a.body)
    m2 = re.fullmatch(rb"solo request (\d+)\n", b.body)
    assert m1 and m2 and int(m2.group(1)) == int(m1.group(1)) + 1
    assert a.header("X-Backend") == "solo"


def test_echo_reports_method_path_query_headers_body(backend):
    with raw(backend) as c:
        c.send(request_bytes("PATCH", "/echo?a=1", headers=[("X-Test", "v"), ("Transfer-Encoding", "chunked")])
               + chunk_encode(b"q" * 2500, chunk=1000))
        j = c.read_response().json()
    assert (j["method"], j["path"], j["query"], j["body_length"], j["backend"]) == ("PATCH", "/echo", "a=1", 2500,
                                                                                       "solo")
    assert ["X-Test", "v"] in j["headers"]


@pytest.mark.parametrize("chunked", [False, True])
def test_bytes(backend, chunked):
    with raw(backend) as c:
        c.send(request_bytes("GET", "/bytes?n=12345" + ("&chunked=1" if chunked else "")))
        r = c.read_response()
    assert r.body == b"x" * 12345 and r.chunked == chunked


def test_delay_status_health_stats_control(backend):
    t0 = time.monotonic()
    assert http_request(backend.port, "GET", "/delay?ms=300").body == b"delayed\n"
    assert time.monotonic() - t0 >= 0.29
    assert http_request(backend.port, "GET", "/status/418").status == 418
    assert http_request(backend.port, "GET", "/health").status == 200
    backend.control(health="fail")
    assert http_request(backend.port, "GET", "/health").status == 503
    backend.control(health="ok")
    stats = backend.stats()
    assert {"requests", "connections", "name"} <= set(stats) and stats["name"] == "solo"
    assert http_request(backend.port, "GET", "/_control?latency_ms=-5").status == 400


def test_close_answers_nothing(backend):
    with raw(backend) as c:
        c.send(request_bytes("GET", "/close"))
        assert c.read_until_close(timeout=5) == b""


def test_connections_counted(backend):
    before = backend.stats()["connections"]
    conn_reqs = [http_request(backend.port, "GET", "/") for _ in range(3)]
    assert all(r.status == 200 for r in conn_reqs)
    assert backend.stats()["connections"] - before == 4  # three requests and the /stats call


@pytest.mark.parametrize("path", ["/", "/bytes?n=5000", "/bytes?n=5000&chunked=1", "/echo", "/status/200"])
def test_head_response_has_no_body(backend, path):
    """RFC 9110 9.3.2: a response to HEAD carries no content (not even a last chunk)."""
    with raw(backend) as c:
        c.send(request_bytes("HEAD", path) + request_bytes("GET", "/status/201"))
        r = c.read_response(head_request=True)
        assert r.status == 200
        nxt = c.read_response()
        assert nxt.status == 201, f"bytes after the HEAD response: {nxt}"


@pytest.mark.parametrize("code", [204, 304])
def test_bodiless_status_has_no_body(backend, code):
    """RFC 9110 15.3.5 / 15.4.5: 204 and 304 responses end after the header section."""
    with raw(backend) as c:
        c.send(request_bytes("GET", f"/status/{code}") + request_bytes("GET", "/status/201"))
        r = c.read_response()
        assert r.status == code
        if code == 204:
            assert r.header("Content-Length") is None, "Content-Length in a 204"
        nxt = c.read_response()
        assert nxt.status == 201, f"bytes after the {code} response: {nxt}"
