"""Real Debian redis-server and redis-sentinel processes for the shared-state tests, on
127.0.0.1 with ports from the kernel, stopped by the test's Spawner (close())."""

import os
import pathlib
import shutil
import socket

import pytest

from harness import Proc, free_port, scaled, wait_until


def need_redis():
    """Skips without Debian's redis-server and redis-sentinel, unless under CI (then a failure:
    scripts/install-deps installs them)."""
    for tool in ("redis-server", "redis-sentinel"):
        if shutil.which(tool) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{tool} is missing (scripts/install-deps installs it)")
            pytest.skip(f"{tool} is not installed")


def command(port, *args, timeout=2.0):
    """One RESP command; the raw reply text, or None when the server does not answer."""
    out = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(out.encode())
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")
    except OSError:
        return None


class Redis:
    """redis-server on a free port (or `port`), no persistence."""

    def __init__(self, workdir, name="redis", port=0, replica_of=None):
        self.workdir = pathlib.Path(workdir)
        self.name = name
        self.port = port or free_port()
        self.replica_of = replica_of
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)]
        if self.replica_of:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.proc = Proc(args, self.workdir, self.name)
        wait_until(lambda: (command(self.port, "PING", timeout=0.5) or "").startswith("+PONG"), scaled(10),
                   what=f"{self.name} answers PING")

    def kill(self):
        if self.proc is not None:
            self.proc.kill()

    def close(self):
        self.kill()


class Sentinel:
    """redis-sentinel watching `master_port` as `name`, quorum 1, a failover within seconds."""

    def __init__(self, workdir, master_port, name="mymaster"):
        self.workdir = pathlib.Path(workdir)
        self.port = free_port()
        conf = self.workdir / f"sentinel-{self.port}.conf"
        conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                        f"sentinel monitor {name} 127.0.0.1 {master_port} 1\n"
                        f"sentinel down-after-milliseconds {name} 500\n"
                        f"sentinel failover-timeout {name} 3000\n"
                        f"sentinel parallel-syncs {name} 1\n")
        self.proc = Proc(["redis-sentinel", str(conf)], self.workdir, f"sentinel-{self.port}")
        wait_until(lambda: (command(self.port, "PING", timeout=0.5) or "").startswith("+PONG"), scaled(10),
                   what="sentinel answers PING")

    def close(self):
        self.proc.kill()
