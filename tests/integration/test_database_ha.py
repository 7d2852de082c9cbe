"""Database HA through haven (docs/database-ha.md) against a real PostgreSQL 15 streaming pair:
writes through the `role: primary` listener land on the primary and reads through the replica
listener on the replica; a replica promoted while the old primary still runs is a split brain
(no writes anywhere, open sessions shut) until the old one is fenced, and then writes resume on
the new primary with no write taken by the old one after the switch (both nodes' data checked);
a crashed primary is followed; a replica too far behind (replay paused) leaves the read pool and
returns. Every loop is bounded; every process is stopped by the Spawner."""

import threading
import time

from harness import Deadline, make_config, scaled, wait_until
from pg_procs import PgPair, WriteLoop, connect, need_postgres, query, rows
from prom import scrape, total
from support_helpers import admin, pools


def pools_for(pair, replica_role="prefer_replica", max_lag=None):
    check = {"postgres": {"user": "postgres"}, "interval": "300ms", "timeout": "300ms", "fall": 2, "rise": 2}
    servers = [{"name": "p", "address": f"127.0.0.1:{pair.p.port}"},
               {"name": "s", "address": f"127.0.0.1:{pair.s.port}"}]
    replicas = {"role": replica_role, "health_check": check, "servers": servers}
    if max_lag:
        replicas["max_lag"] = max_lag
    return {"primary": {"role": "primary", "health_check": check, "servers": servers}, "replicas": replicas}


def start_haven(spawn, pair, timeouts=None, **kw):
    listeners = [{"name": "rw", "listen": "127.0.0.1:0", "mode": "tcp", "pool": "primary"},
                 {"name": "ro", "listen": "127.0.0.1:0", "mode": "tcp", "pool": "replicas"}]
    cfg = make_config(pools=pools_for(pair, **kw), listeners=listeners, threads=2, timeouts=timeouts)
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    h = spawn.haven(cfg)
    wait_until(lambda: query(h.port("rw"), "SELECT inet_server_port()") == pair.p.port, scaled(15),
               what="haven routes rw to the primary")
    return h


def pool(h, name):
    return next(p for p in pools(h) if p["name"] == name)


def test_writes_go_to_the_primary_and_reads_to_the_replica(spawn):
    need_postgres()
    pair = spawn.track(PgPair())
    h = start_haven(spawn, pair)
    assert query(h.port("rw"), "SELECT pg_is_in_recovery()") is False
    assert query(h.port("ro"), "SELECT pg_is_in_recovery()") is True
    assert query(h.port("ro"), "SELECT inet_server_port()") == pair.s.port
    p = pool(h, "primary")
    assert p["primaries"] == 1
    assert [s["role"] for s in p["servers"]] == ["primary", "replica"]
    m = scrape(h.admin_port())
    assert total(m, "haven_pool_primaries", pool="primary") == 1


