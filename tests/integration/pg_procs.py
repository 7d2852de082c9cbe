"""Real PostgreSQL 15 servers for the database HA tests (docs/database-ha.md): a primary and a
streaming replica on 127.0.0.1 with ports from the kernel, run as the `postgres` OS user when the
tests run as root (the server refuses root), each a tracked process the test's Spawner stops.

Rules learnt the hard way (see also bench/dbha.md): the data directories live in a /tmp folder
every user may traverse (pytest's own is 0700); `wal_retrieve_retry_interval` is lowered so a
promote right after the primary died does not wait 5 s for WAL; TCP only (no socket directory)."""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from harness import Deadline, Proc, free_port, in_ci, scaled, wait_until

PGBIN = pathlib.Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))


def need_postgres():
    """Skips without Debian's postgresql-15 and python3-psycopg2, unless under CI (then fails:
    scripts/install-deps installs them)."""
    missing = [str(PGBIN / t) for t in ("initdb", "postgres", "pg_basebackup") if not (PGBIN / t).exists()]
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing.append("python3-psycopg2")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("the postgres user")
    if missing:
        msg = f"{', '.join(missing)} missing (scripts/install-deps installs postgresql-15 and python3-psycopg2)"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
            "env", "HOME=/var/lib/postgresql", "USER=postgres"]


def run_as_postgres(args, timeout=60):
    r = subprocess.run(_as_postgres() + [str(a) for a in args], cwd="/", capture_output=True, text=True,
                       timeout=scaled(timeout))
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def connect(port, timeout=2.0):
    import psycopg2
    c = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                         connect_timeout=max(1, int(timeout)))
    c.autocommit = True
    return c


def query(port, sql, timeout=2.0):
    """One value of `sql` on the server at `port` (directly or through haven), or None when it
    cannot be reached."""
    import psycopg2
    try:
        with connect(port, timeout) as c, c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0] if cur.description else None
    except psycopg2.Error:
        return None
    finally:
        pass


class PgServer:
    """One PostgreSQL server process on `port` over `datadir`."""

    def __init__(self, root: pathlib.Path, name: str, port: int):
        self.root, self.name, self.port = root, name, port
        self.datadir = root / name
        self.proc = None

    def start(self):
        self.proc = Proc(_as_postgres() + [PGBIN / "postgres", "-D", self.datadir], self.root, self.name)
        wait_until(lambda: not self.proc.alive() or query(self.port, "SELECT 1") == 1, scaled(30),
                   what=f"{self.name} accepts connections")
        if not self.proc.alive():
            raise AssertionError(self.proc.describe())

    def in_recovery(self):
        return query(self.port, "SELECT pg_is_in_recovery()")

    def kill(self):
        """kill -9 of the postmaster and its backends (a crash)."""
        if self.proc is not None:
            self.proc.kill()

    def stop(self):
        """A fast shutdown (SIGINT): clients are disconnected, the server stops cleanly."""
        if self.proc is not None:
            self.proc.stop(sig=2, timeout=scaled(20))

    def close(self):
        self.kill()


class PgPair:
    """A primary (`p`) and a streaming replica (`s`) made with pg_basebackup; close() stops both
    and removes their data."""

    def __init__(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="haven-pg-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.p = PgServer(self.root, "p", free_port())
        self.s = PgServer(self.root, "s", free_port())
        self._init_primary()
        self.p.start()
        run_as_postgres([PGBIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.p.port, "-U", "postgres",
                         "-D", self.s.datadir, "-R", "-X", "stream", "-c", "fast", "-C", "-S", "pair_s", "--no-sync"])
        with open(self.s.datadir / "postgresql.conf", "a") as f:
            f.write(f"port = {self.s.port}\n")
        self.s.start()
        query(self.p.port, "CREATE TABLE writes (id bigint PRIMARY KEY, at timestamptz DEFAULT now())")
        wait_until(lambda: query(self.s.port, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == 1,
                   scaled(30), what="the replica streams from the primary")

    def _init_primary(self):
        run_as_postgres([PGBIN / "initdb", "-D", self.p.datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                         "--locale=C.UTF-8", "-N"])
        with open(self.p.datadir / "postgresql.conf", "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.p.port}\nunix_socket_directories = ''\n"
                    "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\nhot_standby = on\n"
                    "wal_retrieve_retry_interval = '200ms'\nfsync = off\nshared_buffers = '32MB'\n"
                    "max_connections = 60\n")

    def promote_replica(self):
        """pg_promote() on the replica, waiting until it is a primary."""
        assert query(self.s.port, "SELECT pg_promote(true, 30)", timeout=scaled(30)) is True

    def close(self):
        self.p.kill()
        self.s.kill()
        shutil.rmtree(self.root, ignore_errors=True)


class WriteLoop:
    """One client writing through haven as an application would: a persistent connection, one
    INSERT after another (ids 1, 2, ...), reconnecting after an error. Records which server
    acknowledged each id (inet_server_port()) and every failure. Stops by itself at `duration`."""

    def __init__(self, port, duration, first_id=1):
        self.port, self.deadline, self.first_id = port, Deadline(duration), first_id
        self.acked: list[tuple[int, int]] = []  # (id, server port)
        self.ack_times: list[float] = []        # time.monotonic() of each acknowledgement
        self.failures: list[str] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import psycopg2
        conn, next_id = None, self.first_id
        while not self.stop and not self.deadline.expired():
            try:
                if conn is None:
                    conn = connect(self.port, timeout=1.0)
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO writes (id) VALUES (%s) RETURNING inet_server_port()", (next_id,))
                    self.acked.append((next_id, cur.fetchone()[0]))
                    self.ack_times.append(time.monotonic())
            except psycopg2.Error as e:
                self.failures.append(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
            next_id += 1  # a failed id is never reused: it may have committed anyway
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def acked_by(self, port):
        return [i for i, p in self.acked if p == port]

    def first_ack_after(self, t, not_port):
        """When the first write after `t` was acknowledged by a server other than `not_port`."""
        for (_, p), at in zip(self.acked, self.ack_times):
            if at > t and p != not_port:
                return at
        return None

    def finish(self):
        self.stop = True
        self.thread.join(timeout=scaled(10))
        assert not self.thread.is_alive()


def rows(port):
    """{id: at} of the writes table on the server at `port`, read directly."""
    with connect(port, timeout=5) as c, c.cursor() as cur:
        cur.execute("SELECT id, extract(epoch from at) FROM writes")
        return {i: float(at) for i, at in cur.fetchall()}
