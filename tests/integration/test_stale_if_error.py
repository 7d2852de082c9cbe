"""fallback.stale_if_error through the real binary (one worker thread, so one cache): the last good
answer to a GET answers for the route while its server returns 5xx or is dead, marked with Age and
X-Haven-Degraded; what was never fetched, a POST, and a copy past its stale window are not served
from it. docs/policies.md, "Stale responses (stale-if-error)"."""

import time

from harness import make_config, scaled, wait_until
from prom import scrape, total


def stale_haven(spawn, max_stale="30s", static_reply=False, **fallback_keys):
    b = spawn.backend("b1")
    fallback = {"stale_if_error": {"max_bytes": "1MiB", "max_object": "64KiB", "max_stale": max_stale}, **fallback_keys}
    if static_reply:
        fallback.update({"status": 503, "body": "sorry\n"})
    cfg = make_config(pools={"p": {"servers": [{"name": "b1", "address": b.address}], "retries": 0}}, threads=1)
    cfg["listeners"][0]["policies"] = {"fallback": fallback}
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return spawn.haven(cfg), b


def test_a_good_copy_answers_while_the_server_errs_and_after_it_dies(spawn):
    haven, b = stale_haven(spawn, static_reply=True)
    good = haven.get("/page?x=1")
    assert good.status == 200 and good.header("X-Haven-Degraded") is None, good
    # The server answers 503: the copy answers instead, marked (RFC 5861: 500, 502, 503, 504).
    b.control(status=503)
    r = haven.get("/page?x=1")
    assert (r.status, r.body) == (200, good.body), r
    assert r.header("X-Haven-Degraded") == "upstream_error; stale"
    assert r.header("Age") is not None and int(r.header("Age")) >= 0
    assert r.header("X-Backend") == "b1" and r.header("Content-Length") == str(len(good.body))
    # Another target was never fetched: the server's own 503 goes through (it is a response, not
    # a failure for the static fallback).
    assert haven.get("/page?x=2").status == 503
    # A POST is never answered from a copy.
    assert haven.request("POST", "/page?x=1", body=b"a").status == 503
    # The server dies: connects fail, and the copy still answers; what has no copy gets the
    # route's static reply.
    b.stop()
    r = haven.get("/page?x=1")
    assert (r.status, r.body) == (200, good.body), r
    assert r.header("X-Haven-Degraded") == "upstream_failed; stale"
    other = haven.get("/never")
    assert (other.status, other.body) == (503, b"sorry\n"), other
    m = scrape(haven.admin_port())
    assert total(m, "haven_stale_responses_total") == 2
    assert total(m, "haven_stale_cache_bytes") > len(good.body)


def test_a_copy_past_its_stale_window_is_not_served(spawn):
    haven, b = stale_haven(spawn, max_stale="1s")
    assert haven.get("/").status == 200
    b.stop()
    r = haven.get("/")
    assert r.status == 200 and r.header("X-Haven-Degraded") == "upstream_failed; stale", r
    time.sleep(1.2)  # the window itself is what is tested: 1 s, then the copy is gone
    # haven's own answer again: 502 (connect refused) or 503 (the server is out of rotation since).
    wait_until(lambda: haven.get("/").status in (502, 503), scaled(5), what="the expired copy to stop answering")
    r = haven.get("/")
    assert r.status in (502, 503) and r.header("X-Haven-Degraded") is None, r


def test_the_degraded_header_is_configurable_or_off(spawn):
    haven, b = stale_haven(spawn, static_reply=True, degraded_header="X-Served-Degraded")
    assert haven.get("/a").status == 200
    b.stop()
    stale, static = haven.get("/a"), haven.get("/b")
    assert stale.header("X-Served-Degraded") == "upstream_failed; stale" and stale.header("X-Haven-Degraded") is None
    assert static.status == 503 and static.header("X-Served-Degraded") in ("upstream_failed", "no_server"), static
    quiet, qb = stale_haven(spawn, static_reply=True, degraded_header="")
    qb.stop()
    r = quiet.get("/b")
    assert r.status == 503 and not any(k.lower().endswith("degraded") for k, _ in r.headers), r.headers
