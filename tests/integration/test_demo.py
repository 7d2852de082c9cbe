"""`haven demo` as a newcomer runs it: the admin listener and dashboard are on and their URLs are
printed, and following the printed "try this" lines — kill -9 a backend under traffic, read the
events — shows failover with no failed request and haven starting the backend again by itself."""

import re
import shlex
import signal
import subprocess
import time

from closed_loop import ClosedLoop
from harness import HAVEN_BIN, Proc, free_port, http_request, scaled, wait_until


def start_demo(tmp_path):
    port, admin = free_port(), free_port()
    proc = Proc([HAVEN_BIN, "demo", "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{admin}"], tmp_path, "demo")
    proc.wait_for(r"Press Ctrl-C", scaled(20), stream="out")
    proc.wait_for(r"haven ready", scaled(10))
    return proc, port, admin


def printed_line(out, pattern):
    m = re.search(pattern, out, re.M)
    assert m, f"no line matching {pattern!r} in:\n{out}"
    return m


def test_the_demo_prints_its_dashboard_and_a_failover_to_try(tmp_path):
    """The backends are a service haven runs: the printed kill -9 line, run under traffic, costs no
    request, and haven starts the backend again by itself."""
    proc, port, admin = start_demo(tmp_path)
    try:
        out = proc.stdout()
        assert f"dashboard   http://127.0.0.1:{admin}/" in out
        assert f"metrics     http://127.0.0.1:{admin}/metrics" in out
        page = http_request(admin, "GET", "/")
        assert page.status == 200 and b"<html" in page.body.lower()
        kill = printed_line(out, r"^\s+(pkill -9 -f '[^']+')\s+# (backend-\d+) dies")
        command, victim = kill.group(1), kill.group(2)

        load = ClosedLoop(port, 4, duration=scaled(8.0))
        # Every backend serving first: haven is ready once its listeners are bound, and a backend that is
        # still starting (seconds under a sanitizer on a busy machine) leaves the victim as the only one.
        backends = set(re.findall(r"^\s+(backend-\d+)\s+http://", out, re.M))
        wait_until(lambda: backends <= {o.backend for o in list(load.outcomes)}, scaled(5),
                   what=f"all of {sorted(backends)} serving")
        subprocess.run(shlex.split(command), check=True)  # the printed line, as a user runs it
        killed = time.monotonic()
        wait_until(lambda: any(o.backend == victim and o.sent > killed + 0.5 for o in list(load.outcomes)),
                   scaled(8), what=f"{victim} restarted by haven and serving again")
        load.stop()
        load.finish()
        assert not load.failures(), (load.by_status(), load.failures()[:5])

        events = subprocess.run([HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{admin}", "events"], capture_output=True,
                                text=True, timeout=scaled(10))
        assert events.returncode == 0, events.stderr
        kinds = [(line.split()[2], line.split()[4]) for line in events.stdout.splitlines()[1:] if len(line.split()) > 4]
        assert ("replica_exited", victim) in kinds and ("replica_started", victim) in kinds, events.stdout
        services = subprocess.run([HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{admin}", "services"], capture_output=True,
                                  text=True, timeout=scaled(10))
        row = next(line.split() for line in services.stdout.splitlines() if line.split()[:1] == [victim])
        assert row[3:5] == ["ready", "1"], services.stdout  # state, restarts
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=scaled(15))
        proc.kill()


def ctl_event_kinds(admin):
    events = subprocess.run([HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{admin}", "events"], capture_output=True,
                            text=True, timeout=scaled(10))
    assert events.returncode == 0, events.stderr
    return [(line.split()[2], line.split()[4]) for line in events.stdout.splitlines()[1:] if len(line.split()) > 4]


def test_the_demos_failing_health_line_takes_the_backend_out_and_liveness_restarts_it(tmp_path):
    """The printed `_control?health=fail` line, run under traffic: the backend's readiness fails
    (out of the rotation), its liveness fails (haven restarts it), and no request fails."""
    proc, port, admin = start_demo(tmp_path)
    try:
        out = proc.stdout()
        line = printed_line(out, r"^\s+curl '(http://127\.0\.0\.1:(\d+)(/_control\?health=fail))'\s+# (backend-\d+) fails")
        backend_port, path, victim = int(line.group(2)), line.group(3), line.group(4)
        load = ClosedLoop(port, 4, duration=scaled(20.0))
        assert http_request(backend_port, "GET", path).status == 200  # the printed line, as curl sends it
        for kind in ("replica_not_ready", "replica_liveness_failed", "replica_started"):
            wait_until(lambda: (kind, victim) in ctl_event_kinds(admin), scaled(20), what=f"{kind} for {victim}")
        # The restarted replica starts healthy (the failure was its old process's state) and serves.
        restarted = time.monotonic()
        wait_until(lambda: any(o.backend == victim and o.sent > restarted for o in list(load.outcomes)),
                   scaled(15), what=f"{victim} serving again after its restart")
        load.stop()
        load.finish()
        assert not load.failures(), (load.by_status(), load.failures()[:5])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=scaled(15))
        proc.kill()
