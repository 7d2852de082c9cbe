"""Health checks and failover through real processes: a server killed under load, active-passive
failover and back, a server whose /health turns 503, passive ejection, retries on another server,
and a POST that must never be sent twice. Every load loop is bounded in count and time."""

import itertools
import re
import threading
import time

from harness import FAST_CHECKS, http_request, make_config, read_and_count, request_bytes, scaled, wait_until



def pool_of(servers, **extra):
    return {"servers": servers, **extra}


class Load:
    """GETs from `workers` threads until stopped (at most `limit` seconds); records outcomes.
    Each request carries its own number (`?n=`), so its access log record can be found."""

    def __init__(self, haven, workers=4, limit=30.0, path="/"):
        self.haven, self.path, self.limit = haven, path, limit
        self.stop = threading.Event()
        self.results = []  # (time the request was sent, status, backend, request number)
        self.lock = threading.Lock()
        self.counter = itertools.count()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        for t in self.threads:
            t.start()

    def _run(self):
        deadline = time.monotonic() + self.limit
        sep = "&" if "?" in self.path else "?"
        while not self.stop.is_set() and time.monotonic() < deadline:
            with self.lock:
                n = next(self.counter)
            sent = time.monotonic()
            try:
                r = self.haven.get(f"{self.path}{sep}n={n}", timeout=10)
                item = (sent, r.status, r.header("X-Backend"), n)
            except OSError as e:
                item = (sent, f"error {e!r}", None, n)
            with self.lock:
                self.results.append(item)
            time.sleep(0.005)

    def served_by(self):
        with self.lock:
            return {r[2] for r in self.results if r[1] == 200}

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
        assert not any(t.is_alive() for t in self.threads), "load threads still running"
        return self.results

    def errors(self):
        return [r for r in self.results if r[1] != 200]


def access_records_by_number(haven, results):
    """The access log record of each request of a Load, keyed by the request's number (waits
    until every one is written)."""
    wanted = {r[3] for r in results}
    by_n = {}

    def complete():
        for rec in haven.access_log(min_lines=1):
            m = re.search(r"[?&]n=(\d+)", rec["path"])
            if m:
                by_n[int(m.group(1))] = rec
        return wanted <= by_n.keys()

    try:
        wait_until(complete, scaled(10), interval=0.1, what="the access log records of the load")
    except TimeoutError:
        raise AssertionError(f"no access log record for requests {sorted(wanted - by_n.keys())[:10]}") from None
    return by_n


def pool_status(haven, pool="p"):
    r = http_request(haven.admin_port(), "GET", f"/api/pools/{pool}")
    assert r.status == 200, r
    return r.json()


def events(haven, kind):
    return re.findall(rf"event={kind} pool=(\S+) server=(\S+) detail=\"([^\"]*)\"", haven.log())


# How long after a kill haven may still try the dead server. A refused connect takes it out of a
# worker's picks at once and out of every worker's within 100 ms; this bound is ten times that.
OUT_OF_ROTATION_BOUND = 1.0


def test_kill_one_of_three_servers_under_load_no_client_errors(spawn, tmp_path):
    b1, b2, b3 = spawn.backends(3)
    cfg = make_config(pools={"p": pool_of([{"name": b.name, "address": b.address} for b in (b1, b2, b3)],
                                          health_check=FAST_CHECKS)},
                      access_log=str(tmp_path / "access.log"))
    haven = spawn.haven(cfg)
    load = Load(haven, workers=4)
    wait_until(lambda: load.served_by() == {"b1", "b2", "b3"}, scaled(5), what="all three servers serving")
    b2.proc.kill()  # kill -9: connections reset, new connects refused; returns once b2 is gone
    killed = time.monotonic()
    # On purpose: the load runs on for a while after the kill; what haven does meanwhile is checked below.
    time.sleep(scaled(OUT_OF_ROTATION_BOUND) + scaled(1.0))
    results = load.finish()
    assert len(results) > 100
    assert not load.errors(), load.errors()[:5]
    late = [r for r in results if r[0] > killed + scaled(OUT_OF_ROTATION_BOUND)]
    assert len(late) >= 20, f"only {len(late)} requests sent after the bound"
    assert {r[2] for r in late} == {"b1", "b3"}, "the two live servers share the traffic"
    recs = access_records_by_number(haven, results)
    tried_b2 = [recs[r[3]] for r in late if "b2" in recs[r[3]]["tried"].split(",")]
    assert not tried_b2, (f"requests sent more than {OUT_OF_ROTATION_BOUND}s after b2 died were still sent to b2: "
                          f"{tried_b2[:5]}")
    assert all(recs[r[3]]["attempts"] == 1 for r in late), [recs[r[3]] for r in late if recs[r[3]]["attempts"] != 1][:5]
    assert ("p", "b2") in [(p, s) for p, s, _ in events(haven, "server_down")]


