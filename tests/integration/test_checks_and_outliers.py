"""Health checks, outlier detection and drain at run time (docs/failover.md, docs/configuration.md):
the `max_ejected_percent` cap while several servers fail at once (`ejection_refused`); draining a
server through the API while a slow request to it is in flight; `tcp: {}` checks (a closed port
is marked down, a port that listens again comes back; the first check decides); the per-server
check `port` override (the probe goes to that port, not to the service port); and the defaults of
`timeout`, `fast_interval` and `down_interval`, which follow `interval`."""

import re
import threading
import time

import pytest

from harness import make_config, scaled, wait_until
from prom import scrape, total
from support_helpers import PortListener, admin, api_events, server_view, states, wait_state

# interval alone: timeout, fast_interval and down_interval take their defaults from it
# (min(2s, interval) = 200 ms, min(1s, interval / 2) = 100 ms, interval = 200 ms).
TCP_CHECKS = {"tcp": {}, "interval": "200ms", "fall": 2, "rise": 2, "jitter": "0%"}
HTTP_CHECKS = dict(TCP_CHECKS, http={"path": "/health"})
del HTTP_CHECKS["tcp"]


def srv(b, **extra):
    return {"name": b.name, "address": b.address, **extra}


def start(spawn, servers, threads=1, **pool):
    cfg = make_config(pools={"p": {"servers": servers, **pool}}, threads=threads)
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return spawn.haven(cfg)


def backends_of(haven, n=8):
    return [haven.get("/").header("X-Backend") for _ in range(n)]


def kinds_for(haven, kind, server):
    return [e for e in api_events(haven, kind) if e["server"] == server]


# --- max_ejected_percent -------------------------------------------------------------------


@pytest.mark.parametrize("n,failing,percent,cap", [(4, 3, "50%", 2), (3, 3, "10%", 1), (5, 4, "40", 2)],
                         ids=["50%-of-4", "10%-of-3-one-always-allowed", "bare-40-of-5"])
def test_max_ejected_percent_caps_ejections_at_run_time(spawn, n, failing, percent, cap):
    backends = [spawn.backend(f"b{i + 1}") for i in range(n)]
    haven = start(spawn, [srv(b) for b in backends], retries=0,
                  outlier_detection={"consecutive_failures": 3, "base_ejection": "60s",
                                     "max_ejected_percent": percent})
    assert set(backends_of(haven, 2 * n)) == {b.name for b in backends}
    bad = backends[:failing]
    for b in bad:
        b.control(error_rate=1)  # every request to it is answered 500 from now on

    def capped_and_refused():
        for _ in range(n):
            haven.get("/")
        ejected = [s for s, st in states(haven, "p").items() if st == "ejected"]
        assert len(ejected) <= cap, f"{ejected} ejected at once; max_ejected_percent {percent} of {n} allows {cap}"
        return len(ejected) == cap and api_events(haven, "ejection_refused")

    wait_until(capped_and_refused, scaled(10), interval=0.05, what=f"{cap} ejections and an ejection_refused")
    # Keep the failing traffic going: the cap holds, and further refusals are recorded.
    for _ in range(10):
        capped_and_refused()
    ejected = {e["server"] for e in api_events(haven, "ejected")}
    refused = {e["server"] for e in api_events(haven, "ejection_refused")}
    assert len(ejected) == cap and ejected <= {b.name for b in bad}, ejected
    assert refused and refused <= {b.name for b in bad} - ejected, (refused, ejected)
    assert all("max_ejected_percent" in e["detail"] for e in api_events(haven, "ejection_refused"))
    m = scrape(haven.admin_port())
    assert total(m, "haven_server_state", pool="p", state="ejected") == cap
    assert total(m, "haven_outlier_ejections_total", pool="p") == cap
    for name in refused:
        assert total(m, "haven_server_state", pool="p", server=name, state="ejected") == 0
    # The servers that were refused an ejection still take requests (they were not taken out).
    served = set(backends_of(haven, 3 * n))
    assert refused <= served and not (ejected & served), (served, ejected, refused)


# How an ejected server returns: early on a passing check, unless 5xx responses ejected it.
EJECT_CHECKS = dict(HTTP_CHECKS, interval="200ms")


def eject(haven, server):
    def ejected():
        for _ in range(4):
            haven.get("/")
        return kinds_for(haven, "ejected", server)
    return wait_until(ejected, scaled(5), interval=0.02, what=f"{server} ejected")[-1]


