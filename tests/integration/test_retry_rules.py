"""The retry rules of docs/proxying.md ("Retry rules") that depend on time and on the request body:
`per_try_timeout` (an attempt without an answer is abandoned and retried on another server when
`retry_on` has `timeout`; without a retry the client gets 504 after about per_try_timeout, not
after timeouts.server), and `retry_buffer` (a body up to it is replayed on the retry; a larger one
that already went out is not retried, and the next server never sees the request).

The servers that must fail in a precise way are small Python servers that count what they
receive; the one that must succeed on the retry is a `backup: true` server, so the first attempt
always goes to the failing one (tier 0) and the retry to the backup (docs/failover.md: retries
reach the backup once the serving tier was tried)."""

import time

import pytest

from harness import RequestReader, make_config, request_bytes, scaled
from prom import scrape, total

SLOW_MS = 6000          # the slow server's answer time: far beyond per_try_timeout
PER_TRY = "500ms"
SERVER_TIMEOUT = "20s"  # timeouts.server: what a per-try timeout must not wait for


def srv(b, **extra):
    return {"name": b.name, "address": b.address, **extra}


def with_admin(cfg):
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return cfg


def timed_get(haven, path="/"):
    began = time.monotonic()
    r = haven.get(path, timeout=40)
    return r, time.monotonic() - began


# --- per_try_timeout -----------------------------------------------------------------------------


def test_per_try_timeout_retries_on_another_server(spawn, tmp_path):
    slow = spawn.backend("slow", "--latency-ms", str(SLOW_MS))
    fast = spawn.backend("fast")
    cfg = with_admin(make_config(
        pools={"p": {"servers": [srv(slow), srv(fast)], "retries": 1, "retry_on": ["timeout"],
                     "per_try_timeout": PER_TRY, "outlier_detection": {"consecutive_failures": 0}}},
        timeouts={"server": SERVER_TIMEOUT}, threads=1, access_log=str(tmp_path / "access.log")))
    haven = spawn.haven(cfg)
    for _ in range(4):
        r, elapsed = timed_get(haven)
        assert (r.status, r.header("X-Backend")) == (200, "fast"), r
        # The slow server answers only after 6 s and timeouts.server is 20 s: an answer well before
        # either means the slow attempt was abandoned at the per-try timeout.
        assert elapsed < scaled(4.0), f"took {elapsed:.2f}s"
    recs = haven.access_log(min_lines=4)
    retried = [r for r in recs if r["tried"] == "slow,fast"]
    assert retried, recs
    assert all(r["attempts"] == 2 and r["status"] == 200 and r["server"] == "fast" for r in retried), retried
    m = scrape(haven.admin_port())
    assert total(m, "haven_upstream_failures_total", pool="p", server="slow", reason="timeout") == len(retried)
    assert total(m, "haven_retry_decisions_total", decision="retried") == len(retried)


@pytest.mark.parametrize("setup", ["single_server_no_retries", "timeout_not_in_retry_on"])
def test_per_try_timeout_without_a_retry_is_a_504(spawn, tmp_path, setup):
    slow = spawn.backend("slow", "--latency-ms", str(SLOW_MS))
    fast = spawn.backend("fast")
    if setup == "single_server_no_retries":
        pool = {"servers": [srv(slow)], "retries": 0, "retry_on": ["timeout"]}
    else:  # a backup that a retry would reach, but `timeout` is not in the (default) retry_on
        pool = {"servers": [srv(slow), srv(fast, backup=True)]}
    pool.update(per_try_timeout=PER_TRY, outlier_detection={"consecutive_failures": 0})
    haven = spawn.haven(make_config(pools={"p": pool}, timeouts={"server": SERVER_TIMEOUT}, threads=1,
                                    access_log=str(tmp_path / "access.log")))
    fast_before = fast.stats()["requests"]
    r, elapsed = timed_get(haven)
    assert r.status == 504, r
    assert 0.45 <= elapsed < scaled(4.0), f"504 after {elapsed:.2f}s, per_try_timeout is 500ms (server: 20s)"
    rec = haven.access_log(min_lines=1)[0]
    assert (rec["status"], rec["attempts"], rec["tried"], rec["flag"]) == (504, 1, "slow", "upstream timeout"), rec
    assert fast.stats()["requests"] == fast_before + 1, "only our /stats call reached the other server"


