"""Resilience policies through the real binary: rate limits (the brief's defaults and a route's own,
one limit for every worker thread, 429 with Retry-After and the RateLimit fields, delay instead of
reject), circuit breakers (a route's and a pool's: open on failures, fast 503 with Retry-After,
half-open after the timeout, closed again; state kept by a reload), fault injection (configured,
header-triggered, switched on through the API and `haven ctl fault` with an expiry) and the
static fallback."""

import json
import re
import subprocess
import time

import pytest

from harness import HAVEN_BIN, http_request, make_config, request_bytes, scaled, wait_until
from prom import scrape, total


def cfg_with(pools, routes=None, listener_policies=None, threads=2, **extra):
    cfg = make_config(pools=pools, routes=routes, threads=threads, **extra)
    if listener_policies:
        cfg["listeners"][0]["policies"] = listener_policies
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return cfg


def statuses(haven, path, n, headers=None):
    return [haven.request("GET", path, headers=headers).status for _ in range(n)]


def events(haven, kind):
    r = http_request(haven.admin_port(), "GET", "/api/events")
    return [e for e in r.json()["events"] if e["kind"] == kind]


# --- rate limits --------------------------------------------------------------------------------

def test_defaults_and_a_routes_own_limit_are_enforced_together(spawn):
    b = spawn.backend("b1")
    cfg = cfg_with({"p": [b.address]},
                   routes=[{"match": {"path_prefix": "/login"}, "pool": "p",
                            "policies": {"rate_limit": {"limits": ["3 per minute"]}}},
                           {"pool": "p"}],
                   listener_policies={"rate_limit": {"limits": ["200 per day", "8 per hour"]}})
    haven = spawn.haven(cfg)
    assert statuses(haven, "/login", 5) == [200, 200, 200, 429, 429], "the route's 3 per minute"
    # The other route has only the defaults, counted on its own: 8 per hour.
    assert statuses(haven, "/other", 10) == [200] * 8 + [429, 429]
    r = haven.get("/login")
    assert r.status == 429
    assert 1 <= int(r.header("Retry-After")) <= 20, r.headers
    assert r.header("RateLimit-Policy") == '"l0";q=3;w=60', r.headers
    assert r.header("RateLimit").startswith('"l0";r=0;t='), r.headers
    m = scrape(haven.admin_port())
    assert total(m, "haven_rate_limited_total") == 5
    assert total(m, "haven_requests_total", code_class="4xx") == 5
    # One event per route when it starts refusing, not one per refusal.
    wait_until(lambda: len(events(haven, "rate_limiting")) == 2, scaled(3), what="a rate_limiting event per route")
    assert all(e["detail"] == "a rate limit started answering 429" for e in events(haven, "rate_limiting"))


def test_answers_a_limit_lets_through_say_how_much_is_left(spawn):
    """The server's answers on a limited route carry RateLimit-Policy and RateLimit: the limit
    closest to refusing, with one less left after each request; a route without limits has none."""
    b = spawn.backend("b1")
    cfg = cfg_with({"p": [b.address]},
                   routes=[{"match": {"path_prefix": "/api"}, "pool": "p",
                            "policies": {"rate_limit": {"limits": ["100 per hour", "4 per minute"]}}},
                           {"pool": "p"}])
    haven = spawn.haven(cfg)
    seen = [haven.get("/api/x") for _ in range(4)]
    assert [r.status for r in seen] == [200] * 4
    assert all(r.header("X-Backend") == "b1" for r in seen)  # the server's answer, fields added
    assert [r.header("RateLimit-Policy") for r in seen] == ['"l1";q=4;w=60'] * 4, seen[0].headers
    left = [re.fullmatch(r'"l1";r=(\d+);t=(\d+)', r.header("RateLimit") or "") for r in seen]
    assert all(left), [r.header("RateLimit") for r in seen]
    assert [int(m.group(1)) for m in left] == [3, 2, 1, 0]
    assert all(1 <= int(m.group(2)) <= 60 for m in left)
    refused = haven.get("/api/x")
    assert refused.status == 429 and refused.header("RateLimit").startswith('"l1";r=0;t=')
    assert haven.get("/other").header("RateLimit") is None