def test_server_ejected_for_resets_returns_when_an_active_check_passes(spawn):
    b1, b2 = spawn.backends(2)
    haven = start(spawn, [srv(b1), srv(b2)], retries=0, health_check=EJECT_CHECKS,
                  outlier_detection={"consecutive_failures": 3, "base_ejection": "60s"})
    b1.control(close_rate=1)  # every request closed unanswered; /health still passes
    ev = eject(haven, "b1")
    assert "(0 5xx)" in ev["detail"] and "or until an active check passes" in ev["detail"], ev
    b1.control(close_rate=0)
    # Its checks pass, so it is back long before the 60 s ejection ends.
    wait_until(lambda: kinds_for(haven, "returned", "b1"), scaled(3), what="b1 back after a passing check")
    assert server_view(haven, "p", "b1")["ejected"] is False
    wait_until(lambda: "b1" in backends_of(haven, 4), scaled(2), what="b1 serving again")


def test_server_ejected_for_5xx_runs_its_time_despite_passing_checks(spawn):
    b1, b2 = spawn.backends(2)
    haven = start(spawn, [srv(b1), srv(b2)], retries=0, health_check=EJECT_CHECKS,
                  outlier_detection={"consecutive_failures": 3, "base_ejection": "3s"})
    b1.control(error_rate=1)  # 500 to every request; /health still passes
    ev = eject(haven, "b1")
    m = re.match(r"(\d+) consecutive failures \((\d+) 5xx\)", ev["detail"])
    assert m and int(m.group(1)) == int(m.group(2)) >= 3 and "active check" not in ev["detail"], ev
    b1.control(error_rate=0)
    checks = server_view(haven, "p", "b1")["checks"]
    wait_until(lambda: server_view(haven, "p", "b1")["checks"] >= checks + 3, scaled(3), what="three passing checks")
    view = server_view(haven, "p", "b1")
    assert (view["state"], view["health"], view["last_check"]) == ("ejected", "up", "ok"), view
    assert set(backends_of(haven, 6)) == {"b2"}
    returned = wait_until(lambda: kinds_for(haven, "returned", "b1"), scaled(3 + 3), what="b1 back after 3 s")
    assert "ejection time passed" in returned[-1]["detail"], returned


# --- drain through the API --------------------------------------------------------------------


def test_drain_through_the_api_lets_the_in_flight_request_finish(spawn):
    b1, b2 = spawn.backends(2)
    haven = start(spawn, [srv(b1), srv(b2)])
    result = {}

    def slow():
        began = time.monotonic()
        r = haven.get("/delay?ms=3000", timeout=30)
        result.update(status=r.status, backend=r.header("X-Backend"), body=r.text,
                      took=time.monotonic() - began)

    t = threading.Thread(target=slow, daemon=True)
    t.start()

    def busy_server():
        busy = [s["name"] for s in admin(haven, "GET", "/api/pools").json()["pools"][0]["servers"] if s["active"] == 1]
        return busy[0] if busy else None

    victim = wait_until(busy_server, scaled(3), what="the slow request in flight")
    other = "b2" if victim == "b1" else "b1"
    r = admin(haven, "POST", f"/api/pools/p/servers/{victim}/drain")
    assert r.status == 200, r.text
    assert t.is_alive(), "the slow request must still be in flight when its server is drained"
    assert server_view(haven, "p", victim)["state"] == "drain"
    # Within a worker tick new requests stop going to the drained server.
    wait_until(lambda: set(backends_of(haven, 4)) == {other}, scaled(2), what="new requests avoid the drained server")
    assert set(backends_of(haven, 10)) == {other}
    assert t.is_alive() and server_view(haven, "p", victim)["active"] == 1, "the in-flight request was not cut"
    t.join(timeout=scaled(30))
    assert result.get("status") == 200 and result["backend"] == victim, result
    assert result["took"] >= 2.9, result
    view = server_view(haven, "p", victim)
    assert (view["state"], view["active"]) == ("drain", 0), view
    assert kinds_for(haven, "admin_drain", victim)


def test_reload_keeps_the_api_drain_unless_the_config_state_changes(spawn):
    b1, b2 = spawn.backends(2)
    haven = start(spawn, [srv(b1), srv(b2)])
    assert admin(haven, "POST", "/api/pools/p/servers/b1/drain").status == 200

    def reload(servers):
        cfg = make_config(pools={"p": {"servers": servers}}, threads=1)
        cfg["admin"] = {"listen": "127.0.0.1:0"}
        haven.write_config(cfg)
        r = admin(haven, "POST", "/api/reload")
        assert r.status == 200, r.text

    reload([srv(b1), srv(b2), srv(spawn.backend("b3"))])  # b1's `state:` unchanged (ready)
    assert states(haven, "p") == {"b1": "drain", "b2": "up", "b3": "up"}
    wait_until(lambda: set(backends_of(haven, 6)) == {"b2", "b3"}, scaled(2), what="b1 still drained")
    reload([srv(b1, state="maint"), srv(b2)])  # the config's state for b1 changed: it wins
    assert states(haven, "p") == {"b1": "maint", "b2": "up"}
    reload([srv(b1), srv(b2)])  # and changed back to ready
    assert states(haven, "p") == {"b1": "up", "b2": "up"}
    wait_until(lambda: "b1" in backends_of(haven, 4), scaled(2), what="b1 serving after the reload")


