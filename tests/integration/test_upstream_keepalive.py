"""Upstream keep-alive (docs/configuration.md "keepalive", docs/proxying.md "Connections"): each
worker keeps at most `keepalive.max_idle` idle connections per server and closes an idle one after
`keepalive.idle_timeout`; `max_idle: 0` closes every upstream connection after its response.

What haven does with its upstream connections is seen from the server's side: the demo backend's
GET /stats counts the connections it accepted, and KeepAliveServer (support_helpers.py) records
when each connection was opened and when haven closed it. No pool here has health checks, so
every upstream connection is one that carried requests."""

import threading
import time

import pytest

from harness import http_request, make_config, scaled, wait_until
from support_helpers import KeepAliveServer


def one_pool(server, keepalive=None, threads=1, **extra):
    pool = {"servers": [{"name": "s", "address": server.address}], **extra}
    if keepalive is not None:
        pool["keepalive"] = keepalive
    return make_config(pools={"p": pool}, threads=threads)


def new_connections(backend, action) -> int:
    """Connections the demo backend accepted while action() ran (its own /stats calls excluded)."""
    before = backend.stats()["connections"]
    action()
    return backend.stats()["connections"] - before - 1


def sequential(haven, n, path="/"):
    """n requests one after the other on one client keep-alive connection."""
    def run():
        conn = haven.connection()
        try:
            for i in range(n):
                r = http_request(haven.port(), "GET", path, conn=conn)
                assert r.status == 200, r
        finally:
            conn.close()
    return run


def concurrent(haven, n, path):
    """n requests at once, each on its own client connection."""
    def run():
        results, threads = [], []
        for _ in range(n):
            t = threading.Thread(target=lambda: results.append(haven.get(path, timeout=20).status), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(timeout=scaled(30))
        assert results == [200] * n, results
    return run


# --- max_idle -----------------------------------------------------------------------------------


def test_max_idle_zero_opens_a_connection_per_request(spawn):
    backend = spawn.backend("b")
    haven = spawn.haven(one_pool(backend, keepalive={"max_idle": 0}))
    assert new_connections(backend, sequential(haven, 10)) == 10, "max_idle 0: no upstream connection is reused"
    # Ten requests from ten client connections: still one upstream connection each.
    assert new_connections(backend, lambda: [haven.get("/") for _ in range(10)]) == 10


def test_default_keepalive_reuses_where_max_idle_zero_does_not(spawn):
    """The control for the test above: the same traffic through the default keepalive settings."""
    backend = spawn.backend("b")
    haven = spawn.haven(one_pool(backend))
    assert new_connections(backend, sequential(haven, 10)) == 1


def test_max_idle_zero_closes_the_connection_after_each_response(spawn):
    server = KeepAliveServer()
    spawn.items.append(server)
    haven = spawn.haven(one_pool(server, keepalive={"max_idle": 0}))
    conn = haven.connection()
    try:
        for i in range(3):
            r = http_request(haven.port(), "GET", "/", conn=conn)
            assert (r.status, r.body) == (200, f"conn {i} request 1".encode()), r
            # haven closes its side right after the response; the server sees EOF.
            wait_until(lambda: server.closed_count() == i + 1, scaled(3), what=f"haven closing upstream connection {i}")
    finally:
        conn.close()
    assert server.connections() == 3


def test_max_idle_bounds_the_idle_connections_kept(spawn):
    backend = spawn.backend("b")
    haven = spawn.haven(one_pool(backend, keepalive={"max_idle": 1}))
    burst = concurrent(haven, 3, "/delay?ms=800")
    # Three requests in flight at once need three upstream connections.
    assert new_connections(backend, burst) == 3
    # Only one of them was kept idle: the next burst of three reuses it and opens two.
    assert new_connections(backend, burst) == 2
    # Requests one at a time keep using the one idle connection.
    assert new_connections(backend, sequential(haven, 5)) == 0


def test_max_idle_above_the_burst_keeps_every_connection(spawn):
    backend = spawn.backend("b")
    haven = spawn.haven(one_pool(backend, keepalive={"max_idle": 3}))
    burst = concurrent(haven, 3, "/delay?ms=800")
    assert new_connections(backend, burst) == 3
    assert new_connections(backend, burst) == 0, "all three connections were kept and reused"


# --- idle_timeout ------------------------------------------------------------------------------


@pytest.mark.parametrize("idle", [0.5, 1.5])
def test_idle_connection_closed_after_idle_timeout(spawn, idle):
    server = KeepAliveServer()
    spawn.items.append(server)
    haven = spawn.haven(one_pool(server, keepalive={"idle_timeout": f"{int(idle * 1000)}ms"}))
    r = haven.get("/")
    r = haven.get("/")
    answered = time.monotonic()
    assert (r.status, r.header("X-Conn")) == (200, "0"), "reused within idle_timeout"
    assert server.connections() == 1
    # haven closes the idle connection once idle_timeout has passed (its sweep runs every 100 ms).
    wait_until(lambda: server.closed_count() == 1, scaled(idle + 3), what="the idle upstream connection closed")
    idle_for = server.closed[0] - answered
    assert idle_for >= idle - 0.2, f"closed after {idle_for:.2f}s idle, idle_timeout is {idle}s"
    # The next request needs a new connection.
    r = haven.get("/")
    assert (r.status, r.header("X-Conn")) == (200, "1")
    assert server.connections() == 2


def test_connection_in_use_more_often_than_idle_timeout_stays_open(spawn):
    server = KeepAliveServer()
    spawn.items.append(server)
    haven = spawn.haven(one_pool(server, keepalive={"idle_timeout": "1s"}))
    began = time.monotonic()
    # Requests every 300 ms for more than twice idle_timeout: the connection is never idle 1 s.
    while time.monotonic() - began < 2.5:
        assert haven.get("/").header("X-Conn") == "0"
        time.sleep(0.3)
    assert server.connections() == 1 and server.closed_count() == 0


def test_idle_timeout_seen_through_the_demo_backend(spawn):
    backend = spawn.backend("b")
    haven = spawn.haven(one_pool(backend, keepalive={"idle_timeout": "500ms"}))
    assert new_connections(backend, sequential(haven, 3)) == 1
    # Within idle_timeout the connection is reused...
    assert new_connections(backend, lambda: haven.get("/")) == 0
    # ...and some time after it, the next request finds none left (polled with requests spaced
    # wider than idle_timeout, so no probe keeps the connection alive).
    def next_request_opens_one():
        time.sleep(1.0)
        return new_connections(backend, lambda: haven.get("/")) == 1
    wait_until(next_request_opens_one, scaled(5), interval=0, what="a new upstream connection after idle_timeout")


def test_idle_connections_are_reused_most_recent_first(spawn):
    server = KeepAliveServer()
    spawn.items.append(server)
    haven = spawn.haven(one_pool(server))
    answers = {}

    def get(path):
        answers[path] = haven.get(path, timeout=20).header("X-Conn")

    # Two requests at once need two connections; the slow one goes back to the pool last.
    threads = [threading.Thread(target=get, args=(p,), daemon=True) for p in ("/sleep/100", "/sleep/900")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(30))
    assert server.connections() == 2 and set(answers.values()) == {"0", "1"}, answers
    last_back = answers["/sleep/900"]
    assert [haven.get("/").header("X-Conn") for _ in range(3)] == [last_back] * 3, "the most recent idle connection first"