def test_a_limit_is_the_same_for_the_process_whatever_the_threads(spawn):
    b = spawn.backend("b1")
    haven = spawn.haven(cfg_with({"p": [b.address]}, listener_policies={"rate_limit": {"limits": ["10 per minute"]}},
                                 threads=4))
    # New connections spread over the 4 workers; the 10 are shared by all of them.
    results = [haven.get("/").status for _ in range(30)]
    assert results.count(200) == 10 and results.count(429) == 20, results


def test_a_reload_keeps_the_quota_spent_and_a_changed_limit_starts_afresh(spawn):
    b = spawn.backend("b1")
    cfg = cfg_with({"p": [b.address]}, listener_policies={"rate_limit": {"limits": ["4 per minute"]}})
    haven = spawn.haven(cfg)
    assert statuses(haven, "/", 3) == [200, 200, 200]
    cfg["timeouts"] = {"connect": "3s"}  # an unrelated change: the counters stay
    haven.reload(cfg)
    wait_until(lambda: "reload: configuration applied" in haven.log(), scaled(5), what="the reload")
    assert statuses(haven, "/", 2) == [200, 429], "one left of the 4, not a fresh quota"
    cfg["listeners"][0]["policies"] = {"rate_limit": {"limits": ["6 per minute"]}}  # a new limit
    haven.reload(cfg)
    wait_until(lambda: haven.log().count("reload: configuration applied") == 2, scaled(5), what="the second reload")
    assert statuses(haven, "/", 7).count(200) == 6


def test_keys_client_header_and_cookie(spawn):
    b = spawn.backend("b1")
    cfg = cfg_with({"p": [b.address]},
                   routes=[{"match": {"path_prefix": "/h"}, "pool": "p",
                            "policies": {"rate_limit": {"limits": ["2 per minute"], "key": "header:X-Api-Key"}}},
                           {"match": {"path_prefix": "/c"}, "pool": "p",
                            "policies": {"rate_limit": {"limits": ["2 per minute"], "key": "cookie:session"}}},
                           {"pool": "p"}])
    haven = spawn.haven(cfg)
    assert statuses(haven, "/h", 3, {"X-Api-Key": "alice"}) == [200, 200, 429]
    assert statuses(haven, "/h", 2, {"X-Api-Key": "bob"}) == [200, 200], "each key its own quota"
    assert statuses(haven, "/h", 3) == [200, 200, 200], "a request without the key is not limited by it"
    assert statuses(haven, "/c", 3, {"Cookie": "a=1; session=s1"}) == [200, 200, 429]
    assert statuses(haven, "/c", 1, {"Cookie": "session=s2"}) == [200]


def test_trusted_proxy_forwarded_for_is_the_client(spawn):
    b = spawn.backend("b1")
    haven = spawn.haven(cfg_with({"p": [b.address]}, listener_policies={
        "rate_limit": {"limits": ["1 per minute"], "trusted_proxies": ["127.0.0.0/8"]}}))
    assert statuses(haven, "/", 2, {"X-Forwarded-For": "203.0.113.7"}) == [200, 429]
    assert statuses(haven, "/", 1, {"X-Forwarded-For": "203.0.113.8, 127.0.0.5"}) == [200], \
        "the right-most address that is not a trusted proxy"


def test_delay_instead_of_reject(spawn):
    b = spawn.backend("b1")
    haven = spawn.haven(cfg_with({"p": [b.address]}, listener_policies={
        "rate_limit": {"limits": ["5 per second"], "burst": 1, "delay": "1s"}}))
    began = time.monotonic()
    assert statuses(haven, "/", 4) == [200] * 4, "held, not refused"
    assert time.monotonic() - began >= 0.5  # 3 waits of 200 ms (generous bound)
    assert total(scrape(haven.admin_port()), "haven_rate_delayed_total") >= 3