# --- tcp checks -------------------------------------------------------------------------------


def test_check_timing_defaults_follow_interval(spawn):
    b1 = spawn.backend("b1")
    haven = start(spawn, [srv(b1)], health_check=TCP_CHECKS)
    hc = admin(haven, "GET", "/api/config").json()["pools"][0]["health_check"]
    assert (hc["interval_ms"], hc["timeout_ms"], hc["fast_interval_ms"], hc["down_interval_ms"]) == (200, 200, 100, 200)
    assert hc["initial"] == "check"


def test_tcp_check_marks_a_closed_port_down_and_a_listening_one_up(spawn):
    b1, b2 = spawn.backends(2)
    port = b1.port
    haven = start(spawn, [srv(b1), srv(b2)], health_check=TCP_CHECKS)
    assert states(haven, "p") == {"b1": "up", "b2": "up"}
    assert set(backends_of(haven)) == {"b1", "b2"}
    b1.proc.kill()  # its port closes: connects are refused
    # No traffic meanwhile: the checks alone find it (worst case about 0.6 s here).
    wait_state(haven, "p", "b1", "down", 5)
    down = kinds_for(haven, "server_down", "b1")
    assert down and "refused" in down[-1]["detail"], down
    assert server_view(haven, "p", "b1")["last_check"] != "ok"
    assert set(backends_of(haven)) == {"b2"}
    spawn.backend("b1", port=port)  # listening again
    wait_state(haven, "p", "b1", "up", 5)
    assert kinds_for(haven, "server_up", "b1")
    wait_until(lambda: "b1" in backends_of(haven, 4), scaled(2), what="b1 serving again")


def test_first_tcp_check_decides_a_dead_server_is_down_from_the_start(spawn):
    live = spawn.backend("live")
    dead = spawn.dead_port()
    haven = start(spawn, [srv(live), {"name": "dead", "address": dead.address}],
                  health_check={"tcp": {}, "interval": "2s", "fall": 3, "rise": 2}, retries=0)
    # The first round ran before haven was ready: one failed check made it down, not `fall` (3).
    view = server_view(haven, "p", "dead")
    assert (view["state"], view["health"], view["serving"]) == ("down", "down", False), view
    assert view["checks"] == 1, view
    assert set(backends_of(haven, 10)) == {"live"}
    m = scrape(haven.admin_port())
    assert total(m, "haven_upstream_attempts_total", server="dead") == 0, "no request was sent to the dead server"


# --- the per-server check port ------------------------------------------------------------------


def test_check_port_override_tcp_probes_that_port(spawn):
    b1, b2 = spawn.backends(2)
    side = PortListener()
    spawn.items.append(side)
    haven = start(spawn, [srv(b1, health_check={"port": side.port}), srv(b2)], health_check=TCP_CHECKS)
    assert states(haven, "p") == {"b1": "up", "b2": "up"}
    # The checks of b1 go to the side port, none to b1's service port.
    before_side, before_b1 = side.accepted, b1.stats()["connections"]
    wait_until(lambda: side.accepted >= before_side + 3, scaled(3), what="checks on the side port")
    assert b1.stats()["connections"] == before_b1 + 1, "only our /stats call reached b1's service port"
    # Closing the side port takes b1 down although its service port is fine.
    side.stop()
    wait_state(haven, "p", "b1", "down", 5)
    assert set(backends_of(haven)) == {"b2"}
    assert b1.stats()["requests"] >= 1  # b1 itself still answers
    side.start()
    wait_state(haven, "p", "b1", "up", 5)
    wait_until(lambda: "b1" in backends_of(haven, 4), scaled(2), what="b1 serving again")


def test_check_port_override_http_probes_that_port(spawn):
    b1, b2 = spawn.backends(2)
    health = spawn.backend("b1-health")  # a separate health endpoint for b1
    haven = start(spawn, [srv(b1, health_check={"port": health.port}), srv(b2)], health_check=HTTP_CHECKS)
    assert states(haven, "p") == {"b1": "up", "b2": "up"}
    health.control(health="fail")
    wait_state(haven, "p", "b1", "down", 5)
    assert "status 503" in kinds_for(haven, "server_down", "b1")[-1]["detail"]
    assert states(haven, "p")["b2"] == "up"
    assert set(backends_of(haven)) == {"b2"}
    health.control(health="ok")
    wait_state(haven, "p", "b1", "up", 5)
    # b1's own /health is not what is checked: failing it changes nothing.
    b1.control(health="fail")
    checks = server_view(haven, "p", "b1")["checks"]
    wait_until(lambda: server_view(haven, "p", "b1")["checks"] >= checks + 4, scaled(3), what="four more checks")
    assert server_view(haven, "p", "b1")["state"] == "up"
