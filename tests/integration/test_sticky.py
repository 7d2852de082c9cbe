"""Sticky sessions through the real binary (docs/sessions.md): the brief's HAProxy setup
(`cookie SERVERID insert indirect nocache`, a `cookie` per server), the rewrite and prefix modes
on an application's own cookie, a stick table on a header and in learn mode, and what happens to
a sticky client when its server is killed, drained or put in maintenance. Two worker threads, so a
client's requests land on different workers and the table must serve them all."""

import http.client
import re

from harness import make_config, scaled
from prom import scrape, total
from support_helpers import admin


def sticky_haven(spawn, sticky, n=3, cookies=None, extra=None):
    backends = [spawn.backend(f"web{i + 1}") for i in range(n)]
    servers = []
    for i, b in enumerate(backends):
        s = {"name": b.name, "address": b.address}
        if cookies:
            s["cookie"] = cookies[i]
        servers.append(s)
    pool = {"servers": servers, "sticky": sticky, **(extra or {})}
    cfg = make_config(pools={"web": pool}, threads=2)
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return spawn.haven(cfg), backends


def get(haven, path="/", cookie=None, headers=None):
    """A request on a new connection each time (a new connection may land on either worker)."""
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = cookie
    return haven.request("GET", path, headers=h, timeout=scaled(10))


def cookie_of(resp, name):
    for v in resp.header_all("Set-Cookie"):
        m = re.match(rf"\s*{name}=([^;]*)", v)
        if m:
            return m.group(1), v
    return None, None


def test_insert_indirect_nocache_pins_a_client_and_hides_the_cookie_from_the_server(spawn):
    haven, backends = sticky_haven(spawn, {"cookie": {"name": "SERVERID", "mode": "insert", "indirect": True,
                                                      "nocache": True, "httponly": True}},
                                   cookies=["web1", "web2", "web3"])
    first = get(haven, "/echo")
    assert first.status == 200, first
    value, line = cookie_of(first, "SERVERID")
    backend = first.header("X-Backend")
    assert value == backend, (value, backend)  # the server's `cookie:` value
    assert "HttpOnly" in line and "Path=/" in line, line
    assert first.header("Cache-Control") == "private", first.headers
    # 30 requests with the cookie, each on a new connection: all on that server, none sets it again,
    # and the server never sees haven's cookie (indirect) but does see the application's.
    for _ in range(30):
        r = get(haven, "/echo", cookie=f"app=1; SERVERID={value}")
        assert r.header("X-Backend") == backend, r.headers
        assert cookie_of(r, "SERVERID") == (None, None), r.headers
        sent = dict((k.lower(), v) for k, v in r.json()["headers"])
        assert sent.get("cookie") == "app=1", sent
    m = scrape(haven.admin_port())
    assert total(m, "haven_sticky_total", pool="web", result="cookie_hit") == 30
    assert total(m, "haven_sticky_total", pool="web", result="assigned") == 1


def test_default_cookie_values_are_opaque_and_the_same_in_another_instance(spawn):
    haven, backends = sticky_haven(spawn, {"cookie": {"name": "SRV"}})
    seen = {}
    for _ in range(6):
        r = get(haven)
        value, _ = cookie_of(r, "SRV")
        seen[r.header("X-Backend")] = value
    assert len(seen) == 3, seen
    for name, value in seen.items():
        assert re.fullmatch(r"[0-9a-f]{12}", value), value
        assert str(backends[0].port) not in value
    # A second haven with the same config names the servers alike: a cookie from the first works there.
    cfg = make_config(pools={"web": {"servers": [{"name": b.name, "address": b.address} for b in backends],
                                     "sticky": {"cookie": {"name": "SRV"}}}}, threads=2)
    other = spawn.haven(cfg, name="other")
    for name, value in seen.items():
        assert get(other, cookie=f"SRV={value}").header("X-Backend") == name


def test_a_killed_sticky_server_sends_its_clients_elsewhere_and_the_new_cookie_sticks(spawn):
    haven, backends = sticky_haven(spawn, {"cookie": {"name": "SRV", "mode": "insert"}},
                                   cookies=["a", "b", "c"],
                                   extra={"health_check": {"http": {"path": "/health"}, "interval": "200ms",
                                                           "fall": 1, "rise": 1}})
    backends[1].stop()  # web2 (cookie "b") is gone
    r = get(haven, cookie="SRV=b")
    assert r.status == 200 and r.header("X-Backend") in ("web1", "web3"), r
    new, _ = cookie_of(r, "SRV")
    assert new in ("a", "c"), r.headers
    for _ in range(5):
        assert get(haven, cookie=f"SRV={new}").header("X-Backend") == r.header("X-Backend")
    assert total(scrape(haven.admin_port()), "haven_sticky_total", pool="web", result="redispatched") >= 1


