"""haven runs and heals its services (docs/supervisor.md), with real processes on 127.0.0.1:
replicas of `haven demo-backend` on a port range feed a pool (`servers_from:`) that only sends
requests to ready replicas; a replica killed with SIGKILL comes back; a command that exits at once
ends in CRASHLOOP without a busy loop; a failing liveness probe restarts its replica; `haven ctl
services` shows them; `haven ctl restart` replaces them one at a time under a closed-loop load
with no failed request; and haven leaves no child behind, whether stopped or killed.

One haven (module scope) runs three services, each test using its own: `web` (3 replicas behind
the pool), `crash` (exits at once), `live` (a liveness probe). Every wait is bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from closed_loop import ClosedLoop
from harness import (HAVEN_BIN, free_port, free_port_range, http_request, proc_status, process_running, require_tool,
                     scaled, wait_until)
from prom import scrape, total
from support_helpers import server_view


def backend_service(name: str, base: int, replicas: int, **extra) -> dict:
    return {"name": name, "command": HAVEN_BIN,
            "args": ["demo-backend", "--listen", "127.0.0.1:{port}", "--name", "{name}"],
            "replicas": replicas, "ports": f"{base}-{base + replicas - 1}" if replicas > 1 else base,
            "restart_delay": "300ms", "max_restart_delay": "1s", "stop_grace": "3s", "drain_timeout": "5s",
            **extra}


def config(web_base: int, live_port: int) -> dict:
    ready = {"http": "/health", "period": "200ms", "timeout": "150ms", "failure_threshold": 1}
    return {
        "threads": 2,
        "listeners": [{"name": "web", "listen": "127.0.0.1:0", "mode": "http", "routes": [{"pool": "web"}]}],
        "pools": [{"name": "web", "servers_from": {"service": "web"}, "retries": 2}],
        "admin": {"listen": "127.0.0.1:0"},
        "services": [
            backend_service("web", web_base, 3, readiness=ready),
            {"name": "crash", "command": "/bin/sh", "args": ["-c", "echo starting; exit 3"],
             "restart_delay": "100ms", "max_restart_delay": "400ms",
             "crash_loop": {"restarts": 3, "window": "30s", "delay": "3s"}},
            backend_service("live", live_port, 1,
                            # the initial delay covers a start that takes seconds under a sanitizer on a busy machine
                            liveness={"http": "/health", "initial_delay": f"{int(scaled(1.5) * 1000)}ms",
                                      "period": "300ms", "timeout": "200ms", "failure_threshold": 2}),
        ],
    }


@pytest.fixture(scope="module")
def sup(mspawn):
    h = mspawn.haven(config(free_port_range(3), free_port_range(1)))
    h.started_at = time.monotonic()
    wait_until(lambda: ready_count(h, "web") == 3, scaled(10), what="three ready web replicas")
    return h


def services(h) -> dict:
    r = http_request(h.admin_port(), "GET", "/api/services")
    assert r.status == 200, r
    return {s["name"]: s for s in r.json()["services"]}


def replicas(h, service: str) -> dict:
    return {r["name"]: r for r in services(h)[service]["replicas"]}


def ready_count(h, service: str) -> int:
    return sum(1 for r in replicas(h, service).values() if r["state"] == "ready")


def events(h, kind: str, server: str | None = None) -> list:
    evts = http_request(h.admin_port(), "GET", "/api/events").json()["events"]
    return [e for e in evts if e["kind"] == kind and (server is None or e["server"] == server)]


def ctl(h, *args) -> subprocess.CompletedProcess:
    return subprocess.run([HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{h.admin_port()}", *args], capture_output=True,
                          text=True, timeout=scaled(10))


def backends_answering(h, n: int) -> set:
    return {h.get("/").header("X-Backend") for _ in range(n)}


def control(replica: dict, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = http_request(replica["port"], "POST", f"/_control?{q}")
    assert r.status == 200, r


def wait_steady(h):
    """Every web replica ready and no rolling restart going on."""
    wait_until(lambda: ready_count(h, "web") == 3 and services(h)["web"]["rolling_restart"] is None, scaled(10),
               what="web steady")


def test_ready_replicas_take_traffic_and_ctl_services_shows_them(sup):
    wait_steady(sup)
    assert backends_answering(sup, 30) == {"web-1", "web-2", "web-3"}
    web2 = replicas(sup, "web")["web-2"]
    control(web2, health="fail")  # its readiness probe fails: out of rotation, still running
    try:
        wait_until(lambda: replicas(sup, "web")["web-2"]["state"] == "not_ready", scaled(5), what="web-2 not ready")
        assert backends_answering(sup, 30) == {"web-1", "web-3"}
        out = ctl(sup, "services")
        assert out.returncode == 0, out.stderr
        assert "service web  ready 2/3" in out.stdout, out.stdout
        row = next(line.split() for line in out.stdout.splitlines() if line.split()[:1] == ["web-2"])
        assert row[1] == str(web2["pid"]) and row[2] == str(web2["port"]) and row[3] == "not_ready", out.stdout
        assert replicas(sup, "web")["web-2"]["pid"] == web2["pid"]  # not restarted: readiness only gates
        status = http_request(sup.admin_port(), "GET", "/api/status").json()
        panel = next(s for s in status["subsystems"] if s["name"] == "services")["summary"]  # the dashboard's
        assert panel["web-2"].startswith("not_ready") and panel["ready"] >= 2, panel
    finally:
        control(web2, health="ok")
    wait_until(lambda: ready_count(sup, "web") == 3, scaled(5), what="web-2 ready again")
    assert backends_answering(sup, 30) == {"web-1", "web-2", "web-3"}


def test_a_replica_killed_with_sigkill_is_restarted_with_no_failed_request(sup):
    wait_steady(sup)
    before = replicas(sup, "web")["web-2"]
    load = ClosedLoop(sup.port(), 8, duration=scaled(15))
    try:
        wait_until(lambda: any(o.backend == "web-2" for o in list(load.outcomes)), scaled(5), what="web-2 serving")
        subprocess.run(["kill", "-9", str(before["pid"])], check=True)
        killed = time.monotonic()
        wait_until(lambda: replicas(sup, "web")["web-2"]["pid"] not in (None, before["pid"]), scaled(3),
                   what="web-2 started again")
        restarted_after = time.monotonic() - killed
        wait_until(lambda: any(o.backend == "web-2" and o.sent > killed + restarted_after for o in list(load.outcomes)),
                   scaled(5), what="web-2 serving again")
    finally:
        load.stop()
        load.finish()
    assert restarted_after < scaled(0.3 + 1.0), restarted_after  # restart_delay, plus the time to notice
    assert not load.failures(), (load.by_status(), load.failures()[:5])
    now = replicas(sup, "web")["web-2"]
    assert now["restarts"] == before["restarts"] + 1 and now["last_exit"] == "killed by SIGKILL"
    assert any("killed by SIGKILL" in e["detail"] for e in events(sup, "replica_exited", "web-2"))
    # Ejected for the resets its death caused (if enough requests were in flight), the restarted
    # replica is not left out for base_ejection: it serves (checked above) and is not ejected now.
    assert not server_view(sup, "web", "web-2")["ejected"]
    m = scrape(sup.admin_port())
    assert total(m, "haven_replica_restarts_total", service="web", replica="web-2") == now["restarts"]
    assert total(m, "haven_replica_last_exit_signal", replica="web-2") == signal.SIGKILL


def test_a_command_that_exits_at_once_ends_in_crashloop_without_a_busy_loop(sup):
    wait_until(lambda: replicas(sup, "crash")["crash-1"]["state"] == "crashloop", scaled(5), what="CRASHLOOP")
    r = replicas(sup, "crash")["crash-1"]
    assert r["crashloop"] and r["last_exit"] == "exit status 3"
    # No busy loop: three starts (100 ms and 200 ms of backoff between them), then one per
    # crash-loop delay (3 s) however long the tests before this one took.
    elapsed = time.monotonic() - sup.started_at
    assert r["starts"] <= 4 + elapsed / 3, (r, elapsed)
    time.sleep(scaled(1.0))
    assert replicas(sup, "crash")["crash-1"]["starts"] <= r["starts"] + 1
    assert events(sup, "replica_crashloop", "crash-1")
    assert "[crash-1] starting" in sup.log()  # its output, in haven's log under its name
    promtool = require_tool("promtool", "Debian package prometheus; scripts/install-deps installs it")
    text = http_request(sup.admin_port(), "GET", "/metrics").text
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    m = scrape(sup.admin_port())
    assert total(m, "haven_replica_crashloops_total", replica="crash-1") == 1
    assert total(m, "haven_replica_state", replica="crash-1", state="crashloop") == 1
    out = ctl(sup, "services")
    assert any(line.split()[:1] == ["crash-1"] and "crashloop" in line.split() for line in out.stdout.splitlines()), out.stdout


def test_a_failing_liveness_probe_restarts_the_replica(sup):
    wait_until(lambda: replicas(sup, "live")["live-1"]["state"] == "ready", scaled(5), what="live-1 ready")
    before = replicas(sup, "live")["live-1"]
    control(before, health_latency_ms=60000)  # /health hangs: every check times out
    wait_until(lambda: replicas(sup, "live")["live-1"]["liveness_restarts"] == before["liveness_restarts"] + 1,
               scaled(5), what="a liveness restart")
    wait_until(lambda: replicas(sup, "live")["live-1"]["pid"] not in (None, before["pid"]), scaled(5),
               what="live-1 running again")
    assert not process_running(before["pid"])
    assert events(sup, "replica_liveness_failed", "live-1")
    m = scrape(sup.admin_port())
    assert total(m, "haven_replica_liveness_restarts_total", replica="live-1") >= 1


def test_ctl_restart_replaces_replicas_one_at_a_time_with_no_failed_request(sup):
    wait_steady(sup)
    old = {n: r["pid"] for n, r in replicas(sup, "web").items()}
    rolls = services(sup)["web"]["rolling_restarts"]
    load = ClosedLoop(sup.port(), 8, duration=scaled(30))
    try:
        wait_until(lambda: len(load.outcomes) > 50, scaled(5), what="load running")
        out = ctl(sup, "restart", "web")
        assert out.returncode == 0 and "rolling restart of web started" in out.stdout, (out.stdout, out.stderr)
        busy = ctl(sup, "restart", "web")  # one at a time: a second request is refused while it runs
        assert busy.returncode == 1 and "in progress" in busy.stderr, busy.stderr
        never_two_down = []

        def done():
            now = services(sup)["web"]
            never_two_down.append(now["ready"])
            return now["rolling_restart"] is None and now["rolling_restarts"] == rolls + 1
        wait_until(done, scaled(20), interval=0.05, what="the rolling restart")
        served_after = len(load.outcomes)
        wait_until(lambda: len(load.outcomes) > served_after + 50, scaled(5), what="load after the restart")
    finally:
        load.stop()
        load.finish()
    assert not load.failures(), (load.by_status(), load.failures()[:5])
    now = replicas(sup, "web")
    assert all(now[n]["pid"] != old[n] and now[n]["state"] == "ready" for n in old), now
    assert min(never_two_down) >= 2, never_two_down
    assert {e["server"] for e in events(sup, "replica_stopped")} >= {"web-1", "web-2", "web-3"}
    assert events(sup, "rolling_restart_done")


def replica_pids(h) -> list:
    return [r["pid"] for s in services(h).values() for r in s["replicas"] if r["pid"]]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_haven_leaves_no_child_behind(spawn, sig):
    base = free_port_range(2)
    cfg = {"threads": 1,
           "listeners": [{"name": "web", "listen": "127.0.0.1:0", "mode": "http", "routes": [{"pool": "web"}]}],
           "pools": [{"name": "web", "servers_from": {"service": "web"}}],
           "admin": {"listen": "127.0.0.1:0"},
           "services": [backend_service("web", base, 2),
                        {"name": "sleeper", "command": "sleep", "args": ["1000"]}]}
    h = spawn.haven(cfg)
    wait_until(lambda: len(replica_pids(h)) == 3, scaled(10), what="three children")
    pids = replica_pids(h)
    assert all(process_running(p) for p in pids)
    h.stop(sig)
    wait_until(lambda: not any(process_running(p) for p in pids), scaled(5), what="every child gone")


def test_systemd_hears_ready_reloading_stopping_and_watchdog_pings(spawn, tmp_path, monkeypatch):
    """Type=notify without systemd: a datagram socket in NOTIFY_SOCKET gets what systemd would."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    got = []

    def until(what: str):
        deadline = time.monotonic() + scaled(5)
        while time.monotonic() < deadline:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                continue
            if what in got[-1]:
                return
        raise AssertionError(f"no {what!r} in {got}")
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # WatchdogSec=400ms: a ping every 200 ms
    cfg = {"threads": 1,
           "listeners": [{"name": "web", "listen": "127.0.0.1:0", "mode": "http", "routes": [{"pool": "web"}]}],
           "pools": [{"name": "web", "servers_from": {"service": "web"}}],
           "admin": {"listen": "127.0.0.1:0"},
           "services": [backend_service("web", free_port_range(1), 1)]}
    try:
        h = spawn.haven(cfg)
        until("READY=1")
        until("WATCHDOG=1")
        until("WATCHDOG=1")
        child = replica_pids(h)[0]
        environ = open(f"/proc/{child}/environ", "rb").read().split(b"\0")
        assert not any(e.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_USEC=")) for e in environ)  # for haven alone
        h.send_signal(signal.SIGHUP)
        until("RELOADING=1")
        until("READY=1")
        h.stop(signal.SIGTERM)
        until("STOPPING=1")
    finally:
        sock.close()
    assert any("MONOTONIC_USEC=" in m for m in got if "RELOADING=1" in m), got


def small_config(*services) -> dict:
    return {"threads": 1,
            "listeners": [{"name": "web", "listen": "127.0.0.1:0", "mode": "http", "routes": [{"pool": "web"}]}],
            "pools": [{"name": "web", "servers_from": {"service": "web"}}],
            "admin": {"listen": "127.0.0.1:0"},
            "services": list(services)}


def test_an_exec_probe_past_its_timeout_is_killed_and_fails(spawn, tmp_path):
    pidfile = tmp_path / "probe.pids"
    probe = {"exec": ["/bin/sh", "-c", f"echo $$ >> {pidfile}; exec sleep 30"], "period": "400ms", "timeout": "200ms",
             "failure_threshold": 2}
    h = spawn.haven(small_config(backend_service("web", free_port_range(1), 1, liveness=probe)))
    wait_until(lambda: replicas(h, "web")["web-1"]["liveness_restarts"] >= 1, scaled(5), what="a liveness restart")
    r = replicas(h, "web")["web-1"]
    assert r["liveness"]["last"] == "timeout" or r["liveness"]["checks"] == 0, r
    assert any("timeout" in e["detail"] for e in events(h, "replica_liveness_failed", "web-1"))
    wait_until(lambda: len(pidfile.read_text().split()) >= 3, scaled(5), what="three probe runs")
    started = [int(p) for p in pidfile.read_text().split()]
    # Each probe ran past its timeout and was killed: at most the latest one still runs.
    wait_until(lambda: not any(process_running(p) for p in started[:-1]), scaled(2), what="timed-out probes gone")


def test_a_reload_that_changes_the_env_replaces_replicas_one_at_a_time(spawn):
    base = free_port_range(2)
    ready = {"http": "/health", "period": "200ms", "timeout": "150ms", "failure_threshold": 1}
    h = spawn.haven(small_config(backend_service("web", base, 2, readiness=ready, env={"COLOUR": "blue"})))
    wait_until(lambda: ready_count(h, "web") == 2, scaled(10), what="two ready replicas")
    old = {n: r["pid"] for n, r in replicas(h, "web").items()}
    h.reload(small_config(backend_service("web", base, 2, readiness=ready, env={"COLOUR": "green"})))

    def replaced():
        now = replicas(h, "web")
        return all(now[n]["pid"] not in (None, old[n]) and now[n]["state"] == "ready" for n in old) and \
            services(h)["web"]["rolling_restart"] is None
    wait_until(replaced, scaled(10), what="both replicas replaced")
    assert any("configuration changed" in e["detail"] for e in events(h, "rolling_restart"))
    for r in replicas(h, "web").values():
        environ = open(f"/proc/{r['pid']}/environ", "rb").read().split(b"\0")
        assert b"COLOUR=green" in environ and b"HAVEN_REPLICA=" + r["name"].encode() in environ


def test_a_replica_that_ignores_sigterm_is_killed_after_stop_grace(spawn):
    """SIGTERM, stop_grace, then SIGKILL: on a restart (the replica_killed event) and when haven
    itself stops (it exits, and the child is gone)."""
    stubborn = {"name": "stubborn", "command": "/bin/sh",
                "args": ["-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"], "stop_grace": "1s"}
    base = free_port_range(1)
    h = spawn.haven(small_config(backend_service("web", base, 1), stubborn))
    wait_until(lambda: replicas(h, "stubborn")["stubborn-1"]["pid"], scaled(5), what="stubborn running")
    first = replicas(h, "stubborn")["stubborn-1"]["pid"]
    asked = time.monotonic()
    r = http_request(h.admin_port(), "POST", "/api/services/stubborn/restart")
    assert r.status == 202, r
    wait_until(lambda: not process_running(first), scaled(5), what="the old replica gone")
    took = time.monotonic() - asked
    assert took >= 0.9, f"killed {took:.2f} s after the restart, before its 1 s stop_grace"
    killed = events(h, "replica_killed", "stubborn-1")
    assert killed and "after SIGTERM; SIGKILL" in killed[-1]["detail"], killed
    wait_until(lambda: replicas(h, "stubborn")["stubborn-1"]["pid"] not in (None, first), scaled(5),
               what="a new stubborn replica")
    second = replicas(h, "stubborn")["stubborn-1"]["pid"]
    assert h.stop(signal.SIGTERM, timeout=scaled(10)) == 0
    assert not process_running(second)
    assert "stubborn-1: still running after SIGTERM; SIGKILL" in h.proc.stderr()


def test_a_rolling_restart_lets_a_request_in_flight_finish_before_it_stops_the_replica(spawn):
    """drain_timeout: the replica leaves the pool, its request in flight (1.5 s) completes, and only
    then does it get SIGTERM (the demo backend drops what it is serving on SIGTERM)."""
    base = free_port_range(1)
    h = spawn.haven(small_config(backend_service("web", base, 1, drain_timeout="5s",
                                                 readiness={"http": "/health", "period": "200ms", "timeout": "150ms"})))
    wait_until(lambda: ready_count(h, "web") == 1, scaled(10), what="web ready")
    old = replicas(h, "web")["web-1"]["pid"]
    result = {}
    t = threading.Thread(target=lambda: result.update(r=h.get("/delay?ms=1500")))
    t.start()
    wait_until(lambda: http_request(h.admin_port(), "GET", "/api/pools/web").json()["servers"][0]["active"] == 1,
               scaled(3), what="the slow request in flight")
    r = http_request(h.admin_port(), "POST", "/api/services/web/restart")
    assert r.status == 202, r
    time.sleep(0.5)
    assert process_running(old), "stopped with a request in flight"
    t.join(timeout=scaled(10))
    assert result["r"].status == 200 and result["r"].body == b"delayed\n", result
    wait_until(lambda: not process_running(old), scaled(5), what="the drained replica stopped")
    wait_until(lambda: ready_count(h, "web") == 1, scaled(10), what="the new replica ready")


def test_a_service_runs_as_its_user(spawn):
    if os.geteuid() != 0:
        pytest.skip("switching user needs root")
    import pwd
    nobody = pwd.getpwnam("nobody")
    base = free_port_range(1)
    h = spawn.haven(small_config(backend_service("web", base, 1),
                                 {"name": "unprivileged", "command": "sleep", "args": ["1000"], "user": "nobody"}))
    wait_until(lambda: replicas(h, "unprivileged")["unprivileged-1"]["pid"], scaled(5), what="the replica running")
    pid = replicas(h, "unprivileged")["unprivileged-1"]["pid"]
    uids = proc_status(pid)["Uid"].split()
    gids = proc_status(pid)["Gid"].split()
    assert uids == [str(nobody.pw_uid)] * 4, uids
    assert gids == [str(nobody.pw_gid)] * 4, gids
    assert proc_status(pid)["Groups"].split() in ([], [str(nobody.pw_gid)]), proc_status(pid)["Groups"]
