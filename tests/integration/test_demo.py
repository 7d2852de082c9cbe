"""`haven demo` as a newcomer runs it: the admin listener and dashboard are on and their URLs are
printed, and following the printed "try this" lines — kill -9 a backend under traffic, read the
events, start the backend again — shows failover with no failed request."""

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
    proc, port, admin = start_demo(tmp_path)
    extra = None
    try:
        out = proc.stdout()
        assert f"dashboard   http://127.0.0.1:{admin}/" in out
        assert f"metrics     http://127.0.0.1:{admin}/metrics" in out
        page = http_request(admin, "GET", "/")
        assert page.status == 200 and b"<html" in page.body.lower()
        kill = printed_line(out, r"^\s+kill -9 (\d+)\s+# (backend\d+) dies")
        pid, victim = int(kill.group(1)), kill.group(2)
        restart = printed_line(out, r"^\s+(\S+ demo-backend --listen \S+ --name " + victim + r") &")

        load = ClosedLoop(port, 4, duration=scaled(6.0))
        wait_until(lambda: any(o.backend == victim for o in list(load.outcomes)), scaled(5), what=f"{victim} serving")
        subprocess.run(["kill", "-9", str(pid)], check=True)  # the printed line, as a user runs it
        killed = time.monotonic()
        time.sleep(scaled(1.5))
        extra = subprocess.Popen(shlex.split(restart.group(1)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        wait_until(lambda: any(o.backend == victim and o.sent > time.monotonic() - 0.5 for o in list(load.outcomes)),
                   scaled(6), what=f"{victim} serving again after its restart")
        load.stop()
        load.finish()
        assert not load.failures(), (load.by_status(), load.failures()[:5])
        gone = [o for o in load.outcomes if killed + 0.5 < o.sent < killed + scaled(1.5)]
        assert gone and all(o.backend != victim for o in gone), "the dead backend still got traffic"

        events = subprocess.run([HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{admin}", "events"], capture_output=True,
                                text=True, timeout=scaled(10))
        assert events.returncode == 0, events.stderr
        kinds = [(line.split()[2], line.split()[4]) for line in events.stdout.splitlines()[1:] if len(line.split()) > 4]
        assert ("refused", victim) in kinds, events.stdout
        assert ("refusal_cleared", victim) in kinds or ("server_up", victim) in kinds, events.stdout
    finally:
        if extra is not None:
            extra.kill()
            extra.wait(timeout=10)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=scaled(15))
        proc.kill()