def test_active_passive_failover_and_back(spawn, tmp_path):
    primary = spawn.backend("primary")
    port = primary.port
    backup = spawn.backend("backup")
    cfg = make_config(pools={"p": pool_of([{"name": "primary", "address": primary.address},
                                           {"name": "backup", "address": backup.address, "backup": True}],
                                          health_check=FAST_CHECKS)},
                      access_log=str(tmp_path / "access.log"))
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    haven = spawn.haven(cfg)
    assert {haven.get("/").header("X-Backend") for _ in range(5)} == {"primary"}
    load = Load(haven, workers=2)
    # A tier change while the servers are still leaving their initial state (with `initial: up`,
    # before each had max(rise, fall) checks) is not counted as a failover: kill the primary after.
    settled = max(FAST_CHECKS["rise"], FAST_CHECKS["fall"])
    wait_until(lambda: all(s["checks"] >= settled for s in pool_status(haven)["servers"]), scaled(5),
               what=f"every server checked {settled} times")
    wait_until(lambda: len(load.results) >= 20, scaled(5), what="load on the primary")
    primary.proc.kill()  # returns once the process is gone: a request sent after this cannot reach it
    killed = time.monotonic()
    # fall x fast_interval + timeout = 2 x 100 ms + 100 ms after the first failed check (<= interval)
    wait_until(lambda: events(haven, "failover"), scaled(0.2 + 0.3 + 1.0), what="failover to the backup")
    detected = time.monotonic() - killed
    # On purpose: the backup serves alone for a while (at least 0.5 s past the bound) before the
    # primary comes back.
    time.sleep(max(0.0, killed + scaled(OUT_OF_ROTATION_BOUND) + scaled(0.5) - time.monotonic()))
    restarted = time.monotonic()
    spawn.backend("primary", port=port)
    wait_until(lambda: len(events(haven, "failover")) >= 2, scaled(0.2 + 0.2 + 1.0), what="failover back")
    back = time.monotonic()
    # On purpose: traffic runs for a while after the failover back, to be checked below.
    time.sleep(scaled(0.5))
    results = load.finish()
    assert not load.errors(), load.errors()[:5]
    on_backup = [r for r in results if killed + scaled(OUT_OF_ROTATION_BOUND) < r[0] < restarted]
    assert len(on_backup) >= 10, f"only {len(on_backup)} requests while the primary was down"
    recs = access_records_by_number(haven, results)
    wrong = [recs[r[3]] for r in on_backup if recs[r[3]]["tried"] != "backup"]
    assert not wrong, f"with the primary dead, requests still tried it: {wrong[:5]}"
    returned = [r for r in results if r[0] > back + scaled(0.2)]
    assert returned and {r[2] for r in returned} == {"primary"}, "traffic did not return to the primary"
    fo = events(haven, "failover")
    assert fo[0][2] == "tier 0 -> tier 1" and fo[1][2] == "tier 1 -> tier 0", fo
    assert detected < scaled(1.5)


def test_health_503_leaves_rotation_and_comes_back(spawn):
    b1, b2 = spawn.backends(2)
    cfg = make_config(pools={"p": pool_of([{"name": "b1", "address": b1.address},
                                           {"name": "b2", "address": b2.address}], health_check=FAST_CHECKS)})
    haven = spawn.haven(cfg)
    b1.control(health="fail")
    wait_until(lambda: ("p", "b1", "status 503") in events(haven, "server_down"), scaled(2), what="b1 down")
    # every worker adopts the new serving set (at once when its mailbox rings, at worst at its next tick)
    wait_until(lambda: {haven.get("/").header("X-Backend") for _ in range(10)} == {"b2"}, scaled(2),
               what="b1 out of rotation")
    assert {haven.get("/").header("X-Backend") for _ in range(10)} == {"b2"}
    b1.control(health="ok")
    wait_until(lambda: ("p", "b1") in [(p, s) for p, s, _ in events(haven, "server_up")], scaled(2), what="b1 up")
    wait_until(lambda: "b1" in {haven.get("/").header("X-Backend") for _ in range(6)}, scaled(2), what="b1 serving")


