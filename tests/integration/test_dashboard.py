"""The admin dashboard in a real browser: Debian's Chromium, headless, driven through Selenium.

1. Against dashboard_mock.py (a scripted /api/status): the page loads from the server alone,
   lists listeners, SLOs, pools and servers, shows web1 turning `down` and the server_down event,
   shows a write error from the API, drains a server with a token, and marks itself
   disconnected when /api/status fails.
2. Against haven's admin listener with two demo backends: both servers `up`, one backend killed
   turns `down` within the health check window, the drain button drains the other.

Screenshots land in the test's tmp dir and, when HAVEN_ARTIFACTS is set, in that directory.
Needs `chromium`, `chromium-driver` and `python3-selenium` (scripts/install-deps). Chromium runs
with a fresh profile and its background networking off: this machine has no internet, and the
page must not need it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pathlib
import re
import shutil
import sys

from urllib.parse import urlsplit

import pytest

from harness import (FAST_CHECKS, HAVEN_BIN, Proc, free_port_range, http_request, make_config, missing_tool,
                     require_tool, scaled)

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                            TimeoutException, WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # reported by the browser fixture
    webdriver = None

CHROMIUM = os.environ.get("HAVEN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HAVEN_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = "apt-get install -y --no-install-recommends chromium chromium-driver python3-selenium"
MOCK = pathlib.Path(__file__).resolve().parent / "dashboard_mock.py"

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
    "--no-proxy-server", "--no-default-browser-check", "--disable-extensions", "--window-size=1400,1000",
]



# --------------------------------------------------------------------------------------------
# The browser


class Browser:
    """A Chromium page with bounded waits, screenshots and the console log kept for reports."""

    def __init__(self, driver, workdir: pathlib.Path):
        self.driver = driver
        self.workdir = workdir
        self.console: list[dict] = []
        self.origin = ""

    # navigation and lookup --------------------------------------------------------------------
    def open(self, url: str):
        parts = urlsplit(url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.driver.get(url)

    def by_testid(self, testid: str, root=None):
        return (root or self.driver).find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all_by_testid(self, testid: str, root=None):
        return (root or self.driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def text(self, testid: str) -> str:
        return self.by_testid(testid).text

    def attr(self, testid: str, name: str):
        return self.by_testid(testid).get_attribute(name)

    def wait(self, predicate, timeout: float, what: str):
        """Polls predicate() (re-tried when the element it reads was replaced or is not there yet)
        until it returns something truthy; fails after timeout seconds with the page's state."""
        def attempt(_driver):
            try:
                return predicate()
            except (NoSuchElementException, StaleElementReferenceException):
                return False
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(attempt)
        except TimeoutException:
            pass
        pytest.fail(f"timed out after {timeout:.1f}s waiting for {what}\n{self.describe()}", pytrace=False)

    def server_state(self, server: str):
        return self.attr(f"server-{server}", "data-state")

    def wait_state(self, server: str, state: str, timeout: float):
        self.wait(lambda: self.server_state(server) == state, timeout, f"server {server} to show {state!r}")
        badge = self.by_testid(f"server-{server}").find_element(By.CSS_SELECTOR, "[data-field=state]")
        assert badge.text == state, f"{server}: state text {badge.text!r}, expected {state!r}"

    def newest_event(self, kind: str, where: str, timeout: float):
        """Waits for an event of `kind` about `where` ("pool/server") and returns it; asserts the
        timeline is ordered newest first."""
        def find():
            events = self.all_by_testid("event")
            for i, e in enumerate(events):
                if e.get_attribute("data-kind") == kind and where in e.text:
                    return i, e
            return None
        i, e = self.wait(find, timeout, f"a {kind} event for {where}")
        seqs = [int(x.get_attribute("data-seq")) for x in self.all_by_testid("event")]
        assert seqs == sorted(seqs, reverse=True), f"events not newest first: {seqs}"
        return e

    # the token and the write actions ------------------------------------------------------------
    def set_token(self, token: str):
        box = self.by_testid("token-input")
        box.clear()
        box.send_keys(token)
        self.by_testid("token-save").click()
        self.wait(lambda: self.attr("token-state", "data-state") == "set", scaled(5), "the token to be taken")

    def click_action(self, action: str, server: str):
        """Clicks the button and waits for the page to say it took the click (its message names the
        action and server at once). A click Chromium delivers to the wrong spot, as can happen
        while it re-lays out the page after a full-page screenshot on a loaded machine, is tried
        again, at most three times; a page that ignores the click every time still fails."""
        def ready_button():
            button = self.by_testid(f"{action}-{server}")
            return button if button.is_displayed() and button.is_enabled() else None

        def took_click():
            return (self.attr("action-message", "data-seq") != before
                    and re.match(rf"{re.escape(action)} [^ ]+/{re.escape(server)}\b", self.text("action-message")))

        for _ in range(3):
            before = self.attr("action-message", "data-seq")
            self.wait(ready_button, scaled(5), f"an enabled {action} button for {server}").click()
            try:
                WebDriverWait(self.driver, scaled(2), poll_frequency=0.05).until(lambda _d: took_click())
                return
            except TimeoutException:
                pass
        pytest.fail(f"the page did not take 3 clicks on {action} for {server}\n{self.describe()}", pytrace=False)

    def wait_message(self, kind: str, timeout: float) -> str:
        self.wait(lambda: self.attr("action-message", "data-kind") == kind, timeout, f"a {kind} message")
        return self.text("action-message")

    # evidence ---------------------------------------------------------------------------------
    def collect_console(self) -> list[dict]:
        try:
            self.console += self.driver.get_log("browser")
        except WebDriverException:
            pass
        return self.console

    def script_errors(self) -> list[str]:
        """Uncaught exceptions, console.error (the page's render errors) and policy violations;
        failed requests are expected in these tests and not counted."""
        out = []
        for entry in self.collect_console():
            msg = entry.get("message", "")
            if entry.get("level") == "SEVERE" and (entry.get("source") in ("javascript", "security", "console-api")
                                                   or "Uncaught" in msg or "Content Security Policy" in msg):
                out.append(msg)
        return out

    def foreign_resources(self) -> list[str]:
        names = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat(performance.getEntriesByType('navigation').map(e => e.name))")
        return [n for n in names if not n.startswith(self.origin + "/")]

    def screenshot(self, name: str) -> list[pathlib.Path]:
        """The whole page (not just the window) as PNG in the test's dir and in $HAVEN_ARTIFACTS."""
        path = self.workdir / name
        self.driver.execute_script("window.scrollTo(0, 0)")
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        saved = [path]
        artifacts = os.environ.get("HAVEN_ARTIFACTS")
        if artifacts:
            os.makedirs(artifacts, exist_ok=True)
            saved.append(pathlib.Path(shutil.copy(path, pathlib.Path(artifacts) / name)))
        return saved

    def describe(self) -> str:
        try:
            rows = self.driver.find_elements(By.CSS_SELECTOR, "tr[data-testid^='server-']")
            states = ", ".join(f"{r.get_attribute('data-server')}={r.get_attribute('data-state')}" for r in rows)
            conn = self.by_testid("conn").text
            message = self.by_testid("action-message").text
        except WebDriverException as e:
            return f"(page state unavailable: {e.msg})"
        console = "\n".join(e.get("message", "") for e in self.collect_console()[-20:])
        return f"servers: {states or 'none'}\nconnection: {conn}\nmessage: {message}\nconsole:\n{console}"

    @contextlib.contextmanager
    def evidence_on_failure(self, name: str):
        """On any failure inside: a screenshot and the page's HTML next to the test's files."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.screenshot(f"{name}-failure.png")
                (self.workdir / f"{name}-failure.html").write_text(self.driver.page_source)
            raise


@pytest.fixture
def browser(tmp_path):
    # Without a tool the test skips, except under CI=true where it fails.
    if webdriver is None:
        missing_tool("python3-selenium", INSTALL_HINT)
    for exe in (CHROMIUM, CHROMEDRIVER):
        require_tool(exe, INSTALL_HINT)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    opts.ignore_local_proxy_environment_variables()  # Selenium's own connection to chromedriver
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, service_args=[f"--log-path={tmp_path / 'chromedriver.log'}"])
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        driver.set_page_load_timeout(scaled(20))
        driver.set_script_timeout(scaled(10))
        yield Browser(driver, tmp_path)
    finally:
        driver.quit()


# --------------------------------------------------------------------------------------------
# 1. Against the mock


MOCK_TOKEN = "mock-token-1"
DOWN_AFTER = 6  # polls (about one a second) before web1 goes down


@pytest.fixture
def mock(tmp_path):
    proc = Proc([sys.executable, MOCK, "--port", "0", "--down-after", DOWN_AFTER, "--token", MOCK_TOKEN],
                tmp_path, "dashboard-mock")
    try:
        m = proc.wait_for(r"dashboard-mock listening on 127\.0\.0\.1:(\d+)", scaled(10), stream="out")
        proc.port = int(m.group(1))
        yield proc
    finally:
        proc.kill()


def test_dashboard_against_mock(mock, browser, tmp_path):
    b = browser
    post = lambda path: http_request(mock.port, "POST", path)  # noqa: E731
    with b.evidence_on_failure("dashboard-mock"):
        b.open(f"http://127.0.0.1:{mock.port}/")
        b.wait(lambda: b.attr("conn", "data-state") == "live", scaled(10), "the first status")
        assert b.text("version") == "v0.1.0-mock"
        assert b.attr("ready", "data-state") == "ready"
        b.wait_state("web1", "up", scaled(5))

        # Every pool and server is listed, each state both as colour class and as text.
        web, api = b.by_testid("pool-web"), b.by_testid("pool-api")
        names = lambda pool: [r.get_attribute("data-server") for r in pool.find_elements(By.CSS_SELECTOR, "tbody tr")]  # noqa: E731
        assert names(web) == ["web1", "web2", "web3"]
        assert names(api) == ["api1", "api2", "api3", "api4"]
        for server, state in [("web2", "up"), ("api1", "ejected"), ("api2", "drain"), ("api4", "maint")]:
            assert b.server_state(server) == state
            badge = b.by_testid(f"server-{server}").find_element(By.CSS_SELECTOR, "[data-field=state]")
            assert badge.text == state and f"state-{state}" in badge.get_attribute("class")
        assert "(backup)" in b.by_testid("server-web3").text
        assert api.get_attribute("data-mode") == "degraded"
        # Servers with max_connections: in flight of the cap, and the pool's queue (only where it has one).
        assert re.fullmatch(r"\d+ / 3", b.by_testid("server-api3").find_element(By.CSS_SELECTOR, "[data-field=active]").text)
        assert api.find_element(By.CSS_SELECTOR, "[data-field=queue]").text == "2 / 8"
        assert not web.find_element(By.CSS_SELECTOR, "[data-field=queue-fact]").is_displayed()

        # Tiles and the SLO panel: targets against 5m / 1h / window, downtime, budget, burn, verdicts.
        assert b.by_testid("tile-web-rps").find_element(By.CLASS_NAME, "tile-value").text not in ("", "—")
        assert b.by_testid("tile-web-errors").find_element(By.CLASS_NAME, "tile-value").text == "0.1%"
        slo = b.by_testid("slo-web")
        assert slo.is_displayed()
        expected = {
            "slo-web-target-availability": "99.95%", "slo-web-5m-availability": "99.99%",
            "slo-web-1h-availability": "99.98%", "slo-web-slo-availability": "99.97%",
            "slo-web-target-error_rate": "0.1%", "slo-web-5m-error_rate": "0.01%",
            "slo-web-target-p99": "500 ms", "slo-web-slo-p99": "12 ms",
            "slo-web-downtime": "21m 36s per 30d", "slo-web-budget": "83%",
            "slo-web-burn-5m": "0.20×", "slo-web-burn-1h": "0.10×",
            "slo-web-met-availability": "✓ met", "slo-api-met-availability": "✗ missed",
        }
        assert {k: b.text(k) for k in expected} == expected
        assert b.attr("slo-web-budget-bar", "aria-valuenow") == "83"
        assert "overspent" in b.text("slo-api-budget")
        assert "No SLO" in b.by_testid("slo-db").text

        # The scripted failure: web1 turns down and the event is at the top of the timeline.
        b.wait_state("web1", "down", scaled(DOWN_AFTER + 10))
        assert "connection refused" in b.by_testid("server-web1").text
        assert b.by_testid("pool-web").find_element(By.CSS_SELECTOR, "[data-field=healthy]").text == "2 / 3 (1 serving)"
        event = b.newest_event("server_down", "web/web1", scaled(5))
        assert "connection refused" in event.text
        assert b.all_by_testid("event")[0] == event

        # Without a token there are no write buttons.
        assert not b.by_testid("drain-web2").is_displayed()

        # A wrong token: the API's error message is shown and nothing changes.
        b.set_token("not-the-token")
        b.click_action("drain", "web2")
        message = b.wait_message("error", scaled(5))
        assert "missing or invalid bearer token" in message, message
        assert b.server_state("web2") == "up"

        # The right token: drain, then enable again.
        b.set_token(MOCK_TOKEN)
        b.click_action("drain", "web2")
        b.wait_state("web2", "drain", scaled(5))
        assert "done" in b.wait_message("ok", scaled(5))
        b.newest_event("admin_drain", "web/web2", scaled(5))
        assert not b.by_testid("drain-web2").is_enabled()  # already draining
        shots = b.screenshot("dashboard-mock.png")
        b.click_action("enable", "web2")
        b.wait_state("web2", "up", scaled(5))

        # /api/status failing: the page says it is disconnected and keeps the last data.
        assert post("/_mock/fail?on=1").status == 200
        b.wait(lambda: b.attr("conn", "data-state") == "stale", scaled(5), "the disconnected marker")
        assert "disconnected" in b.text("conn")
        assert b.server_state("web1") == "down"
        shots += b.screenshot("dashboard-mock-stale.png")
        assert post("/_mock/fail?on=0").status == 200
        b.wait(lambda: b.attr("conn", "data-state") == "live", scaled(5), "the page to reconnect")

        assert b.script_errors() == []
        assert b.foreign_resources() == []
        assert all(p.stat().st_size > 10_000 for p in shots)


# --------------------------------------------------------------------------------------------
# 2. Against haven


ADMIN_TOKEN = "haven-admin-token-7f3a"


def test_dashboard_against_haven(spawn, browser, tmp_path):
    b1, b2 = spawn.backends(2)
    token_file = tmp_path / "admin.token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    cfg = make_config(pools={"web": {"servers": [{"name": x.name, "address": x.address} for x in (b1, b2)],
                                     "health_check": FAST_CHECKS}})
    cfg["admin"] = {"listen": "127.0.0.1:0", "token_file": str(token_file)}
    haven = spawn.haven(cfg)
    admin = haven.admin_port()

    page = http_request(admin, "GET", "/")
    assert page.status == 200, f"haven's admin listener does not serve the dashboard: GET / answers {page.status}"
    assert "text/html" in (page.header("Content-Type") or ""), page
    for path, ctype in [("/dom.js", "javascript"), ("/app.js", "javascript"), ("/style.css", "text/css"),
                        ("/api/status", "application/json")]:
        r = http_request(admin, "GET", path)
        assert r.status == 200 and ctype in (r.header("Content-Type") or ""), (path, r)
    for _ in range(20):  # some traffic for the tiles
        assert haven.get("/", listener="web").status == 200

    b = browser
    with b.evidence_on_failure("dashboard-haven"):
        b.open(f"http://127.0.0.1:{admin}/")
        b.wait(lambda: b.attr("conn", "data-state") == "live", scaled(10), "the first status")
        b.wait_state("b1", "up", scaled(5))
        b.wait_state("b2", "up", scaled(5))
        assert b.by_testid("pool-web").is_displayed()
        assert b.by_testid("listener-web").is_displayed()
        # Every subsystem haven registers shows up, with its deep-health checks.
        for name in ("proxy", "pools", "slo", "process"):
            assert b.by_testid(f"subsystem-{name}").is_displayed(), name
        assert b.by_testid("check-worker:0").is_displayed()
        assert b.by_testid("check-pool:web").is_displayed()

        # Killed: refused at the next check (interval 200 ms), then fall=2 at fast_interval
        # (100 ms) with a 100 ms timeout, then one poll of the page (1 s); a few seconds of slack.
        b2.proc.kill()
        b.wait_state("b2", "down", scaled(5))
        b.newest_event("server_down", "web/b2", scaled(3))
        assert b.server_state("b1") == "up"
        shots = b.screenshot("dashboard-haven.png")

        # Writes: a wrong token shows haven's error; the right one drains b1.
        assert not b.by_testid("drain-b1").is_displayed()
        b.set_token("wrong-token")
        b.click_action("drain", "b1")
        message = b.wait_message("error", scaled(5))
        assert "HTTP 401" in message or "HTTP 403" in message, message
        assert b.server_state("b1") == "up"
        b.set_token(ADMIN_TOKEN)
        b.click_action("drain", "b1")
        b.wait_state("b1", "drain", scaled(5))
        b.wait_message("ok", scaled(5))
        b.newest_event("admin_drain", "web/b1", scaled(3))
        shots += b.screenshot("dashboard-haven-drain.png")
        b.click_action("enable", "b1")
        b.wait_state("b1", "up", scaled(5))

        assert b.script_errors() == []
        assert b.foreign_resources() == []
        assert all(p.stat().st_size > 10_000 for p in shots)


def test_dashboard_shows_shared_state_and_its_degraded_mode_while_redis_is_down(spawn, browser):
    """With shared_state, the dashboard shows the Redis in use; Redis killed, it shows the local
    fallback and the degraded (not failed) deep-health check; Redis back, connected again."""
    from redis_procs import Redis, need_redis
    need_redis()
    redis = spawn.track(Redis(spawn.workdir))
    (b1,) = spawn.backends(1)
    cfg = make_config(pools={"web": {"servers": [{"name": b1.name, "address": b1.address}],
                                     "sticky": {"table": {"on": "source"}}}})
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    cfg["shared_state"] = {"redis": f"127.0.0.1:{redis.port}"}
    haven = spawn.haven(cfg)
    b = browser
    with b.evidence_on_failure("dashboard-shared-state"):
        b.open(f"http://127.0.0.1:{haven.admin_port()}/")
        b.wait(lambda: b.attr("conn", "data-state") == "live", scaled(10), "the first status")
        address = f"127.0.0.1:{redis.port}"
        b.wait(lambda: address in b.text("subsystem-shared_state"), scaled(10), "the Redis in use shown")
        b.wait(lambda: "connected" in b.text("check-shared_state"), scaled(5), "the connected check")
        redis.kill()
        b.wait(lambda: "down (local state)" in b.text("subsystem-shared_state"), scaled(10), "the local fallback")
        check = b.by_testid("check-shared_state")
        assert "degraded" in check.text, check.text
        assert haven.get("/", listener="web").status == 200  # serving on, with the local table
        redis.start()
        b.wait(lambda: address in b.text("subsystem-shared_state"), scaled(15), "Redis in use again")
        assert b.script_errors() == []


def test_dashboard_shows_services_and_a_killed_replica_coming_back(spawn, browser):
    """The brief's auto-healing on the dashboard: each replica of a supervised service with its
    pid, state, restarts, last exit and probes; kill -9 one and watch haven start it again."""
    base = free_port_range(2)
    cfg = make_config(pools={"web": {"servers_from": {"service": "web"}}})
    cfg["services"] = [{"name": "web", "command": HAVEN_BIN,
                        "args": ["demo-backend", "--listen", "127.0.0.1:{port}", "--name", "{name}"],
                        "replicas": 2, "ports": f"{base}-{base + 1}", "restart_delay": "300ms",
                        "readiness": {"http": "/health", "period": "200ms", "timeout": "150ms"}}]
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    haven = spawn.haven(cfg)
    b = browser
    with b.evidence_on_failure("dashboard-services"):
        b.open(f"http://127.0.0.1:{haven.admin_port()}/")
        b.wait(lambda: b.attr("replica-web-1", "data-state") == "ready" and b.attr("replica-web-2", "data-state") == "ready",
               scaled(10), "both replicas ready")
        assert b.by_testid("services-section").is_displayed()
        card = b.by_testid("service-web")
        assert card.find_element(By.CSS_SELECTOR, "[data-field=ready]").text == "2 / 2"
        row = b.by_testid("replica-web-2")
        pid = int(row.get_attribute("data-pid"))
        assert row.find_element(By.CSS_SELECTOR, "[data-field=port]").text == str(base + 1)
        assert row.find_element(By.CSS_SELECTOR, "[data-field=restarts]").text == "0"
        assert row.find_element(By.CSS_SELECTOR, "[data-field=readiness]").text.startswith("passing")
        os.kill(pid, 9)
        b.wait(lambda: b.attr("replica-web-2", "data-pid") not in (None, str(pid))
               and b.attr("replica-web-2", "data-state") == "ready", scaled(10), "web-2 restarted and ready")
        row = b.by_testid("replica-web-2")
        assert row.find_element(By.CSS_SELECTOR, "[data-field=restarts]").text == "1"
        assert row.find_element(By.CSS_SELECTOR, "[data-field=last_exit]").text == "killed by SIGKILL"
        b.newest_event("replica_ready", "web/web-2", scaled(3))
        shots = b.screenshot("dashboard-services.png")
        assert b.script_errors() == []
        assert b.foreign_resources() == []
        assert all(p.stat().st_size > 10_000 for p in shots)