def test_without_redispatch_a_client_whose_server_is_out_gets_503(spawn):
    haven, backends = sticky_haven(spawn, {"cookie": {"name": "SRV"}, "redispatch": False}, cookies=["a", "b", "c"])
    assert admin(haven, "POST", "/api/pools/web/servers/web2/maint").status == 200
    r = get(haven, cookie="SRV=b")
    assert r.status == 503, r
    assert get(haven, cookie="SRV=a").header("X-Backend") == "web1"
    assert total(scrape(haven.admin_port()), "haven_sticky_total", pool="web", result="refused") == 1


def test_a_drained_server_keeps_its_sticky_clients_and_gets_no_new_ones(spawn):
    haven, backends = sticky_haven(spawn, {"cookie": {"name": "SRV"}}, cookies=["a", "b", "c"])
    assert admin(haven, "POST", "/api/pools/web/servers/web2/drain").status == 200
    for _ in range(5):
        assert get(haven, cookie="SRV=b").header("X-Backend") == "web2"
    fresh = {get(haven).header("X-Backend") for _ in range(12)}
    assert "web2" not in fresh, fresh


def test_rewrite_and_prefix_modes_mark_the_applications_cookie(spawn):
    haven, backends = sticky_haven(spawn, {"cookie": {"name": "JSESSIONID", "mode": "prefix"}}, cookies=["a", "b", "c"])
    r = get(haven, "/set-cookie?name=JSESSIONID&value=s3ss")
    value, line = cookie_of(r, "JSESSIONID")
    server = r.header("X-Backend")
    sid = {"web1": "a", "web2": "b", "web3": "c"}[server]
    assert value == f"{sid}~s3ss" and "HttpOnly" in line, line
    for _ in range(5):
        e = get(haven, "/echo", cookie=f"JSESSIONID={value}")
        assert e.header("X-Backend") == server
        sent = dict((k.lower(), v) for k, v in e.json()["headers"])
        assert sent["cookie"] == "JSESSIONID=s3ss", sent  # the server gets its own value back

    haven2, _ = sticky_haven(spawn, {"cookie": {"name": "SRV", "mode": "rewrite"}}, cookies=["a", "b", "c"])
    r = get(haven2, "/set-cookie?name=SRV&value=whatever")
    value, _ = cookie_of(r, "SRV")
    assert value == {"web1": "a", "web2": "b", "web3": "c"}[r.header("X-Backend")], r.headers
    for _ in range(5):
        assert get(haven2, cookie=f"SRV={value}").header("X-Backend") == r.header("X-Backend")


def test_a_stick_table_on_a_header_pins_each_user_across_workers(spawn):
    haven, backends = sticky_haven(spawn, {"table": {"on": "header:X-User", "expire": "10m", "size": 1000}})
    first = {}
    for user in ("alice", "bob", "carol", "dave"):
        first[user] = get(haven, headers={"X-User": user}).header("X-Backend")
    assert len(set(first.values())) >= 2, first  # balanced at first
    for _ in range(5):
        for user, server in first.items():
            assert get(haven, headers={"X-User": user}).header("X-Backend") == server
    m = scrape(haven.admin_port())
    assert total(m, "haven_stick_table_entries", pool="web") == 4
    assert total(m, "haven_sticky_total", pool="web", result="table_hit") == 20


def test_learn_mode_sticks_the_applications_session_cookie_to_the_server_that_set_it(spawn):
    haven, backends = sticky_haven(spawn, {"table": {"on": "cookie:SID"}})
    sessions = {}
    for _ in range(6):
        r = get(haven, "/set-cookie?name=SID")
        value, _ = cookie_of(r, "SID")
        assert value, r.headers
        sessions[value] = r.header("X-Backend")
    assert len(set(sessions.values())) >= 2, sessions  # balanced (round-robin per worker)
    for _ in range(4):
        for value, server in sessions.items():
            assert get(haven, cookie=f"SID={value}").header("X-Backend") == server
