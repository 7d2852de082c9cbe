"""Admin listener rules from docs/admin.md that test_admin.py does not reach: every write route
refuses a missing or wrong token (401, nothing changes) and accepts the right one; the token is
redacted in /api/config; a body without Content-Length gets 411 and an oversized one 413;
`maint` and its alias `disable` both take a server out and show in /api/pools; /ready is 503
until the first round of health checks is done; reads from a non-loopback address need the token
(except the dashboard's files), tested from a network namespace this file creates and removes."""

import json

import pytest

from harness import (FAST_CHECKS, RawClient, free_port, http_request, make_config, missing_tool, request_bytes, scaled,
                     wait_until)
from support_helpers import (NetNamespace, admin, api_events, finish_start, server_view, start_haven_unready,
                             states)

TOKEN = "tok-3f9a1c-admin"


def config(backends, token_file=None, listen="127.0.0.1:0", checks=FAST_CHECKS):
    pool = {"servers": [{"name": b.name, "address": b.address} for b in backends]}
    if checks:
        pool["health_check"] = checks
    cfg = make_config(pools={"p": pool}, threads=1)
    cfg["admin"] = {"listen": listen}
    if token_file:
        cfg["admin"]["token_file"] = str(token_file)
    return cfg


@pytest.fixture
def token_file(tmp_path):
    f = tmp_path / "admin.token"
    f.write_text(TOKEN + "\n")  # the final newline is not part of the token
    return f


@pytest.fixture
def guarded(spawn, token_file):
    b1, b2 = spawn.backends(2)
    return spawn.haven(config([b1, b2], token_file=token_file))


WRITES = [
    ("POST", "/api/pools/p/servers/b1/drain", None),
    ("POST", "/api/pools/p/servers/b1/maint", None),
    ("POST", "/api/pools/p/servers/b1/disable", None),
    ("POST", "/api/pools/p/servers/b1/enable", None),
    ("POST", "/api/pools/p/servers/b1/weight?value=7", None),
    ("POST", "/api/pools/p/servers/b1/weight", json.dumps({"weight": 9})),
    ("POST", "/api/reload", None),
]


@pytest.mark.parametrize("method,path,body", WRITES, ids=[w[1].rsplit("/", 1)[-1] for w in WRITES])
def test_write_without_or_with_a_wrong_token_is_401_and_changes_nothing(guarded, method, path, body):
    before = server_view(guarded, "p", "b1")
    seq_before = admin(guarded, "GET", "/api/events").json()["last_seq"]
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1], ""):
        r = admin(guarded, method, path, body=body, token=token)
        assert r.status == 401, (token, r.status, r.text)
        assert "error" in r.json()
        assert r.header("WWW-Authenticate") == "Bearer"
    # The scheme matters too: the token alone, or as Basic credentials, is not a bearer token.
    for value in (TOKEN, f"Basic {TOKEN}"):
        r = admin(guarded, method, path, body=body, headers={"Authorization": value})
        assert r.status == 401, (value, r.status)
    after = server_view(guarded, "p", "b1")
    assert (after["admin"], after["weight"]) == (before["admin"], before["weight"]) == ("ready", 1)
    assert admin(guarded, "GET", "/api/events").json()["last_seq"] == seq_before, "a refused write left no event"


def test_writes_with_the_right_token_succeed(guarded):
    expected = {"drain": "drain", "maint": "maint", "disable": "maint", "enable": "up"}
    for action, state in expected.items():
        r = admin(guarded, "POST", f"/api/pools/p/servers/b1/{action}", token=TOKEN)
        assert r.status == 200, (action, r.text)
        assert server_view(guarded, "p", "b1")["state"] == state, action
    r = admin(guarded, "POST", "/api/pools/p/servers/b1/weight?value=7", token=TOKEN)
    assert r.status == 200 and server_view(guarded, "p", "b1")["weight"] == 7
    r = admin(guarded, "POST", "/api/reload", token=TOKEN)
    assert r.status == 200, r.text
    kinds = [e["kind"] for e in api_events(guarded)]
    for kind in ("admin_drain", "admin_maint", "admin_ready", "weight", "reload"):
        assert kind in kinds, (kind, kinds)


def test_config_shows_the_token_redacted(guarded, token_file):
    r = admin(guarded, "GET", "/api/config")
    assert r.status == 200
    assert TOKEN not in r.text, "the token itself must never be shown"
    cfg = r.json()["admin"]
    assert cfg["token"] == "(redacted)" and cfg["token_file"] == str(token_file)
    # Nor anywhere else the API shows (status, events, metrics).
    for path in ("/api/status", "/api/events", "/api/pools", "/metrics", "/health?deep=1"):
        assert TOKEN not in admin(guarded, "GET", path).text, path


