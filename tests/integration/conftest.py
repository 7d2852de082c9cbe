"""Fixtures for haven's integration tests: every process a test starts is stopped at teardown."""

from __future__ import annotations

import atexit
import pathlib
import re
import shutil
import signal
import subprocess

import pytest

import harness
from harness import Backend, DeadPort, Haven, Nginx, TinyServer


class Spawner:
    """Starts processes and servers for one test (or one module) and stops them all afterwards."""

    def __init__(self, workdir: pathlib.Path):
        self.workdir = pathlib.Path(workdir)
        self.items: list = []
        self._havens = 0

    def backend(self, name: str, *args: str, port: int = 0) -> Backend:
        b = Backend(self.workdir, name, *args, port=port)
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

    def track(self, item):
        """Something started elsewhere (redis_procs.Redis, ...) that close() must close."""
        self.items.append(item)
        return item

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
                problem = _stop_haven(item)
                if problem:
                    crashed.append(problem)
            elif isinstance(item, (Backend, Nginx)):
                if item.proc is not None:
                    item.proc.kill()
            else:
                item.close()
        self.items.clear()
        if crashed:
            pytest.fail("\n".join(crashed), pytrace=False)


SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")


def _stop_haven(h: Haven) -> str | None:
    """Stops haven gracefully (so a sanitizer build can report) and returns a description of
    anything wrong: an unexpected earlier exit, a failing exit code, sanitizer output."""
    if h.proc is None:
        return None
    if h.crashed():
        problem = "haven exited unexpectedly during the test"
    else:
        problem = None
        if h.proc.alive():
            h.proc.send_signal(signal.SIGTERM)
            try:
                rc = h.proc.wait(timeout=harness.scaled(10))
                if rc != 0:
                    problem = f"haven exited with {rc} on SIGTERM at teardown"
            except subprocess.TimeoutExpired:
                pass  # still draining something a test left behind: killed below
    h.proc.kill()
    if SANITIZER_REPORT.search(h.proc.output()):
        problem = "sanitizer report in haven's output"
    return f"{problem}:\n{h.proc.describe(tail=20000)}" if problem else None


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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    # Last: after the fixtures' own teardown (which stops haven gracefully and reports a crash),
    # so killing what is left cannot look like a crash and hide the test's own failure.
    harness.kill_all_processes()


atexit.register(harness.kill_all_processes)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of the log of every haven process still running, so a failure
    in CI carries what haven said about it (backends are left out: they say little)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    with harness._LIVE_LOCK:
        procs = [p for p in harness._LIVE if not p.name.startswith("backend")]
    for p in procs[:4]:
        try:
            tail = p.err_path.read_text(errors="replace")[-4000:]
        except OSError:
            continue
        report.sections.append((f"log of {p.name} (pid {p.pid}), last 4000 characters", tail))
