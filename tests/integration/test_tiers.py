"""Tiers end to end: `min_healthy` never spills traffic to a tier that would serve fewer servers,
`all_backups`, and region tiers (priority 0 / priority 1) failing over and back. Servers are
killed for real or put in maintenance through the admin API; the answers' X-Backend shows who
serves."""

from harness import http_request, make_config, scaled, wait_until


def config(servers, **pool):
    cfg = make_config(pools={"p": {"servers": servers, **pool}}, threads=1)
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return cfg


def srv(b, **extra):
    return {"name": b.name, "address": b.address, **extra}


def serving(haven, n=12):
    return {haven.get("/").header("X-Backend") for _ in range(n)}


def pool_state(haven):
    r = http_request(haven.admin_port(), "GET", "/api/pools/p")
    assert r.status == 200, r
    return r.json()


def admin_post(haven, path):
    r = http_request(haven.admin_port(), "POST", path)
    assert r.status == 200, r


def test_min_healthy_keeps_a_primary_rather_than_one_spare_backup(spawn):
    p1, p2, s1, s2 = spawn.backend("p1"), spawn.backend("p2"), spawn.backend("s1"), spawn.backend("s2")
    haven = spawn.haven(config([srv(p1), srv(p2), srv(s1, backup=True), srv(s2, backup=True)], min_healthy=2))
    assert serving(haven) == {"p1", "p2"}
    p2.proc.kill()
    # The worker that saw p2 refuse stops at once; the control thread follows within its tick.
    wait_until(lambda: serving(haven) == {"p1"}, scaled(5), what="p1 alone serving")
    wait_until(lambda: pool_state(haven)["mode"] == "degraded", scaled(5), what="the pool degraded")
    st = pool_state(haven)
    assert (st["tier"], st["mode"], st["serving"]) == (0, "degraded", 1), st
    assert serving(haven, 30) == {"p1"}, "one spare backup would serve no more than p1 does"


def test_with_all_backups_the_backup_tier_takes_over(spawn):
    p1, p2, s1, s2 = spawn.backend("p1"), spawn.backend("p2"), spawn.backend("s1"), spawn.backend("s2")
    haven = spawn.haven(config([srv(p1), srv(p2), srv(s1, backup=True), srv(s2, backup=True)],
                               min_healthy=2, all_backups=True))
    p2.proc.kill()
    wait_until(lambda: serving(haven) == {"s1", "s2"}, scaled(5), what="both backups serving")
    wait_until(lambda: pool_state(haven)["tier"] == 1, scaled(5), what="tier 1 in service")
    st = pool_state(haven)
    assert (st["tier"], st["mode"], st["serving"]) == (1, "normal", 2), st


def test_a_single_backup_serves_only_when_no_primary_is_left(spawn):
    p1, p2, s1 = spawn.backend("p1"), spawn.backend("p2"), spawn.backend("s1")
    haven = spawn.haven(config([srv(p1), srv(p2), srv(s1, backup=True)], min_healthy=2))
    p1.proc.kill()
    wait_until(lambda: serving(haven) == {"p2"}, scaled(5), what="p2 alone serving")
    assert serving(haven, 30) == {"p2"}
    p2.proc.kill()
    wait_until(lambda: serving(haven) == {"s1"}, scaled(5), what="the backup serving")
    wait_until(lambda: pool_state(haven)["tier"] == 1, scaled(5), what="tier 1 in service")


def test_regions_fail_over_and_back(spawn):
    us = [spawn.backend("us1"), spawn.backend("us2")]
    eu = [spawn.backend("eu1"), spawn.backend("eu2")]
    haven = spawn.haven(config([srv(b, priority=0) for b in us] + [srv(b, priority=1) for b in eu],
                               min_healthy=2))
    assert serving(haven) == {"us1", "us2"}
    admin_post(haven, "/api/pools/p/servers/us1/maint")
    wait_until(lambda: serving(haven) == {"eu1", "eu2"}, scaled(5), what="eu serving")
    st = pool_state(haven)  # an admin action is decided on the control thread: no lag here
    assert (st["tier"], st["mode"]) == (1, "normal"), st
    admin_post(haven, "/api/pools/p/servers/us1/enable")
    wait_until(lambda: serving(haven) == {"us1", "us2"}, scaled(5), what="us serving again")
    events = http_request(haven.admin_port(), "GET", "/api/events").json()["events"]
    failovers = [e["detail"] for e in events if e["kind"] == "failover"]
    assert failovers == ["tier 0 -> tier 1", "tier 1 -> tier 0"], failovers