def test_promote_under_a_write_loop_is_a_split_brain_until_the_old_primary_is_fenced(spawn):
    need_postgres()
    pair = spawn.track(PgPair())
    # A new connection is held while no server may take it, up to timeouts.connect.
    h = start_haven(spawn, pair, timeouts={"connect": "20s"})
    loop = WriteLoop(h.port("rw"), duration=scaled(40))
    wait_until(lambda: len(loop.acked) >= 20, scaled(10), what="writes through haven")
    # The replica is promoted while the old primary still runs: two servers claim primary.
    pair.promote_replica()
    wait_until(lambda: pool(h, "primary")["split_brains"] == 1, scaled(5), what="haven sees the split brain")
    acked_at_split = len(loop.acked)
    time.sleep(0.5)
    # No write was taken anywhere meanwhile (at most the one in flight when haven saw it).
    assert len(loop.acked) <= acked_at_split + 1, loop.acked[-5:]
    # A client connecting now is held, not refused, and reaches the new primary once the old
    # one is fenced.
    held = {}
    waiter = threading.Thread(target=lambda: held.update(
        port=query(h.port("rw"), "SELECT inet_server_port()", timeout=scaled(15))), daemon=True)
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive(), f"the connection was not held: {held}"
    # Fencing: the old primary stops; writes resume on the new one.
    pair.p.stop()
    waiter.join(timeout=scaled(15))
    assert held.get("port") == pair.s.port, held
    wait_until(lambda: len(loop.acked_by(pair.s.port)) >= 20, scaled(15), what="writes on the new primary")
    loop.finish()
    on_p, on_s = loop.acked_by(pair.p.port), loop.acked_by(pair.s.port)
    assert on_p and on_s
    # Once the new primary took a write, the old one took none (the loop is sequential).
    assert max(on_p) < min(on_s), (on_p[-3:], on_s[:3])
    # Both nodes' data: every acknowledged write is where it was acknowledged, and the old
    # primary holds nothing written after the new one took its first write.
    s_rows = rows(pair.s.port)
    assert set(on_s) <= set(s_rows)
    pair.p.start()  # alone, as a primary again: haven must see a second split brain
    p_rows = rows(pair.p.port)
    assert set(on_p) <= set(p_rows)
    switch = s_rows[min(on_s)]
    assert all(at < switch for at in p_rows.values()), "the old primary took a write after the switch"
    assert not set(on_s) & set(p_rows)
    wait_until(lambda: pool(h, "primary")["split_brains"] == 2, scaled(5), what="the returning old primary is refused")
    assert query(h.port("rw"), "SELECT 1", timeout=1) is None, "no writes while two servers claim primary"
    events = [e["kind"] for e in admin(h, "GET", "/api/events").json()["events"]]
    assert "split_brain" in events and "split_brain_resolved" in events
    print(f"\nsplit brain then fence: {len(loop.acked)} writes acknowledged, {len(loop.failures)} failed "
          f"(first failures: {loop.failures[:3]})")


def test_a_crashed_primary_is_followed_and_reads_fall_back_to_it(spawn):
    need_postgres()
    pair = spawn.track(PgPair())
    h = start_haven(spawn, pair)
    loop = WriteLoop(h.port("rw"), duration=scaled(30))
    wait_until(lambda: len(loop.acked) >= 20, scaled(10), what="writes through haven")
    killed = time.monotonic()
    pair.p.kill()
    pair.promote_replica()
    wait_until(lambda: len(loop.acked_by(pair.s.port)) >= 1, scaled(10), what="a write on the new primary")
    first_write = time.monotonic() - killed
    loop.finish()
    assert set(loop.acked_by(pair.s.port)) <= set(rows(pair.s.port))
    # prefer_replica: with no replica left, reads go to the primary.
    assert query(h.port("ro"), "SELECT inet_server_port()") == pair.s.port
    print(f"\nprimary killed -> first write on the new primary {first_write:.2f}s; "
          f"{len(loop.failures)} writes failed meanwhile")


def test_a_replica_too_far_behind_leaves_the_read_pool_and_returns(spawn):
    need_postgres()
    pair = spawn.track(PgPair())
    h = start_haven(spawn, pair, replica_role="replica", max_lag="1s")
    assert query(h.port("ro"), "SELECT inet_server_port()") == pair.s.port
    reader = connect(h.port("ro"))  # a session open on the replica when it falls behind
    query(pair.s.port, "SELECT pg_wal_replay_pause()")
    deadline = Deadline(scaled(15))
    while pool(h, "replicas")["serving"] != 0:
        assert not deadline.expired(), pool(h, "replicas")
        query(pair.p.port, "INSERT INTO writes (id) SELECT coalesce(max(id), 0) + 1 FROM writes")
        time.sleep(0.1)
    srv = pool(h, "replicas")["servers"][1]
    assert "over max_lag" in srv["last_check"], srv
    assert total(scrape(h.admin_port()), "haven_server_replication_lag_seconds", pool="replicas", server="s") > 1
    assert query(h.port("ro"), "SELECT 1", timeout=1) is None, "a lagging replica takes no new reads"
    # on_marked_down: shutdown_sessions (the default with a role): the open session was closed.
    import psycopg2
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT 1")
        closed = False
    except psycopg2.Error:
        closed = True
    assert closed, "the session to the lagging replica should have been shut"
    query(pair.s.port, "SELECT pg_wal_replay_resume()")
    wait_until(lambda: query(h.port("ro"), "SELECT inet_server_port()", timeout=1) == pair.s.port, scaled(10),
               what="the replica serves reads again once caught up")