def counting_closer(conn, server):
    """Reads one request completely, counts it, and closes without answering."""
    read_and_count(conn, server)


def test_post_is_never_sent_twice_when_the_server_dies_after_receiving_it(spawn):
    dying = spawn.tiny(counting_closer)
    other = spawn.tiny(counting_closer)
    cfg = make_config(pools={"p": pool_of([{"name": "dying", "address": dying.address},
                                           {"name": "other", "address": other.address}],
                                          retries=2, retry_on=["connect-failure", "reset", "timeout", "502"])},
                      threads=1)
    haven = spawn.haven(cfg)
    with haven.raw() as c:
        c.send(request_bytes("POST", "/order", body=b"pay once"))
        r = c.read_response(timeout=10)
    assert r.status == 502
    assert dying.requests + other.requests == 1, "the POST reached a server twice"
    # The same failure for a GET is retried on the other server (idempotent).
    with haven.raw() as c:
        c.send(request_bytes("GET", "/safe"))
        r = c.read_response(timeout=10)
    assert r.status == 502
    assert dying.requests + other.requests == 1 + 3, "a GET is tried once plus `retries` times"


def test_retry_on_503_goes_to_another_server(spawn, tmp_path):
    b1, b2 = spawn.backends(2)
    b1.control(status=503)
    log = tmp_path / "access.log"
    cfg = make_config(pools={"p": pool_of([{"name": "b1", "address": b1.address}, {"name": "b2", "address": b2.address}],
                                          retry_on=["503"], retries=1)},
                      access_log=str(log), threads=1)
    haven = spawn.haven(cfg)
    for _ in range(6):
        r = haven.get("/")
        assert (r.status, r.header("X-Backend")) == (200, "b2")
    recs = haven.access_log(min_lines=6)
    retried = [r for r in recs if r["attempts"] == 2]
    assert retried and all(r["tried"] == "b1,b2" for r in retried), recs


def test_passive_ejection_on_5xx_and_return(spawn):
    b1, b2 = spawn.backends(2)
    b1.control(error_rate=1)
    cfg = make_config(pools={"p": pool_of([{"name": "b1", "address": b1.address}, {"name": "b2", "address": b2.address}],
                                          retries=0,
                                          outlier_detection={"consecutive_failures": 3, "base_ejection": "1s"})},
                      threads=1)
    haven = spawn.haven(cfg)
    statuses = [haven.get("/").status for _ in range(8)]
    assert 500 in statuses
    wait_until(lambda: ("p", "b1") in [(p, s) for p, s, _ in events(haven, "ejected")], scaled(2), what="ejection")
    # the worker adopts the serving set without b1 (at once when its mailbox rings, at worst at its next tick)
    wait_until(lambda: [haven.get("/").header("X-Backend") for _ in range(6)] == ["b2"] * 6, scaled(2),
               what="b1 out of rotation")
    assert [haven.get("/").header("X-Backend") for _ in range(6)] == ["b2"] * 6
    b1.control(error_rate=0)
    wait_until(lambda: events(haven, "returned"), scaled(3), what="return after base_ejection")
    wait_until(lambda: "b1" in {haven.get("/").header("X-Backend") for _ in range(4)}, scaled(2), what="b1 serving")


def test_drain_and_maintenance_from_config(spawn):
    b1, b2, b3 = spawn.backends(3)
    cfg = make_config(pools={"p": pool_of([{"name": "b1", "address": b1.address, "state": "drain"},
                                           {"name": "b2", "address": b2.address, "state": "maint"},
                                           {"name": "b3", "address": b3.address}])})
    haven = spawn.haven(cfg)
    assert {haven.get("/").header("X-Backend") for _ in range(8)} == {"b3"}


def test_all_down_answers_503_with_retry_after_or_panics(spawn):
    dead = spawn.dead_port()
    checks = dict(FAST_CHECKS, initial="down")
    haven = spawn.haven(make_config(pools={"p": pool_of([{"name": "x", "address": dead.address}], health_check=checks)}))
    r = haven.get("/")
    assert r.status == 503 and r.header("Retry-After") == "1"
    b1 = spawn.backend("b1")
    checks_failing = dict(FAST_CHECKS, initial="down", http={"path": "/nope", "expect_status": [299]})
    panic = spawn.haven(make_config(pools={"p": pool_of([{"name": "b1", "address": b1.address}],
                                                        health_check=checks_failing, on_all_down="try_all")}))
    r = panic.get("/")
    assert (r.status, r.header("X-Backend")) == (200, "b1"), "panic mode balances over every server"
