"""Per-server max_connections (HAProxy `maxconn`) and the pool's queue (`maxqueue`, `timeout
queue`) through the real binary, with two worker threads: no server ever has more requests in
flight than its cap (the demo backend counts them), a request goes to a server with room or waits
in the queue and is served when a slot frees, a full queue answers 503 at once, and a wait ends
at queue.timeout with a 503. docs/policies.md, "Server caps and the queue"."""

import threading
import time

from harness import make_config, scaled
from prom import scrape, total
from support_helpers import admin


def capped_haven(spawn, servers, queue, latency_ms):
    backends = [spawn.backend(name, "--latency-ms", str(latency_ms)) for name, _ in servers]
    pool = {"servers": [{"name": name, "address": b.address, "max_connections": cap}
                        for (name, cap), b in zip(servers, backends)],
            "queue": queue, "retries": 0}
    cfg = make_config(pools={"app": pool}, threads=2)
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return spawn.haven(cfg), backends


def at_once(haven, n, path="/"):
    """n requests on n connections, released together; (status, seconds, body) each."""
    results, gate = [], threading.Barrier(n)

    def one():
        gate.wait()
        began = time.monotonic()
        r = haven.get(path, timeout=scaled(30))
        results.append((r.status, time.monotonic() - began, r.body))
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=scaled(60))
    return results


def test_no_server_exceeds_its_cap_the_queue_holds_the_rest_and_a_full_queue_refuses_at_once(spawn):
    # 3 slots (2 + 1), 4 places in the queue: of 10 requests at once, 7 are served, 3 refused.
    haven, (b1, b2) = capped_haven(spawn, [("b1", 2), ("b2", 1)], {"max": 4, "timeout": "20s"}, latency_ms=1500)
    results = at_once(haven, 10)
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 503]
    assert len(ok) == 7 and len(refused) == 3, [(s, round(d, 2)) for s, d, _ in results]
    assert all(b"server queue" in body for _, _, body in refused), refused
    assert all(d < 1.4 for _, d, _ in refused), "a full queue answers at once, before any slot frees"
    # The queued ones were served after a slot freed: not before the first answers (1.5 s).
    assert min(sorted(d for _, d, _ in ok)[3:]) >= 1.4, ok
    assert b1.stats()["max_in_flight"] == 2 and b2.stats()["max_in_flight"] == 1, (b1.stats(), b2.stats())
    m = scrape(haven.admin_port())
    assert total(m, "haven_pool_queue_total", pool="app", result="queued") == 4
    assert total(m, "haven_pool_queue_total", pool="app", result="full") == 3
    assert total(m, "haven_pool_queue_length", pool="app") == 0
    assert total(m, "haven_server_max_connections", pool="app", server="b1") == 2
    pool = admin(haven, "GET", "/api/pools/app").json()
    assert pool["queue"]["max"] == 4 and pool["queue"]["length"] == 0, pool
    assert [s["max_connections"] for s in pool["servers"]] == [2, 1], pool


def test_a_wait_ends_at_the_queue_timeout_with_a_503(spawn):
    haven, (b,) = capped_haven(spawn, [("b", 1)], {"max": 10, "timeout": "400ms"}, latency_ms=2500)
    first = []
    t = threading.Thread(target=lambda: first.append(haven.get("/", timeout=scaled(30)).status))
    t.start()
    # The first request holds the only slot; the second waits 400 ms for it, then gets a 503.
    deadline = time.monotonic() + scaled(5)
    while b.stats()["in_flight"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    began = time.monotonic()
    r = haven.get("/", timeout=scaled(30))
    waited = time.monotonic() - began
    assert r.status == 503 and b"server queue" in r.body, r
    assert 0.35 <= waited < 2.0, waited
    t.join(timeout=scaled(30))
    assert first == [200]
    m = scrape(haven.admin_port())
    assert total(m, "haven_pool_queue_total", pool="app", result="timeout") == 1
    assert b.stats()["max_in_flight"] == 1