# --- circuit breakers ---------------------------------------------------------------------------

BREAKER = {"consecutive_failures": 3, "timeout": "2s", "half_open_requests": 1, "close_after": 1}


def test_a_routes_breaker_opens_answers_fast_half_opens_and_closes(spawn):
    b = spawn.backend("b1")
    cfg = cfg_with({"p": {"servers": [{"name": "b1", "address": b.address}], "retries": 0}},
                   listener_policies={"circuit_breaker": BREAKER}, threads=1)
    haven = spawn.haven(cfg)
    b.control(status=503)
    assert statuses(haven, "/", 3) == [503, 503, 503]  # the server's own 503s
    wait_until(lambda: events(haven, "breaker_open"), scaled(2), what="the breaker opening")
    r = haven.get("/")
    assert r.status == 503 and r.header("X-Backend") is None, "answered by haven, not the server"
    assert 1 <= int(r.header("Retry-After")) <= 3
    b.control(status=200)
    wait_until(lambda: events(haven, "breaker_half_open"), scaled(5), what="half-open after the 2 s timeout")
    assert haven.get("/").status == 200  # the probe
    wait_until(lambda: events(haven, "breaker_closed"), scaled(3), what="closed after a good probe")
    assert statuses(haven, "/", 5) == [200] * 5
    m = scrape(haven.admin_port())
    assert total(m, "haven_breaker_trips_total", scope="route") == 1
    assert total(m, "haven_breaker_state", scope="route", state="closed") == 1


def test_a_pools_breaker_and_the_fallback(spawn, tmp_path):
    b = spawn.backend("b1")
    sorry = tmp_path / "sorry.html"
    sorry.write_text("<p>back soon</p>\n")
    cfg = cfg_with({"p": {"servers": [{"name": "b1", "address": b.address}], "retries": 0,
                          "circuit_breaker": BREAKER}},
                   listener_policies={"fallback": {"status": 200, "body_file": str(sorry), "content_type": "text/html",
                                                   "headers": {"Cache-Control": "no-store"}}},
                   threads=1)
    haven = spawn.haven(cfg)
    b.control(status=502)
    for _ in range(3):
        haven.get("/")
    wait_until(lambda: events(haven, "breaker_open"), scaled(2), what="the pool's breaker opening")
    r = haven.get("/")
    assert r.status == 200 and r.body == b"<p>back soon</p>\n", r
    assert r.header("X-Haven-Degraded") == "circuit_open"
    assert r.header("Cache-Control") == "no-store"
    assert r.header("Content-Type") == "text/html"
    st = http_request(haven.admin_port(), "GET", "/api/pools/p").json()
    assert st["breaker"]["state"] == "open"
    assert total(scrape(haven.admin_port()), "haven_degraded_responses_total") >= 1


# --- fallback pool ------------------------------------------------------------------------------

def test_a_fallback_pool_serves_what_the_routes_pool_cannot(spawn):
    """A refused connect after the retries, then no serving server: the fallback pool answers with
    the server's own response, marked X-Haven-Degraded; a POST that never reached a server goes too."""
    dead = spawn.dead_port()
    spare = spawn.backend("spare")
    cfg = cfg_with({"main": {"servers": [{"name": "m1", "address": dead.address}], "retries": 1},
                    "spare": [spare.address]},
                   routes=[{"pool": "main", "policies": {"fallback": {"pool": "spare"}}}], threads=1)
    haven = spawn.haven(cfg)
    r = haven.get("/x")
    assert r.status == 200 and r.header("X-Backend") == "spare", r
    assert r.header("X-Haven-Degraded") == "upstream_failed"
    r = haven.request("POST", "/echo", body=b"order=1")
    assert r.status == 200 and r.header("X-Backend") == "spare", r
    assert json.loads(r.body)["body_length"] == 7
    m = scrape(haven.admin_port())
    assert total(m, "haven_degraded_responses_total") == 2


