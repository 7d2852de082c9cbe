"""The admin listener through the real binary: Prometheus output checked by promtool, haven's own
health and readiness, the JSON API and its errors, the bearer token, `haven ctl`, reload through
the API under load with zero failed requests, and SLO figures."""

import json
import subprocess
import threading
import time

import pytest

from harness import FAST_CHECKS as CHECKS, HAVEN_BIN, http_request, make_config, require_tool, scaled, wait_until



def admin_config(backends, token_file=None, **pool_extra):
    cfg = make_config(pools={"p": {"servers": [{"name": b.name, "address": b.address} for b in backends],
                                   "health_check": CHECKS, **pool_extra}})
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    if token_file:
        cfg["admin"]["token_file"] = str(token_file)
    return cfg


def admin(haven, method, path, body=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return http_request(haven.admin_port(), method, path, body=body, headers=headers)


def ctl(haven, *args, token_file=None):
    cmd = [HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{haven.admin_port()}"]
    if token_file:
        cmd += ["--token-file", str(token_file)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(20))


@pytest.fixture
def two(spawn):
    return spawn.backends(2)


def test_metrics_pass_promtool_and_count_requests(spawn, two):
    haven = spawn.haven(admin_config(two))
    for _ in range(10):
        assert haven.get("/").status == 200
    r = admin(haven, "GET", "/metrics")
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain; version=0.0.4")
    text = r.text
    promtool = require_tool("promtool", "Debian package prometheus; scripts/install-deps installs it")
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert 'haven_requests_total{listener="web",route="0",pool="p",code_class="2xx"} 10' in text
    assert 'haven_request_duration_seconds_count{listener="web"} 10' in text
    for name in ["haven_server_up", "haven_pool_healthy_servers", "haven_pool_serving_tier", "haven_failovers_total",
                 "haven_health_checks_total", "haven_health_check_duration_seconds", "haven_outlier_ejections_total",
                 "haven_upstream_attempts_total", "haven_upstream_failures_total", "haven_retry_decisions_total",
                 "haven_connections_active", "haven_connections_accepted_total", "haven_config_reloads_total",
                 "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                 "haven_slo_availability", "haven_slo_error_budget_remaining", "haven_slo_burn_rate"]:
        assert f"\n{name}" in text or text.startswith(name), name


def test_health_shallow_deep_and_ready(spawn, two):
    haven = spawn.haven(admin_config(two))
    assert admin(haven, "GET", "/health").status == 200
    wait_until(lambda: admin(haven, "GET", "/ready").status == 200, scaled(3), what="ready")
    r = admin(haven, "GET", "/health?deep=1")
    assert r.status == 200, r.text
    checks = r.json()["checks"]
    assert checks["pool:p"]["ok"] and checks["config"]["ok"] and checks["worker:0"]["ok"]
    for b in two:
        b.control(health="fail")
    wait_until(lambda: admin(haven, "GET", "/health?deep=1").status == 503, scaled(3), what="deep health failing")
    assert admin(haven, "GET", "/health").status == 200, "shallow health says only that the process serves"


def test_api_pools_events_config_and_errors(spawn, two):
    haven = spawn.haven(admin_config(two))
    pools = admin(haven, "GET", "/api/pools").json()["pools"]
    assert [s["name"] for s in pools[0]["servers"]] == ["b1", "b2"]
    assert {"state", "weight", "active", "last_check", "requests"} <= set(pools[0]["servers"][0])
    assert admin(haven, "GET", "/api/pools/p").json()["name"] == "p"
    cfg = admin(haven, "GET", "/api/config").json()
    assert cfg["pools"][0]["health_check"]["fall"] == 2 and cfg["listeners"][0]["name"] == "web"
    bad = [("GET", "/api/pools/nope", 404), ("GET", "/api/nothing", 404), ("DELETE", "/api/pools", 405),
           ("POST", "/api/pools/p/servers/zz/drain", 404), ("POST", "/api/pools/p/servers/b1/explode", 404),
           ("POST", "/api/pools/p/servers/b1/weight?value=-1", 400), ("GET", "/api/events?since=x", 400),
           ("GET", "/nope", 404)]
    for method, path, status in bad:
        r = admin(haven, method, path)
        assert r.status == status, (method, path, r.status, r.text)
        assert "error" in r.json(), (method, path)
    r = admin(haven, "POST", "/api/pools/p/servers/b1/weight", body=json.dumps({"weight": 3}))
    assert r.status == 200 and r.json()["servers"][0]["weight"] == 3
    ev = admin(haven, "GET", "/api/events").json()["events"]
    assert any(e["kind"] == "weight" and e["server"] == "b1" for e in ev)


def test_writes_need_the_token(spawn, two, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    haven = spawn.haven(admin_config(two, token_file=token))
    assert admin(haven, "GET", "/api/pools").status == 200, "reads from loopback are open"
    assert admin(haven, "POST", "/api/pools/p/servers/b1/drain").status == 401
    assert admin(haven, "POST", "/api/pools/p/servers/b1/drain", token="wrong").status == 401
    assert admin(haven, "POST", "/api/pools/p/servers/b1/drain", token="s3cret").status == 200
    # workers adopt the new state when their mailbox rings (at worst at their next 100 ms tick)
    wait_until(lambda: {haven.get("/").header("X-Backend") for _ in range(4)} == {"b2"}, scaled(2),
               what="b1 drained")
    assert {haven.get("/").header("X-Backend") for _ in range(8)} == {"b2"}, "drained: no new requests"
    assert admin(haven, "POST", "/api/pools/p/servers/b1/enable", token="s3cret").status == 200
    wait_until(lambda: "b1" in {haven.get("/").header("X-Backend") for _ in range(4)}, scaled(2), what="b1 back")


def test_ctl_tables_json_and_exit_codes(spawn, two, tmp_path):
    token = tmp_path / "token"
    token.write_text("tok")
    haven = spawn.haven(admin_config(two, token_file=token))
    out = ctl(haven, "pools")
    assert out.returncode == 0 and "SERVER" in out.stdout and "b1" in out.stdout, out
    out = ctl(haven, "--json", "pools")
    assert json.loads(out.stdout)["pools"][0]["name"] == "p"
    assert ctl(haven, "drain", "p", "b1").returncode == 1, "no token"
    out = ctl(haven, "drain", "p", "b1", token_file=token)
    assert out.returncode == 0 and "drain" in out.stdout
    out = ctl(haven, "events")
    assert "admin_drain" in out.stdout
    assert ctl(haven, "enable", "p", "nobody", token_file=token).returncode == 1
    assert ctl(haven, "frobnicate").returncode == 2
    out = ctl(haven, "health", "deep")
    assert out.returncode == 0 and "pool:p" in out.stdout
    out = subprocess.run([HAVEN_BIN, "ctl", "-a", "127.0.0.1:1", "status"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1 and "cannot reach" in out.stderr


def test_reload_through_the_api_under_load_fails_no_request(spawn, two, tmp_path):
    token = tmp_path / "token"
    token.write_text("tok")
    b3 = spawn.backend("b3")
    haven = spawn.haven(admin_config(two, token_file=token))
    stop = threading.Event()
    failures, done = [], []

    def load():
        deadline = time.monotonic() + scaled(20)
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                r = haven.get("/", timeout=10)
                (done if r.status == 200 else failures).append(r.status)
            except OSError as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    configs = [admin_config(two + [b3], token_file=token), admin_config(two, token_file=token)]
    for i in range(8):
        haven.write_config(configs[i % 2])
        r = admin(haven, "POST", "/api/reload", token="tok")
        assert r.status == 200, r.text
        time.sleep(0.15)  # on purpose: the load runs on each configuration for a while
    haven.write_config({"listeners": "broken"})
    r = admin(haven, "POST", "/api/reload", token="tok")
    assert r.status == 422 and "reload refused" in r.json()["error"]
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(done) > 50
    assert not failures, failures[:5]
    reloads = admin(haven, "GET", "/metrics").text
    assert 'haven_config_reloads_total{result="success"} 8' in reloads
    assert 'haven_config_reloads_total{result="failure"} 1' in reloads


def test_slo_figures_follow_traffic(spawn, two):
    cfg = admin_config(two)
    cfg["slo"] = {"availability": "99.9%", "latency_p99": "500ms", "error_rate": "0.1%", "window": "30d"}
    haven = spawn.haven(cfg)
    for _ in range(40):
        haven.get("/")
    for _ in range(10):
        haven.get("/status/503")
    # traffic is sampled once a second: wait until the sample with all 50 requests is taken
    slo = wait_until(lambda: (lambda x: x if x["windows"]["5m"]["requests"] >= 50 else None)(
        admin(haven, "GET", "/api/slo").json()["listeners"][0]["slo"]), scaled(5), interval=0.1,
        what="the SLO sample of 50 requests")
    assert slo["target"]["availability"] == pytest.approx(99.9)
    assert slo["allowed_downtime_seconds"] == pytest.approx(2592, rel=1e-6)  # 43.2 minutes
    w = slo["windows"]["5m"]
    assert w["requests"] == 50 and w["errors"] == 10
    assert w["availability"] == pytest.approx(80.0)
    assert slo["error_budget_remaining"] < 0, "10 errors in 50 requests overspend a 99.9% budget"
    assert slo["burn_rate_5m"] == pytest.approx(0.2 / 0.001)
    status = admin(haven, "GET", "/api/status").json()
    assert status["listeners"][0]["slo"]["met"]["availability"] is False


def test_sla_command():
    out = subprocess.run([HAVEN_BIN, "sla", "99.9%"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "43m 12s" in out.stdout
    bad = subprocess.run([HAVEN_BIN, "sla", "101%"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "invalid target" in bad.stderr
