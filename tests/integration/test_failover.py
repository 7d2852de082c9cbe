"""Health checks and failover through real processes: a server killed under load, active-passive
failover and back, a server whose /health turns 503, passive ejection, retries on another server,
and a POST that must never be sent twice. Every load loop is bounded in count and time."""

import re
import threading
import time

from harness import FAST_CHECKS, make_config, read_and_count, request_bytes, scaled, wait_until



def pool_of(servers, **extra):
    return {"servers": servers, **extra}


class Load:
    """GETs from `workers` threads until stopped (at most `limit` seconds); records outcomes."""

    def __init__(self, haven, workers=4, limit=30.0, path="/"):
        self.haven, self.path, self.limit = haven, path, limit
        self.stop = threading.Event()
        self.results = []  # (time the request was sent, status, backend)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        for t in self.threads:
            t.start()

    def _run(self):
        deadline = time.monotonic() + self.limit
        while not self.stop.is_set() and time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                r = self.haven.get(self.path, timeout=10)
                item = (sent, r.status, r.header("X-Backend"))
            except OSError as e:
                item = (sent, f"error {e!r}", None)
            with self.lock:
                self.results.append(item)
            time.sleep(0.005)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
        return self.results

    def errors(self):
        return [r for r in self.results if r[1] != 200]


def events(haven, kind):
    return re.findall(rf"event={kind} pool=(\S+) server=(\S+) detail=\"([^\"]*)\"", haven.log())


def test_kill_one_of_three_servers_under_load_no_client_errors(spawn):
    b1, b2, b3 = spawn.backends(3)
    cfg = make_config(pools={"p": pool_of([{"name": b.name, "address": b.address} for b in (b1, b2, b3)],
                                          health_check=FAST_CHECKS)})
    haven = spawn.haven(cfg)
    load = Load(haven, workers=4)
    time.sleep(scaled(0.8))
    b2.proc.kill()  # kill -9: connections reset, new connects refused
    time.sleep(scaled(1.5))
    results = load.finish()
    assert len(results) > 100
    assert not load.errors(), load.errors()[:5]
    after = [r for r in results if r[0] > results[0][0] + scaled(0.8) + scaled(1.0)]
    assert all(r[2] != "b2" for r in after), "b2 still served after it died"
    assert ("p", "b2") in [(p, s) for p, s, _ in events(haven, "server_down")]


def test_active_passive_failover_and_back(spawn, tmp_path):
    primary = spawn.backend("primary")
    port = primary.port
    backup = spawn.backend("backup")
    cfg = make_config(pools={"p": pool_of([{"name": "primary", "address": primary.address},
                                           {"name": "backup", "address": backup.address, "backup": True}],
                                          health_check=FAST_CHECKS)})
    haven = spawn.haven(cfg)
    assert {haven.get("/").header("X-Backend") for _ in range(5)} == {"primary"}
    load = Load(haven, workers=2)
    time.sleep(scaled(0.5))
    primary.proc.kill()  # returns once the process is gone: a request sent after this cannot reach it
    killed = time.monotonic()
    # fall x fast_interval + timeout = 2 x 100 ms + 100 ms after the first failed check (<= interval)
    wait_until(lambda: events(haven, "failover"), scaled(0.2 + 0.3 + 1.0), what="failover to the backup")
    detected = time.monotonic() - killed
    time.sleep(scaled(0.5))
    restarted = time.monotonic()
    spawn.backend("primary", port=port)
    wait_until(lambda: len(events(haven, "failover")) >= 2, scaled(0.2 + 0.2 + 1.0), what="failover back")
    time.sleep(scaled(0.5))
    results = load.finish()
    assert not load.errors(), load.errors()[:5]
    served_by_backup = [r for r in results if killed < r[0] < restarted]
    assert served_by_backup and all(r[2] == "backup" for r in served_by_backup)
    last = [r for r in results if r[0] > results[-1][0] - scaled(0.3)]
    assert last and all(r[2] == "primary" for r in last), "traffic did not return to the primary"
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
    time.sleep(0.2)
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
    time.sleep(0.2)
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