def silent_counter(conn, server):
    """Reads one whole request, counts it, and never answers (until haven closes the connection)."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    reader.read_body(req[2])
    with server.lock:
        server.requests += 1
    conn.settimeout(30)
    while conn.recv(4096):
        pass


def test_post_that_timed_out_is_not_sent_to_another_server(spawn):
    first = spawn.tiny(silent_counter)
    second = spawn.tiny(silent_counter)
    haven = spawn.haven(make_config(
        pools={"p": {"servers": [{"name": "first", "address": first.address},
                                 {"name": "second", "address": second.address, "backup": True}],
                     "retries": 2, "retry_on": ["timeout", "reset", "connect-failure"], "per_try_timeout": PER_TRY}},
        timeouts={"server": SERVER_TIMEOUT}, threads=1))
    with haven.raw(timeout=30) as c:
        c.send(request_bytes("POST", "/order", body=b"pay once"))
        r = c.read_response(timeout=20)
    assert r.status == 504
    assert (first.requests, second.requests) == (1, 0), "a POST that may have reached a server is not retried"
    # The same timeout for a PUT (idempotent) goes on to the backup (which also stays silent).
    with haven.raw(timeout=30) as c:
        c.send(request_bytes("PUT", "/item", body=b"idempotent"))
        r = c.read_response(timeout=20)
    assert r.status == 504
    assert second.requests >= 1, "an idempotent request is retried after a per-try timeout"


# --- retry_buffer -----------------------------------------------------------------------------

BUFFER = 4096


def _record(server, body: bytes):
    with server.lock:
        server.requests += 1
        server.bodies.append(body)


def swallow_and_close(conn, server):
    """Reads one whole request (head and body), records it, and closes without answering."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    parts = []
    reader.read_body(req[2], sink=parts.append)
    _record(server, b"".join(parts))


def die_mid_body(conn, server):
    """Reads the head and 16 KiB of the body, records that, and closes with the rest unread (a reset)."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return
    parts = []
    reader._consume(16384, parts.append)
    _record(server, b"".join(parts))


def answer_ok(conn, server):
    """Answers every request `200 got N` (N: the body's length) and records its body."""
    reader = RequestReader(conn)
    while True:
        req = reader.read_head()
        if req is None:
            return
        parts = []
        reader.read_body(req[2], sink=parts.append)
        body = b"".join(parts)
        _record(server, body)
        reply = f"got {len(body)}".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)


def pattern(size: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


def buffer_pair(spawn, failing_handler):
    first, second = spawn.tiny(failing_handler), spawn.tiny(answer_ok)
    first.bodies, second.bodies = [], []
    haven = spawn.haven(make_config(
        pools={"p": {"servers": [{"name": "first", "address": first.address},
                                 {"name": "second", "address": second.address, "backup": True}],
                     "retries": 1, "retry_buffer": f"{BUFFER}", "outlier_detection": {"consecutive_failures": 0}}},
        threads=1))
    return haven, first, second


def send_put(haven, body: bytes, pieces: int = 4, chunked: bool = False):
    """A PUT whose body follows its head in `pieces` separate sends (0: with the head, in one send).
    Returns the response, or None when the connection closed without one."""
    headers = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length", str(len(body)))]
    wire = body
    if chunked:
        step = max(1, len(body) // pieces)
        wire = b"".join(b"%x\r\n" % len(body[i:i + step]) + body[i:i + step] + b"\r\n"
                        for i in range(0, len(body), step)) + b"0\r\n\r\n"
    with haven.raw(timeout=30) as c:
        head = request_bytes("PUT", "/upload", headers=headers, content_length=False)
        c.send(head + wire if pieces == 0 else head)
        step = max(1, len(wire) // max(1, pieces))
        try:
            for i in range(0, len(wire) if pieces else 0, step):
                time.sleep(0.02)  # shapes the traffic: the body arrives after its head, in parts
                c.send(wire[i:i + step])
        except OSError:
            pass  # haven may stop reading once the server failed
        try:
            return c.read_response(timeout=20)
        except (AssertionError, OSError):
            return None


@pytest.mark.parametrize("size,chunked,pieces", [(1000, False, 4), (BUFFER, False, 4), (1500, True, 4), (1000, False, 0)],
                         ids=["1000B", "exactly-retry_buffer", "chunked-1500B", "1000B-sent-with-the-head"])
def test_body_within_retry_buffer_is_replayed_on_the_retry(spawn, size, chunked, pieces):
    haven, first, second = buffer_pair(spawn, swallow_and_close)
    body = pattern(size)
    r = send_put(haven, body, chunked=chunked, pieces=pieces)
    assert r is not None and r.status == 200, r
    assert r.body == f"got {size}".encode()
    assert first.bodies == [body], "the first server received the whole body once"
    assert second.bodies == [body], "the retry carried the same body"


@pytest.mark.parametrize("size,pieces", [(BUFFER + 1, 4), (200_000, 4), (200_000, 0)],
                         ids=["retry_buffer+1", "200KB", "200KB-sent-with-the-head"])
def test_body_larger_than_retry_buffer_is_not_retried(spawn, size, pieces):
    haven, first, second = buffer_pair(spawn, swallow_and_close)
    body = pattern(size)
    r = send_put(haven, body, pieces=pieces)
    assert r is not None and r.status == 502, r
    assert first.requests == 1 and first.bodies == [body]
    assert second.requests == 0, "a body larger than retry_buffer cannot be replayed: no retry"
    # A body within the buffer on the same haven is still retried (the rule is about size).
    r = send_put(haven, pattern(100))
    assert r is not None and r.status == 200 and second.requests == 1, r


def test_server_failing_while_a_large_body_streams_is_not_retried(spawn):
    haven, first, second = buffer_pair(spawn, die_mid_body)
    r = send_put(haven, pattern(300_000), pieces=30)
    # The client gets the error (or, if haven could not answer before closing, no answer at all);
    # never a success from the other server.
    assert r is None or r.status == 502, r
    assert first.requests == 1
    assert second.requests == 0, "the second server never sees a request whose body could not be replayed"