def raw_admin(haven, data: bytes):
    with RawClient(haven.admin_port(), timeout=10) as c:
        c.send(data)
        return c.read_response(timeout=10)


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_body_without_content_length_is_411_and_oversized_is_413(guarded, token):
    auth = [("Authorization", f"Bearer {TOKEN}")] if token else []
    body = json.dumps({"weight": 5}).encode()
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    r = raw_admin(guarded, request_bytes("POST", "/api/pools/p/servers/b1/weight",
                                         headers=[("Content-Type", "application/json"),
                                                  ("Transfer-Encoding", "chunked")] + auth,
                                         content_length=False) + chunked)
    assert r.status == 411, r
    assert "error" in json.loads(r.body)
    # 64 MiB announced (far above any admin body); only the head is sent: the answer does not wait for it.
    r = raw_admin(guarded, request_bytes("POST", "/api/pools/p/servers/b1/weight",
                                         headers=[("Content-Type", "application/json"),
                                                  ("Content-Length", str(64 << 20))] + auth,
                                         content_length=False))
    assert r.status == 413, r
    assert "error" in json.loads(r.body)
    assert server_view(guarded, "p", "b1")["weight"] == 1, "neither request changed anything"
    # A proper body with Content-Length works (with the token).
    r = admin(guarded, "POST", "/api/pools/p/servers/b1/weight", body=body.decode(), token=TOKEN)
    assert r.status == 200 and server_view(guarded, "p", "b1")["weight"] == 5


@pytest.mark.parametrize("action", ["maint", "disable"])
def test_maint_and_its_alias_disable_take_the_server_out(spawn, token_file, action):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(config([b1, b2], token_file=token_file))
    r = admin(haven, "POST", f"/api/pools/p/servers/b1/{action}", token=TOKEN)
    assert r.status == 200, r.text
    view = server_view(haven, "p", "b1")
    assert (view["state"], view["admin"], view["serving"]) == ("maint", "maint", False), view
    assert [s["state"] for s in r.json()["servers"]] == ["maint", "up"], "the answer shows the pool after the action"
    # Workers adopt it within their next tick (100 ms): then no request reaches b1.
    wait_until(lambda: {haven.get("/").header("X-Backend") for _ in range(4)} == {"b2"}, scaled(2), what="b1 out")
    assert {haven.get("/").header("X-Backend") for _ in range(8)} == {"b2"}
    ev = [e for e in api_events(haven, "admin_maint") if e["server"] == "b1"]
    assert len(ev) == 1 and ev[0]["pool"] == "p", ev
    assert admin(haven, "POST", "/api/pools/p/servers/b1/enable", token=TOKEN).status == 200
    assert states(haven, "p") == {"b1": "up", "b2": "up"}
    wait_until(lambda: "b1" in {haven.get("/").header("X-Backend") for _ in range(4)}, scaled(2), what="b1 back")


def test_ready_is_503_until_the_first_round_of_checks_is_done(spawn):
    # Each server's /health answers after 1 s, so the first round of checks takes about that long.
    backends = [spawn.backend(f"b{i}", "--health-latency-ms", "1000") for i in (1, 2)]
    checks = {"http": {"path": "/health"}, "interval": "3s", "timeout": "2s", "fall": 2, "rise": 2}
    admin_port = free_port()
    haven = start_haven_unready(spawn, config(backends, listen=f"127.0.0.1:{admin_port}", checks=checks))
    statuses = []

    def poll():
        try:
            r = http_request(admin_port, "GET", "/ready", timeout=5)
        except OSError:
            return False  # not listening yet
        statuses.append(r.status)
        return r.status == 200 and r

    ok = wait_until(poll, scaled(10), interval=0.02, what="/ready 200")
    assert ok.json() == {"ready": True}
    assert 503 in statuses, f"/ready never said 503 while the first checks ran: {statuses}"
    first_ok = statuses.index(200)
    assert set(statuses[:first_ok]) == {503}, statuses
    finish_start(haven)
    log = haven.log()
    assert "first round of checks done" in log, log[-2000:]
    for _ in range(5):
        assert admin(haven, "GET", "/ready").status == 200
    for b in backends:
        view = server_view(haven, "p", b.name)
        assert view["checks"] >= 1 and view["last_check"] == "ok", view


# --- reads from a non-loopback address ---------------------------------------------------------


@pytest.fixture
def netns():
    reason = NetNamespace.available()
    if reason:
        missing_tool("a network namespace", reason)  # under CI=true (root there): a failure
    ns = NetNamespace()
    try:
        ns.create()
    except RuntimeError as e:
        ns.remove()
        missing_tool("a network namespace", f"cannot create one here: {e}")
    try:
        yield ns
    finally:
        ns.remove()


def test_reads_from_a_non_loopback_address_need_the_token(spawn, token_file, netns):
    b1, b2 = spawn.backends(2)
    haven = spawn.haven(config([b1, b2], token_file=token_file, listen=f"{netns.host_ip}:0"))
    port = haven.admin_port()
    for path in ("/api/pools", "/api/status", "/api/config", "/metrics", "/ready", "/health", "/api/events"):
        status, body, headers = netns.http_get(netns.host_ip, port, path)
        assert status == 401, (path, status, body)
        status, body, _ = netns.http_get(netns.host_ip, port, path, token="wrong")
        assert status == 401, (path, status, body)
        status, body, _ = netns.http_get(netns.host_ip, port, path, token=TOKEN)
        assert status == 200, (path, status, body)
    status, body, _ = netns.http_get(netns.host_ip, port, "/api/pools", token=TOKEN)
    assert [s["name"] for s in json.loads(body)["pools"][0]["servers"]] == ["b1", "b2"]
    # The dashboard's own files load without a token (the page then asks for it).
    for path in ("/", "/app.js", "/style.css"):
        status, body, _ = netns.http_get(netns.host_ip, port, path)
        assert status == 200 and body, path
