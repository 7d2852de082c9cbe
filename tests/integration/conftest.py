"""Fixtures for haven's integration tests: every process a test starts is stopped at teardown."""

from __future__ import annotations

import atexit
import pathlib
import shutil

import pytest

import harness
from harness import Backend, DeadPort, Haven, Nginx, TinyServer


class Spawner:
    """Starts processes and servers for one test (or one module) and stops them all afterwards."""

    def __init__(self, workdir: pathlib.Path):
        self.workdir = pathlib.Path(workdir)
        self.items: list = []
        self._havens = 0

    def backend(self, name: str, *args: str) -> Backend:
        b = Backend(self.workdir, name, *args)
        self.items.append(b)
        return b

    def backends(self, n: int, prefix: str = "b") -> list[Backend]:
        return [self.backend(f"{prefix}{i + 1}") for i in range(n)]

    def haven(self, config, name: str | None = None, **kw) -> Haven:
        self._havens += 1
        h = Haven(self.workdir, config, name=name or f"haven{self._havens}", start=False, **kw)
        self.items.append(h)
        h.start()
        return h

    def tiny(self, handler) -> TinyServer:
        s = TinyServer(handler)
        self.items.append(s)
        return s

    def dead_port(self) -> DeadPort:
        d = DeadPort()
        self.items.append(d)
        return d

    def nginx(self, files: dict, extra_locations: str = "") -> Nginx:
        n = Nginx(self.workdir, files, extra_locations)
        self.items.append(n)
        return n

    def close(self):
        crashed = []
        for item in reversed(self.items):
            if isinstance(item, Haven):
                if item.crashed():
                    crashed.append(item.proc.describe())
                if item.proc is not None:
                    item.proc.kill()
            elif isinstance(item, (Backend, Nginx)):
                if item.proc is not None:
                    item.proc.kill()
            else:
                item.close()
        self.items.clear()
        if crashed:
            pytest.fail("haven exited unexpectedly during the test:\n" + "\n".join(crashed), pytrace=False)


@pytest.fixture
def spawn(tmp_path):
    s = Spawner(tmp_path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def mspawn(tmp_path_factory):
    s = Spawner(tmp_path_factory.mktemp("module"))
    yield s
    s.close()


@pytest.fixture(scope="session", autouse=True)
def _haven_binary():
    exe = pathlib.Path(harness.HAVEN_BIN)
    if not exe.exists() and not shutil.which(harness.HAVEN_BIN):
        pytest.fail(f"haven binary not found: {harness.HAVEN_BIN} (set HAVEN_BIN)", pytrace=False)
    yield


def pytest_sessionfinish(session, exitstatus):
    harness.kill_all_processes()


atexit.register(harness.kill_all_processes)
