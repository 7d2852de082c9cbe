#!/usr/bin/env python3
"""A stand-in for haven's admin listener: serves the dashboard's static files and a scripted
`GET /api/status`, so the page can be developed and tested without haven. Standard library only.

    python3 tests/integration/dashboard_mock.py --port 8099 --down-after 5 --token secret
    # then open http://127.0.0.1:8099/

It prints `dashboard-mock listening on 127.0.0.1:PORT` once it accepts connections.

Script: pools `web` (web1, web2, backup web3) and `api` (one server ejected, one draining, one in
maintenance, mode degraded). Server web1 is up for the first N answers to /api/status, then goes
down (state `down`, a `server_down` event). Figures move a little with every poll.

The JSON contract this mock follows (GET /api/status)
-----------------------------------------------------
    version             string
    uptime_seconds      number, seconds since start
    ready               bool, haven accepts traffic
    listeners[]         name, address ("host:port"), mode ("http" | "tcp"),
                        rps (requests per second, recent), error_rate (FRACTION 0..1, recent),
                        p50_ms, p99_ms (milliseconds, recent),
                        slo (haven always sends one; the page also copes with null):
                          target   availability (PERCENT), latency_p99_ms, error_rate (PERCENT),
                                   window_days
                          windows  "5m", "1h", "slo" (the SLO window): availability (PERCENT),
                                   error_rate (PERCENT), p50_ms, p99_ms, requests, errors (counts in
                                   the window), covered_seconds (history the figures rest on)
                          allowed_downtime_seconds   for the target over the SLO window
                          error_budget_remaining     FRACTION, negative when overspent
                          burn_rate_5m, burn_rate_1h 1 = spending the budget exactly on pace
                          met      availability, latency, error_rate: bool, over the SLO window
    pools[]             name, tier (serving tier, -1 when none), mode ("normal" | "degraded" |
                        "panic" | "none"), healthy (health up and not ejected), serving (servers
                        taking traffic), total, failovers (count since start),
                        servers[]:
                          name, address, state ("up" | "down" | "ejected" | "drain" | "maint": the
                          summary the dashboard colours), health ("up" | "down"), admin ("ready" |
                          "drain" | "maint"), ejected, serving, checked (bools), weight,
                          effective_weight, priority, backup, active (requests in flight),
                          requests, failures, ejections, checks, check_failures (counts),
                          last_check (result text: "ok" or the failure reason; "" before the
                          first check), last_check_ms (its duration), last_check_time (ISO 8601)
    events[]            the most recent (up to 100), oldest first: seq (increasing), time (ISO 8601
                        UTC with milliseconds), kind, pool, server ("-" when none), detail
    subsystems[]        one per subsystem, shown generically: name, ok (every check passes),
                        ready, summary (an object of scalar values: counts, words, booleans),
                        checks[] (name, ok, detail: its part of /health?deep=1)

The state summary (as haven computes it): admin maint > admin drain > ejected > health.

Reads need no token from 127.0.0.1; haven asks non-loopback clients for the token on reads too
(the page sends it with every request once entered).

Writes: POST /api/pools/{pool}/servers/{server}/{drain|enable|maint} with
`Authorization: Bearer <token>`; 200 with a JSON body on success, otherwise a 4xx with
{"error": "..."}: 401 (missing or wrong token), 403 (no token configured: writes disabled),
404 (no such pool, server or action).

Test-only controls (not part of haven's API): POST /_mock/fail?on=1 makes /api/status answer
503 until POST /_mock/fail?on=0, to exercise the page's disconnected marker.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hmac
import json
import pathlib
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_DIR = pathlib.Path(__file__).resolve().parents[2] / "src" / "admin" / "dashboard"
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/dom.js": ("dom.js", "text/javascript; charset=utf-8"),
    "/services.js": ("services.js", "text/javascript; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
ACTION_PATH = re.compile(r"^/api/pools/([^/]+)/servers/([^/]+)/([^/]+)$")
ADMIN_AFTER = {"drain": "drain", "enable": "ready", "maint": "maint"}


def _server(name, port, **kw):
    s = {"name": name, "address": f"127.0.0.1:{port}", "state": "up", "health": "up", "admin": "ready",
         "ejected": False, "serving": True, "checked": True, "weight": 1, "effective_weight": 100,
         "priority": 0, "backup": False, "active": 0, "requests": 0, "failures": 0, "ejections": 0,
         "checks": 10, "check_failures": 0, "last_check": "ok", "last_check_ms": 0.8,
         "last_check_time": _now_iso()}
    s.update(kw)
    return s


def _window(availability, p99_ms, requests, covered_seconds):
    """One SLO window; error rate and errors follow from availability (both measure 5xx)."""
    error_rate = round(100 - availability, 6)
    return {"availability": availability, "error_rate": error_rate, "p50_ms": round(p99_ms / 8, 2),
            "p99_ms": p99_ms, "requests": requests, "errors": round(requests * error_rate / 100),
            "covered_seconds": covered_seconds}


def _now_iso() -> str:
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Scenario:
    """The scripted state; every /api/status answer is one step."""

    def __init__(self, down_after: int):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.down_after = down_after
        self.polls = 0
        self.fail = False
        self.seq = 0
        self.events: list[dict] = []
        self.pools = [
            {"name": "web", "servers": [_server("web1", 9001), _server("web2", 9002),
                                        _server("web3", 9003, priority=1, backup=True, serving=False)]},
            {"name": "api", "servers": [
                _server("api1", 9101, state="ejected", ejected=True, serving=False, failures=17,
                        last_check_ms=1.4),
                _server("api2", 9102, state="drain", admin="drain", serving=False, active=2),
                _server("api3", 9103, weight=2, effective_weight=140, active=3, max_connections=3),
                _server("api4", 9104, state="maint", admin="maint", serving=False, checked=False, checks=0,
                        last_check="", last_check_ms=0, last_check_time="")]},
        ]
        self.failovers = {"web": 0, "api": 1}
        self._event("reload", "-", "-", "config loaded: 2 listeners, 2 pools")
        self._event("admin_drain", "api", "api2", "by admin API")
        self._event("admin_maint", "api", "api4", "by admin API")
        self._event("ejected", "api", "api1", "5 consecutive failures, for 30s")
        self._event("failover", "api", "-", "tier 0 degraded")

    def _event(self, kind, pool, server, detail):
        self.seq += 1
        self.events.append({"seq": self.seq, "time": _now_iso(), "kind": kind, "pool": pool,
                            "server": server, "detail": detail})
        del self.events[:-100]

    def _find(self, pool, server):
        for p in self.pools:
            if p["name"] == pool:
                for s in p["servers"]:
                    if s["name"] == server:
                        return s
                return None
        return None

    @staticmethod
    def _summary(s) -> str:
        if s["admin"] in ("maint", "drain"):
            return s["admin"]
        return "ejected" if s["ejected"] else s["health"]

    def _refresh(self, s):
        s["state"] = self._summary(s)
        s["serving"] = s["state"] == "up" and not s["backup"]  # refined per tier in _status

    # steps ----------------------------------------------------------------------------------
    def step(self) -> dict:
        with self.lock:
            self.polls += 1
            web1 = self._find("web", "web1")
            if self.polls > self.down_after and web1["health"] == "up":
                web1.update(health="down", last_check="connection refused", last_check_ms=0.2, active=0,
                            check_failures=2, last_check_time=_now_iso())
                self._refresh(web1)
                self._event("server_down", "web", "web1", "connection refused")
            for p in self.pools:
                for s in p["servers"]:
                    if s["serving"]:
                        s["requests"] += 40 + 7 * (self.polls % 3)
                        s["active"] = (self.polls + len(s["name"])) % 4
            return self._status()

    def _status(self) -> dict:
        n = self.polls
        pools = []
        for p in self.pools:
            servers = copy.deepcopy(p["servers"])
            usable = [s for s in servers if s["state"] == "up"]
            tier0 = [s for s in usable if s["priority"] == 0]
            tier = 0 if tier0 else (1 if usable else -1)
            for s in servers:
                s["serving"] = s["state"] == "up" and s["priority"] == tier
                if s["checked"] and s["health"] == "up":
                    s["last_check_time"] = _now_iso()
            mode = "normal" if len(usable) == len(servers) else ("degraded" if usable else "panic")
            healthy = sum(1 for s in servers if s["health"] == "up" and not s["ejected"])
            pools.append({"name": p["name"], "tier": tier, "mode": mode, "healthy": healthy,
                          "serving": sum(1 for s in servers if s["serving"]), "total": len(servers),
                          "failovers": self.failovers[p["name"]], "servers": servers,
                          # api's servers have max_connections: its queue (haven sends null without)
                          "queue": {"length": 2, "max": 8, "full": 0, "timeouts": 1} if p["name"] == "api" else None})
        wobble = (n % 5) / 10
        web1_up = any(s["name"] == "web1" and s["health"] == "up" for s in self.pools[0]["servers"])
        return {
            "version": "0.1.0-mock",
            "uptime_seconds": round(time.monotonic() - self.started + 3600 * 26, 1),
            "ready": True,
            "listeners": [
                {"name": "web", "address": "127.0.0.1:8080", "mode": "http", "rps": 120.5 + 10 * wobble,
                 "error_rate": 0.001, "p50_ms": 1.2 + wobble, "p99_ms": 12.3 + 5 * wobble,
                 "slo": {
                     "target": {"availability": 99.95, "latency_p99_ms": 500, "error_rate": 0.1, "window_days": 30},
                     "windows": {
                         "5m": _window(99.99, 10.0, 1000 + n, 300),
                         "1h": _window(99.98, 11.0, 12000 + n, 3600),
                         "slo": _window(99.97, 12.0, 900000 + n, 93600)},
                     "allowed_downtime_seconds": 1296, "error_budget_remaining": 0.83,
                     "burn_rate_5m": 0.2, "burn_rate_1h": 0.1,
                     "met": {"availability": True, "latency": True, "error_rate": True}}},
                {"name": "api", "address": "127.0.0.1:8081", "mode": "http", "rps": 35.0,
                 "error_rate": 0.012, "p50_ms": 4.0, "p99_ms": 640.0,
                 "slo": {
                     "target": {"availability": 99.9, "latency_p99_ms": 500, "error_rate": 0.5, "window_days": 7},
                     "windows": {
                         "5m": _window(98.8, 640.0, 10500, 300),
                         "1h": _window(99.6, 420.0, 126000, 3600),
                         "slo": _window(99.85, 380.0, 2100000, 93600)},
                     "allowed_downtime_seconds": 604.8, "error_budget_remaining": -0.5,
                     "burn_rate_5m": 12.0, "burn_rate_1h": 4.0,
                     "met": {"availability": False, "latency": True, "error_rate": True}}},
                {"name": "db", "address": "127.0.0.1:5433", "mode": "tcp", "rps": 3.0,
                 "error_rate": 0.0, "p50_ms": None, "p99_ms": None, "slo": None},
            ],
            "pools": pools,
            "events": copy.deepcopy(self.events),
            "subsystems": [
                {"name": "proxy", "ok": True, "ready": True, "summary": {"workers": 2, "connections": 14},
                 "checks": [{"name": "worker:0", "ok": True, "detail": "event loop last ticked 40 ms ago"}]},
                {"name": "pools", "ok": web1_up, "ready": True, "summary": {"pools": 2, "first_checks_done": True},
                 "checks": [{"name": "pool:web", "ok": web1_up, "detail": "2 of 3 servers serving"}]},
            ],
        }

    def act(self, pool, server, action, authorization, token) -> tuple[int, dict]:
        if not token:
            return 403, {"error": "writes are disabled: no token_file configured"}
        if not hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
            return 401, {"error": "missing or invalid bearer token"}
        if action not in ADMIN_AFTER:
            return 404, {"error": f"unknown action '{action}'"}
        with self.lock:
            s = self._find(pool, server)
            if s is None:
                return 404, {"error": f"no server '{server}' in pool '{pool}'"}
            s["admin"] = ADMIN_AFTER[action]
            self._refresh(s)
            self._event(f"admin_{s['admin']}", pool, server, "by admin API")
            return 200, {"pool": pool, "server": server, "admin": s["admin"], "state": s["state"]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dashboard-mock"

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def _send(self, status: int, body: bytes, ctype: str):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj):
        self._send(status, json.dumps(obj).encode(), "application/json")

    def do_GET(self):
        path = urlsplit(self.path).path
        if path in STATIC:
            name, ctype = STATIC[path]
            self._send(200, (self.server.static_dir / name).read_bytes(), ctype)
        elif path == "/api/status":
            if self.server.scenario.fail:
                self._json(503, {"error": "mock: status disabled"})
            else:
                self._json(200, self.server.scenario.step())
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        if url.path == "/_mock/fail":
            self.server.scenario.fail = parse_qs(url.query).get("on", ["1"])[0] == "1"
            self._json(200, {"fail": self.server.scenario.fail})
            return
        m = ACTION_PATH.match(url.path)
        if not m:
            self._json(404, {"error": "not found"})
            return
        status, body = self.server.scenario.act(m.group(1), m.group(2), m.group(3),
                                                self.headers.get("Authorization"), self.server.token)
        self._json(status, body)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a port chosen by the kernel")
    ap.add_argument("--down-after", type=int, default=5, help="web1 goes down after this many polls")
    ap.add_argument("--token", default="", help="bearer token for writes (empty: writes disabled)")
    ap.add_argument("--dir", type=pathlib.Path, default=DEFAULT_DIR, help="the dashboard's static files")
    args = ap.parse_args(argv)
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    httpd.scenario = Scenario(args.down_after)
    httpd.token = args.token
    httpd.static_dir = args.dir
    host, port = httpd.server_address[:2]
    print(f"dashboard-mock listening on {host}:{port}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
