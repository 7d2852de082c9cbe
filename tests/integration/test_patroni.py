"""haven in front of a real Patroni cluster (Debian patroni + etcd-server, PostgreSQL 15), checked
on each node's REST API as HAProxy's Patroni recipe does (OPTIONS /primary, /replica), with
haven's own connect to PostgreSQL's port beside it (docs/database-ha.md, "With Patroni").
One cluster for the module (starting one takes seconds): PostgreSQL killed under a live Patroni
(whose /primary still says 200) is taken out by the connect check; a switchover through
Patroni's API and a killed leader are followed under a write loop, with the failed writes and
the time to the first write on the new leader reported. Bounded by Patroni's ttl (10 s)."""

import time

import pytest

from harness import make_config, scaled, wait_until
from patroni_procs import PatroniCluster
from pg_procs import WriteLoop, query, rows
from support_helpers import pools


@pytest.fixture(scope="module")
def cluster():
    c = PatroniCluster(nodes=2)
    yield c
    c.close()


def pool_view(h, name):
    return next(p for p in pools(h) if p["name"] == name)


def start_haven(spawn, cluster):
    def pool(role, path):
        return {"role": role,
                "health_check": {"http": {"method": "OPTIONS", "path": path}, "interval": "500ms", "timeout": "500ms",
                                 "fall": 2, "rise": 1},
                "servers": [{"name": n.name, "address": f"127.0.0.1:{n.pg_port}",
                             "health_check": {"port": n.rest_port}} for n in cluster.nodes]}
    listeners = [{"name": "rw", "listen": "127.0.0.1:0", "mode": "tcp", "pool": "primary"},
                 {"name": "ro", "listen": "127.0.0.1:0", "mode": "tcp", "pool": "replicas"}]
    cfg = make_config(pools={"primary": pool("primary", "/primary"), "replicas": pool("replica", "/replica")},
                      listeners=listeners, threads=2)
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    h = spawn.haven(cfg)
    lead = cluster.leader()
    wait_until(lambda: query(h.port("rw"), "SELECT inet_server_port()") == lead.pg_port, scaled(15),
               what="haven routes rw to Patroni's leader")
    return h


def test_postgres_down_under_a_live_patroni_is_taken_out_by_the_connect_check(spawn, cluster):
    cluster.wait_ready(scaled(60))
    h = start_haven(spawn, cluster)
    lead = cluster.leader()
    lead.kill_postgres()
    # Patroni's /primary follows the leader lock: it may say 200 for seconds; haven must not.
    wait_until(lambda: any(s["name"] == lead.name and s["health"] == "down" and
                           s["last_check"].startswith("service port:")
                           for s in pool_view(h, "primary")["servers"]),
               scaled(10), what="the leader out of the primary pool for its refused PostgreSQL port")
    # Patroni restarts PostgreSQL in place; haven takes it back.
    wait_until(lambda: query(h.port("rw"), "SELECT inet_server_port()", timeout=1) == lead.pg_port, scaled(30),
               what="the restarted PostgreSQL serves writes again")


def test_a_switchover_and_a_killed_leader_are_followed_under_a_write_loop(spawn, cluster):
    cluster.wait_ready(scaled(60))
    h = start_haven(spawn, cluster)
    old = cluster.leader()
    new = next(n for n in cluster.nodes if n is not old)
    loop = WriteLoop(h.port("rw"), duration=scaled(60))
    wait_until(lambda: len(loop.acked) >= 10, scaled(10), what="writes through haven")
    t0 = time.monotonic()
    cluster.switchover(new)
    wait_until(lambda: len(loop.acked_by(new.pg_port)) >= 1, scaled(20), what="writes on the new leader")
    switch_s = time.monotonic() - t0
    assert max(loop.acked_by(old.pg_port)) < min(loop.acked_by(new.pg_port))
    switch_failures = len(loop.failures)
    # The old leader rejoins as a replica; then the new leader crashes (Patroni and PostgreSQL).
    cluster.wait_ready(scaled(60))
    before = len(loop.acked)
    t1 = time.monotonic()
    new.kill()
    wait_until(lambda: any(p == old.pg_port for _, p in loop.acked[before:]), scaled(45),
               what="writes on the leader after the crash")
    crash_s = time.monotonic() - t1
    loop.finish()
    assert set(loop.acked_by(old.pg_port)) <= set(rows(old.pg_port))
    print(f"\npatroni switchover: first write on the new leader after {switch_s:.2f}s, {switch_failures} writes failed; "
          f"leader killed: first write after {crash_s:.2f}s, {len(loop.failures) - switch_failures} failed")
    new.start()  # back for the module's other tests