def test_a_fallback_pool_takes_over_under_load_when_the_only_server_dies(spawn):
    """50 closed-loop clients; the route's only server is killed mid-run: every request is answered
    200, by the main server before and by the fallback pool after."""
    from closed_loop import ClosedLoop
    main = spawn.backend("main")
    spare = spawn.backend("spare")
    cfg = cfg_with({"main": {"servers": [{"name": "m1", "address": main.address}], "retries": 2,
                             "health_check": {"http": {"path": "/health"}, "interval": "1s", "fall": 2, "rise": 2}},
                    "spare": [spare.address]},
                   routes=[{"pool": "main", "policies": {"fallback": {"pool": "spare"}}}])
    haven = spawn.haven(cfg)
    load = ClosedLoop(haven.port(), 50, duration=scaled(4.0))
    try:
        wait_until(lambda: any(o.backend == "main" for o in list(load.outcomes)), scaled(5), what="main serving")
        main.proc.kill()
        killed = time.monotonic()
        wait_until(lambda: sum(1 for o in list(load.outcomes) if o.backend == "spare" and o.sent > killed + 1.5) > 50,
                   scaled(8), what="the fallback pool serving")
    finally:
        load.stop()
        load.finish()
    assert not load.failures(), (load.by_status(), load.failures()[:5])
    assert {o.backend for o in load.outcomes} == {"main", "spare"}


def test_when_the_fallback_pool_fails_too_the_static_fallback_answers(spawn):
    dead1, dead2 = spawn.dead_port(), spawn.dead_port()
    cfg = cfg_with({"main": {"servers": [{"name": "m1", "address": dead1.address}], "retries": 0},
                    "spare": {"servers": [{"name": "s1", "address": dead2.address}], "retries": 0}},
                   routes=[{"match": {"path_prefix": "/static"}, "pool": "main",
                            "policies": {"fallback": {"pool": "spare", "status": 200, "body": "sorry\n"}}},
                           {"pool": "main", "policies": {"fallback": {"pool": "spare"}}}], threads=1)
    haven = spawn.haven(cfg)
    r = haven.get("/static")
    assert r.status == 200 and r.body == b"sorry\n", r
    assert r.header("X-Haven-Degraded") == "upstream_failed"
    # Pool only: haven's usual answer for what the spare pool could not serve either (502, or 503
    # once the refusals took both servers out of rotation).
    r = haven.get("/plain")
    assert r.status in (502, 503) and r.header("X-Haven-Degraded") is None, r


def test_a_reload_keeps_an_unchanged_breakers_state(spawn):
    b = spawn.backend("b1")
    cfg = cfg_with({"p": {"servers": [{"name": "b1", "address": b.address}], "retries": 0}},
                   listener_policies={"circuit_breaker": dict(BREAKER, timeout="30s")}, threads=1)
    haven = spawn.haven(cfg)
    b.control(status=503)
    for _ in range(3):
        haven.get("/")
    wait_until(lambda: events(haven, "breaker_open"), scaled(2), what="the breaker opening")
    cfg["timeouts"] = {"connect": "3s"}  # an unrelated change
    haven.reload(cfg)
    wait_until(lambda: "reload: configuration applied" in haven.log(), scaled(5), what="the reload")
    assert haven.get("/").status == 503 and total(scrape(haven.admin_port()), "haven_breaker_rejected_total") >= 1


# --- faults -------------------------------------------------------------------------------------

def test_configured_and_header_faults(spawn):
    b = spawn.backend("b1")
    cfg = cfg_with({"p": [b.address]},
                   routes=[{"match": {"path_prefix": "/always"}, "pool": "p",
                            "policies": {"fault": {"abort": {"percent": 100, "status": 418}}}},
                           {"match": {"path_prefix": "/opt-in"}, "pool": "p",
                            "policies": {"fault": {"header_faults": True}}},
                           {"pool": "p"}])
    haven = spawn.haven(cfg)
    assert statuses(haven, "/always", 3) == [418] * 3
    assert haven.get("/opt-in", headers={"x-haven-fault-abort": "503"}).status == 503
    began = time.monotonic()
    assert haven.get("/opt-in", headers={"x-haven-fault-delay": "300"}).status == 200
    assert time.monotonic() - began >= 0.29
    assert haven.get("/other", headers={"x-haven-fault-abort": "503"}).status == 200, "only where allowed"
    m = scrape(haven.admin_port())
    assert total(m, "haven_faults_injected_total", kind="abort") == 4
    assert total(m, "haven_faults_injected_total", kind="delay") == 1


