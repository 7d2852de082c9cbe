"""The command line as docs/cli.md states it: exit codes (0 success, 1 configuration or runtime
failure, 2 usage error), `haven sla` reading a number the way the config does, `haven ctl reload`
printing a table, and a refused reload reporting every error, not only the first."""

import subprocess

import pytest

from harness import HAVEN_BIN, make_config, scaled, to_yaml


def haven(*args, timeout=20):
    return subprocess.run([HAVEN_BIN, *args], capture_output=True, text=True, timeout=scaled(timeout))


@pytest.mark.parametrize("args,code,message", [
    (["run", "-c", "/nonexistent/haven.yaml"], 1, "/nonexistent/haven.yaml: cannot open"),
    (["check", "-c", "/nonexistent/haven.yaml"], 1, "/nonexistent/haven.yaml: cannot open"),
    (["run"], 2, "--config is required"),
    (["bogus"], 2, ""),
    (["run", "-c", "x.yaml", "--log-level", "loud"], 2, "--log-level"),
    (["ctl"], 2, "command is required"),
    (["ctl", "bogus"], 2, 'unknown command "bogus"'),
    (["ctl", "drain", "web"], 2, "usage: haven ctl drain POOL SERVER"),
    (["ctl", "weight", "web", "s1", "heavy"], 2, 'WEIGHT: an integer 0-256, got "heavy"'),
    (["ctl", "events", "yesterday"], 2, 'SINCE: an event number, got "yesterday"'),
    (["ctl", "-a", "127.0.0.1:1", "status"], 1, "cannot reach the admin listener at 127.0.0.1:1"),
    (["sla", "101%"], 2, 'invalid target "101%"'),
    (["sla"], 2, "target is required"),
])
def test_exit_codes(args, code, message):
    r = haven(*args)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr


def test_sla_reads_a_number_as_the_config_does():
    # The config reads slo.availability 0.9995 as 99.95%; so does `haven sla`.
    fraction, percent = haven("sla", "0.9995"), haven("sla", "99.95%")
    assert fraction.returncode == 0 and percent.returncode == 0
    assert fraction.stdout == percent.stdout
    assert "99.95%" in fraction.stdout and "4h 22m 48s" in fraction.stdout
    # A bare number above 1 is neither a fraction nor (without %) a percentage: an error, not a guess.
    bare = haven("sla", "99.95")
    assert bare.returncode == 2
    assert "a fraction more than 0 and at most 1 (0.9995)" in bare.stderr
    assert bare.stdout == ""


def write(tmp_path, cfg, name="haven.yaml"):
    path = tmp_path / name
    path.write_text(cfg if isinstance(cfg, str) else to_yaml(cfg) + "\n")
    return path


def test_ctl_reload_prints_a_table_and_a_refused_reload_lists_every_error(spawn, tmp_path):
    b = spawn.backend("b1")
    cfg = make_config(pools={"p": [b.address]})
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    h = spawn.haven(cfg)
    admin = f"127.0.0.1:{h.admin_port()}"
    ok = haven("ctl", "-a", admin, "reload")
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0].split() == ["RELOAD", "FILE", "LISTENERS", "POOLS", "SERVERS"], ok.stdout
    assert lines[1].split() == ["applied", str(h.config_path), "1", "1", "1"], ok.stdout
    # Three mistakes in one file: every one is reported, by the API and by ctl.
    bad = to_yaml(cfg) + "\n"
    bad = bad.replace("threads: 2", "threads: 2\nworkers: 3").replace("name: p\n", "name: p\n    balance: fastest\n")
    bad += "timeouts:\n  connect: soon\n"
    h.config_path.write_text(bad)
    refused = haven("ctl", "-a", admin, "reload")
    assert refused.returncode == 1
    assert "haven ctl: refused (422)" in refused.stderr, refused.stderr
    for part in ('unknown key "workers"', "balance", "timeouts.connect"):
        assert part in refused.stderr, (part, refused.stderr)
    assert len([l for l in refused.stderr.splitlines() if l.startswith("  ")]) == 3, refused.stderr
    as_json = haven("ctl", "-a", admin, "--json", "reload")
    assert as_json.returncode == 1 and '"errors"' in as_json.stdout
    assert h.get("/").status == 200, "the running configuration keeps serving"


def test_check_shows_each_servers_tier_backup_flag_and_the_check_settings(tmp_path):
    cfg = make_config(pools={"web": {
        "retries": 2, "min_healthy": 2, "all_backups": True,
        "health_check": {"http": {"path": "/health"}, "interval": "1s", "fall": 2, "rise": 3},
        "servers": [
            {"name": "w1", "address": "127.0.0.1:9001"},
            {"name": "w2", "address": "127.0.0.1:9002", "priority": 2, "health_check": {"port": 9102, "path": "/deep"}},
            {"name": "w3", "address": "127.0.0.1:9003", "backup": True, "state": "drain"},
        ]}, "plain": ["127.0.0.1:9004"]})
    r = haven("check", "-c", str(write(tmp_path, cfg)))
    assert r.returncode == 0, r.stderr
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert "pool web  roundrobin  retries 2  min_healthy 2  all_backups" in lines, r.stdout
    assert "server w1  127.0.0.1:9001  weight 1  tier 0" in lines, r.stdout
    assert "server w2  127.0.0.1:9002  weight 1  tier 2  check port 9102  check path /deep" in lines, r.stdout
    assert "server w3  127.0.0.1:9003  weight 1  tier 1  backup  state drain" in lines, r.stdout
    # The interval alone sets the timeout, the fast and the down interval (docs/failover.md).
    check = next(line for line in lines if line.startswith("health check: http GET /health"))
    assert "every 1s (timeout 1s, fast 500ms, down 1s, rise 3, fall 2, jitter 10%, initial check)" in check, check
    worst = next(line for line in lines if line.startswith("worst case:"))
    assert "marked down by checks within" in worst and "serves again within" in worst, worst
    # A pool without checks says what that means.
    assert any(line.startswith("no active health check: servers count as up") for line in lines), r.stdout
