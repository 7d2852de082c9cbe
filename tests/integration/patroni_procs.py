"""A real Patroni cluster for the database HA tests and bench/dbha_failover.py: one etcd
(Debian etcd-server, v3 API) and N Patroni 3 nodes (Debian patroni) over PostgreSQL 15 on
127.0.0.1, ports from the kernel, run as the `postgres` OS user when root. close() stops every
process (Patroni starts each postmaster detached, so those are killed by their postmaster.pid)
and removes the data.

Timings are Patroni's fast test settings (ttl 10 s, loop_wait 2 s, retry_timeout 4 s: the rule
loop_wait + 2 × retry_timeout <= ttl holds): a killed leader is replaced in about ttl."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import tempfile
import urllib.request

from harness import Proc, free_port, in_ci, scaled, wait_until
from pg_procs import PGBIN, _as_postgres, need_postgres, query


def need_patroni():
    need_postgres()
    missing = [t for t in ("patroni", "etcd") if shutil.which(t) is None]
    if missing:
        import pytest
        msg = f"{', '.join(missing)} missing (scripts/install-deps installs patroni and etcd-server)"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


def http_status(url, method="GET", body=None, timeout=2.0):
    """The status code, or 0 when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def _kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Etcd:
    def __init__(self, root: pathlib.Path):
        self.client, self.peer = free_port(), free_port()
        c, p = f"http://127.0.0.1:{self.client}", f"http://127.0.0.1:{self.peer}"
        self.proc = Proc(["etcd", "--name", "haven-etcd", "--data-dir", root / "etcd",
                          "--listen-client-urls", c, "--advertise-client-urls", c,
                          "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                          "--initial-cluster", f"haven-etcd={p}", "--initial-cluster-state", "new",
                          "--enable-v2=false"], root, "etcd")
        wait_until(lambda: http_status(f"{c}/health") == 200, scaled(20), what="etcd healthy")

    def close(self):
        self.proc.kill()


class PatroniNode:
    def __init__(self, root: pathlib.Path, name: str, etcd_port: int):
        self.root, self.name = root, name
        self.dir = root / name
        self.pg_port, self.rest_port = free_port(), free_port()
        self.etcd_port = etcd_port
        self.proc = None
        self.dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.config = self.dir / "patroni.yml"
        self.config.write_text(self._yaml())

    def _yaml(self):
        return f"""scope: haven-test
namespace: /haven/
name: {self.name}
restapi: {{listen: 127.0.0.1:{self.rest_port}, connect_address: 127.0.0.1:{self.rest_port}}}
etcd3: {{hosts: 127.0.0.1:{self.etcd_port}}}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {{wal_level: replica, hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: 10,
                    max_replication_slots: 10, max_connections: 60, wal_retrieve_retry_interval: 200ms}}
  initdb: [{{encoding: UTF8}}, {{locale: C.UTF-8}}]
postgresql:
  listen: 127.0.0.1:{self.pg_port}
  connect_address: 127.0.0.1:{self.pg_port}
  data_dir: {self.dir}/data
  bin_dir: {PGBIN}
  pgpass: {self.dir}/pgpass
  authentication:
    superuser: {{username: postgres, password: postgres}}
    replication: {{username: replicator, password: replicator}}
  parameters: {{unix_socket_directories: '{self.dir}', shared_buffers: 32MB, fsync: 'off'}}
  pg_hba: [local all all trust, host all all 127.0.0.1/32 trust, host replication all 127.0.0.1/32 trust]
watchdog: {{mode: 'off'}}
"""

    def start(self):
        self.proc = Proc(_as_postgres() + ["patroni", self.config], self.root, f"patroni-{self.name}")

    def rest(self, path, method="GET", body=None, timeout=2.0):
        return http_status(f"http://127.0.0.1:{self.rest_port}{path}", method, body, timeout)

    def postmaster_pid(self):
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill_postgres(self):
        """kill -9 of the postmaster only: Patroni lives on (and restarts it)."""
        pid = self.postmaster_pid()
        if pid:
            _kill_pid(pid)

    def kill(self):
        """A node crash: kill -9 of Patroni and of its postmaster."""
        if self.proc is not None:
            self.proc.kill()
        self.kill_postgres()


class PatroniCluster:
    def __init__(self, nodes: int = 2):
        need_patroni()
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="haven-patroni-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.etcd = Etcd(self.root)
        self.nodes = [PatroniNode(self.root, f"node{i + 1}", self.etcd.client) for i in range(nodes)]
        for n in self.nodes:
            n.start()
        self.wait_ready(scaled(60))

    def leader(self):
        leaders = [n for n in self.nodes if n.rest("/primary") == 200]
        return leaders[0] if len(leaders) == 1 else None

    def ready(self, expected=None):
        """One leader, every other expected node a replica that has replayed a fresh row."""
        nodes = expected or self.nodes
        lead = self.leader()
        if lead is None or lead not in nodes:
            return False
        if query(lead.pg_port, "CREATE TABLE IF NOT EXISTS writes (id bigint PRIMARY KEY, at timestamptz DEFAULT now())",
                 timeout=1) is None and query(lead.pg_port, "SELECT 1") != 1:
            return False
        mark = query(lead.pg_port, "SELECT pg_current_wal_lsn()::text")
        for n in nodes:
            if n is lead:
                continue
            if n.rest("/replica") != 200:
                return False
            got = query(n.pg_port, f"SELECT pg_last_wal_replay_lsn() >= '{mark}'::pg_lsn")
            if got is not True:
                return False
        return True

    def wait_ready(self, timeout, expected=None):
        wait_until(lambda: self.ready(expected), timeout, interval=0.25, what="the Patroni cluster has a leader and replicas")

    def switchover(self, candidate):
        lead = self.leader()
        # Patroni answers once the switchover is done (about 2 s).
        code = lead.rest("/switchover", "POST", {"leader": lead.name, "candidate": candidate.name}, timeout=scaled(30))
        assert code == 200, f"switchover answered {code}"

    def close(self):
        for n in self.nodes:
            n.kill()
        self.etcd.close()
        for n in self.nodes:  # a postmaster Patroni restarted meanwhile
            n.kill_postgres()
        shutil.rmtree(self.root, ignore_errors=True)