def test_faults_switched_on_at_run_time_end_by_themselves(spawn):
    b = spawn.backend("b1")
    haven = spawn.haven(cfg_with({"p": [b.address]}))
    admin = f"127.0.0.1:{haven.admin_port()}"
    on = subprocess.run([HAVEN_BIN, "ctl", "-a", admin, "fault", "web", "*", "abort=100", "status=500", "for=2"],
                        capture_output=True, text=True, timeout=scaled(10))
    assert on.returncode == 0, on.stderr
    assert statuses(haven, "/", 3) == [500] * 3
    listed = subprocess.run([HAVEN_BIN, "ctl", "-a", admin, "policies"], capture_output=True, text=True,
                            timeout=scaled(10))
    assert "abort 100%" in listed.stdout, listed.stdout
    wait_until(lambda: haven.get("/").status == 200, scaled(5), what="the fault ending after 2 s")
    assert [e["detail"] for e in events(haven, "fault_off")] == ["expired"]
    bad = subprocess.run([HAVEN_BIN, "ctl", "-a", admin, "fault", "web", "*", "abort=lots"], capture_output=True,
                         text=True, timeout=scaled(10))
    assert bad.returncode == 2 and "usage: haven ctl fault" in bad.stderr
    r = http_request(haven.admin_port(), "POST", "/api/policies/faults", body=json.dumps({"listener": "nope", "abort_percent": 5}))
    assert r.status == 404 and "nope" in r.json()["error"]
    r = http_request(haven.admin_port(), "POST", "/api/policies/faults",
                     body=json.dumps({"listener": "web", "abort_percent": 150}))
    assert r.status == 400 and "abort_percent" in r.json()["error"]


# --- bad configuration --------------------------------------------------------------------------

@pytest.mark.parametrize("policies,message", [
    ({"rate_limit": {"limits": ["10 per fortnight"]}}, 'unknown unit "fortnight"'),
    ({"rate_limit": {"limits": ["ten per minute"]}}, 'expected "N per UNIT"'),
    ({"rate_limit": {}}, "needs limits:"),
    ({"circuit_breaker": {"failure_ratio": -0.5}}, "failure_ratio"),
    ({"fallback": {"body_file": "/nonexistent/sorry.html"}}, 'cannot read "/nonexistent/sorry.html"'),
    ({"fault": {"abort": {"percent": 150}}}, "percent"),
    ({"fallback": {"pool": "spares"}}, 'fallback.pool: unknown pool "spares"'),
    ({"fallback": {"degraded_header": "Bad Header"}}, 'fallback.degraded_header: invalid header name "Bad Header"'),
    ({"fallback": {"stale_if_error": {"max_object": "2MiB", "max_bytes": "1MiB"}}}, "max_object is larger than max_bytes"),
    ({"fallback": {"stale_if_error": {"max_stale": "soon"}}}, "fallback.stale_if_error.max_stale"),
])
def test_bad_policy_config_names_file_line_and_key(tmp_path, policies, message):
    from harness import to_yaml
    cfg = make_config(pools={"p": ["127.0.0.1:1"]})
    cfg["listeners"][0]["policies"] = policies
    path = tmp_path / "bad.yaml"
    path.write_text(to_yaml(cfg) + "\n")
    r = subprocess.run([HAVEN_BIN, "check", "-c", str(path)], capture_output=True, text=True, timeout=scaled(10))
    assert r.returncode == 1, r.stdout
    assert message in r.stderr, r.stderr
    assert f"{path}:" in r.stderr and "listeners[0].policies." in r.stderr, r.stderr


# --- bulkheads ----------------------------------------------------------------------------------

def test_a_saturated_background_route_leaves_critical_untouched(spawn):
    """The brief's bulkhead: /critical (10) and /background (5) on one slow pool. /background is
    flooded; /critical still answers every request, about as fast as when idle."""
    from closed_loop import ClosedLoop
    b = spawn.backend("slow", "--latency-ms", "100")
    cfg = cfg_with({"app": [b.address]},
                   routes=[{"match": {"path_prefix": "/critical"}, "pool": "app",
                            "policies": {"bulkhead": {"max_concurrent": 10}}},
                           {"match": {"path_prefix": "/background"}, "pool": "app",
                            "policies": {"bulkhead": {"max_concurrent": 5, "max_queue": 5, "queue_timeout": "300ms"}}}])
    haven = spawn.haven(cfg)
    idle = []
    for _ in range(5):
        began = time.monotonic()
        assert haven.get("/critical").status == 200
        idle.append(time.monotonic() - began)
    flood = ClosedLoop(haven.port(), 40, duration=scaled(3.0), path="/background")
    wait_until(lambda: total(scrape(haven.admin_port()), "haven_bulkhead_rejected_total", route="1") > 0, scaled(5),
               what="the background bulkhead full")
    busy = []
    for _ in range(10):
        began = time.monotonic()
        assert haven.get("/critical").status == 200
        busy.append(time.monotonic() - began)
    flood.finish()
    assert max(busy) < 3 * max(idle) + scaled(0.2), (idle, busy)
    statuses_seen = flood.by_status()
    assert set(statuses_seen) <= {200, 503}, statuses_seen
    assert statuses_seen.get(503, 0) > 0 and statuses_seen.get(200, 0) > 0, statuses_seen
    m = scrape(haven.admin_port())
    assert total(m, "haven_bulkhead_active", route="1") <= 5
    assert total(m, "haven_bulkhead_queued_total", route="1") > 0
    r = http_request(haven.admin_port(), "GET", "/api/policies").json()
    background = [x for x in r["routes"] if x["position"] == "1"][0]
    assert background["bulkhead"]["max"] == 5 and background["bulkhead"]["rejected"] > 0


def test_bulkhead_queue_hands_slots_in_order(spawn):
    b = spawn.backend("slow", "--latency-ms", "300")
    haven = spawn.haven(cfg_with({"app": [b.address]}, threads=2, listener_policies={
        "bulkhead": {"max_concurrent": 1, "max_queue": 10, "queue_timeout": "5s"}}))
    import threading
    results = []
    def one(i):
        results.append((i, haven.get("/", timeout=20).status))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    began = time.monotonic()
    for t in threads:
        t.start()
        time.sleep(0.02)  # arrive in order, possibly on different workers
    for t in threads:
        t.join(timeout=30)
    assert sorted(s for _, s in results) == [200] * 4, results
    assert time.monotonic() - began >= 1.1, "one at a time: 4 × 300 ms"


# --- resource limits ----------------------------------------------------------------------------

def test_a_pools_resource_limits_refuse_at_once_beyond_the_cap(spawn):
    import threading
    b = spawn.backend("slow", "--latency-ms", "600")
    haven = spawn.haven(cfg_with({"app": {"servers": [{"name": "slow", "address": b.address}],
                                         "resource_limits": {"max_requests": 2}}}, threads=2))
    results = []
    def one():
        began = time.monotonic()
        r = haven.get("/", timeout=20)
        results.append((r.status, time.monotonic() - began, r.body))
    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    ok = [x for x in results if x[0] == 200]
    over = [x for x in results if x[0] == 503]
    assert len(ok) == 2 and len(over) == 3, results
    assert all(d < 0.5 for _, d, _ in over), "refused at once, not queued"
    assert all(b"overflow" in body for _, _, body in over)
    m = scrape(haven.admin_port())
    assert total(m, "haven_pool_overflow_total", pool="app", resource="requests") == 3
    assert total(m, "haven_pool_resource_in_use", pool="app", resource="requests") == 0, "all released"
