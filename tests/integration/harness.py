"""Helpers for haven's black-box integration tests.

Everything here talks to real processes over real sockets on 127.0.0.1:
  * Proc      a child process in its own process group, output captured in files, killed at teardown
  * Backend   `haven demo-backend` on a kernel-chosen port
  * Haven     `haven run` with a generated YAML file; listener ports read from its log
  * Nginx     Debian's nginx as a third-party backend
  * TinyServer a threaded Python TCP server for behaviours the demo backend cannot produce
  * RawClient raw-socket HTTP/1.1 client for malformed, pipelined and slow requests

Every wait is bounded by a deadline; every process is registered so that a session-end hook can
kill whatever a failed test left behind.  Standard library only.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import pathlib
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Locations and time scaling


def _default_bin() -> str:
    here = pathlib.Path(__file__).resolve().parents[2]
    for sub in ("build/itest/haven", "build/release/haven", "build/haven"):
        p = here / sub
        if p.exists():
            return str(p)
    return "haven"


HAVEN_BIN = os.environ.get("HAVEN_BIN") or _default_bin()
SOURCE_DIR = pathlib.Path(os.environ.get("HAVEN_SOURCE_DIR") or pathlib.Path(__file__).resolve().parents[2])
NGINX_BIN = "/usr/sbin/nginx"


def _is_sanitized(path: str) -> bool:
    """True for an AddressSanitizer build (it runs several times slower)."""
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    return False
                if b"__asan_init" in block or b"AddressSanitizer" in block:
                    return True
    except OSError:
        return False


_scale_env = os.environ.get("HAVEN_TEST_TIMEOUT_SCALE")
TIME_SCALE = float(_scale_env) if _scale_env else (3.0 if _is_sanitized(HAVEN_BIN) else 1.0)


def scaled(seconds: float) -> float:
    """A client-side wait, stretched for slow (sanitizer) builds."""
    return seconds * TIME_SCALE


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    """Polls predicate() until it returns a truthy value (returned) or timeout seconds pass."""
    deadline = Deadline(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if deadline.expired():
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Ports


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_EPHEMERAL = _ephemeral_range()
_HANDED_OUT: set[int] = set()
_PORT_LOCK = threading.Lock()
_PORT_RANDOM = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port() -> int:
    """A port nothing is bound to right now, for things that cannot bind port 0 themselves.

    Chosen outside the kernel's ephemeral range: a port from inside it can be taken by any outgoing
    connection (ours, or a parallel test's) between now and the moment a server binds it again, which
    is what made a restarted backend fail to come back under load. Never the same port twice in one
    test process."""
    lo, hi = _EPHEMERAL
    candidates = [(10000, lo - 1)] if lo > 10000 else []
    if hi < 65535:
        candidates.append((hi + 1, 65535))
    if not candidates:  # the whole range is ephemeral: let the kernel choose
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for _ in range(500):
        first, last = _PORT_RANDOM.choice(candidates)
        port = _PORT_RANDOM.randint(first, last)
        with _PORT_LOCK:
            if port in _HANDED_OUT:
                continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        with _PORT_LOCK:
            _HANDED_OUT.add(port)
        return port
    raise AssertionError("no free port outside the ephemeral range after 500 tries")


def free_port_range(n: int) -> int:
    """The first of n consecutive ports that can all be bound right now."""
    for _ in range(200):
        base = free_port()
        if base + n > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError(f"no {n} consecutive free ports")


class DeadPort:
    """A port that refuses connections: bound (so nobody else gets it) but never listening."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.sock.close()


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


_TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
               7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV"}


@dataclass
class TcpSocket:
    """One IPv4 TCP socket of this machine, as /proc/net/tcp shows it."""
    local_port: int
    remote_port: int
    state: str
    rx_queue: int  # bytes received and not yet read by the owner (for a non-listening socket)


def tcp_sockets(local_port: int | None = None, remote_port: int | None = None) -> list[TcpSocket]:
    """The kernel's view of TCP sockets (all processes), filtered by ports. Lets a test see what a
    peer cannot be asked: that a connection was closed by the other side (CLOSE_WAIT), or that
    bytes wait unread in a socket."""
    out = []
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        lport = int(f[1].rsplit(":", 1)[1], 16)
        rport = int(f[2].rsplit(":", 1)[1], 16)
        if local_port is not None and lport != local_port:
            continue
        if remote_port is not None and rport != remote_port:
            continue
        rx = int(f[4].split(":")[1], 16)
        out.append(TcpSocket(lport, rport, _TCP_STATES.get(int(f[3], 16), f[3]), rx))
    return out


# --------------------------------------------------------------------------------------------
# Tools the tests need


def in_ci() -> bool:
    """CI=true: every tool a test needs must be there (a missing one fails instead of skipping)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing_tool(what: str, hint: str = ""):
    """Skips the calling test because `what` is missing, or fails it under CI=true (so a CI
    machine without the tool cannot pass by skipping)."""
    import pytest  # only the test process needs it; the rest of this module is standard library

    msg = f"{what} is not available" + (f": {hint}" if hint else "")
    if in_ci():
        pytest.fail(f"{msg} (CI=true: a missing tool is a failure)", pytrace=False)
    pytest.skip(msg)


def require_tool(name: str, hint: str = "") -> str:
    """The path of executable `name` (an absolute path, or a name looked up on PATH); missing:
    see missing_tool()."""
    if os.path.isabs(name):
        path = name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    else:
        path = shutil.which(name)
    if not path:
        missing_tool(name, hint)
    return path


# --------------------------------------------------------------------------------------------
# Processes

_LIVE: "set[Proc]" = set()
_LIVE_LOCK = threading.Lock()


class ProcessFailed(AssertionError):
    pass


_PR_SET_PDEATHSIG = 1
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _die_with_parent():
    """Runs in the child before exec: if the test runner is killed (say, by a ctest timeout),
    the kernel kills this child too, so no process outlives the suite."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """A child process in its own process group with stdout/stderr captured in files.
    Start processes from the main test thread only: the death signal follows the thread that
    forked the child."""

    def __init__(self, argv, workdir: pathlib.Path, name: str, env=None):
        workdir = pathlib.Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.argv = [str(a) for a in argv]
        self.name = name
        self.out_path = workdir / f"{name}.stdout"
        self.err_path = workdir / f"{name}.stderr"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                          cwd=str(workdir), env=env, start_new_session=True,
                                          preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        self.pgid = self.popen.pid  # start_new_session: the child leads its own group
        with _LIVE_LOCK:
            _LIVE.add(self)

    # output -------------------------------------------------------------------------------
    def stdout(self) -> str:
        return self.out_path.read_bytes().decode("utf-8", "replace")

    def stderr(self) -> str:
        return self.err_path.read_bytes().decode("utf-8", "replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def describe(self, tail: int = 3000) -> str:
        return (f"{self.name} {' '.join(self.argv)} (rc={self.popen.poll()})\n"
                f"--- stdout ---\n{self.stdout()[-tail:]}\n--- stderr ---\n{self.stderr()[-tail:]}")

    def wait_for(self, pattern: str, timeout: float, stream: str = "both") -> re.Match:
        """Waits for a regex to appear in the process's output; fails if the process exits first."""
        rx = re.compile(pattern, re.M)
        deadline = Deadline(timeout)
        while True:
            text = {"out": self.stdout, "err": self.stderr}.get(stream, self.output)()
            m = rx.search(text)
            if m:
                return m
            if self.popen.poll() is not None:
                text = {"out": self.stdout, "err": self.stderr}.get(stream, self.output)()
                m = rx.search(text)
                if m:
                    return m
                raise ProcessFailed(f"process exited before printing {pattern!r}\n{self.describe()}")
            if deadline.expired():
                raise ProcessFailed(f"no {pattern!r} within {timeout:.1f}s\n{self.describe()}")
            time.sleep(0.02)

    # lifetime -----------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.popen.poll() is None

    def send_signal(self, sig: int):
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Exit code; raises subprocess.TimeoutExpired if still running after timeout."""
        return self.popen.wait(timeout=timeout)

    def kill(self):
        """SIGKILL to the whole process group (children included), then reap. Idempotent."""
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Sends sig and waits; kills the group if it does not exit. Returns the exit code."""
        self.send_signal(sig)
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.kill()
        return rc


def kill_all_processes():
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for p in procs:
        p.kill()


def proc_status(pid: int) -> dict:
    """Fields of /proc/<pid>/status ({} if the process is gone)."""
    try:
        text = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        st = proc_status(int(entry.name))
        if st.get("PPid") == str(pid):
            kids.append(int(entry.name))
    return kids


def process_running(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    st = proc_status(pid)
    return bool(st) and not st.get("State", "").startswith("Z")


# --------------------------------------------------------------------------------------------
# YAML (block style, enough for haven configs)

_PLAIN = re.compile(r"[A-Za-z0-9_./:\-]+")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", ""}


def _scalar(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _RESERVED and not s.startswith(("-", ":")):
        return s
    return json.dumps(s)  # JSON strings are valid YAML double-quoted scalars


def to_yaml(obj, indent: int = 0) -> str:
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, list) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {body[indent + 2:]}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)


def make_config(pools: dict, listeners=None, threads: int = 2, timeouts=None, limits=None,
                access_log: str | None = None, routes=None) -> dict:
    """A config dict. pools: {name: [server address or dict, ...] or full pool dict}.
    Without listeners: one http listener "web" on port 0 routing everything to the first pool
    (or using `routes` when given)."""
    pool_list = []
    for name, spec in pools.items():
        if isinstance(spec, dict):
            p = {"name": name, **spec}
        else:
            servers = []
            for i, s in enumerate(spec):
                servers.append(s if isinstance(s, dict) else {"name": f"{name}{i + 1}", "address": s})
            p = {"name": name, "servers": servers}
        pool_list.append(p)
    if listeners is None:
        first = next(iter(pools))
        listeners = [{"name": "web", "listen": "127.0.0.1:0", "mode": "http",
                      "routes": routes if routes is not None else [{"pool": first}]}]
    cfg = {"threads": threads, "listeners": listeners, "pools": pool_list}
    if timeouts:
        cfg["timeouts"] = timeouts
    if limits:
        cfg["limits"] = limits
    if access_log:
        cfg["access_log"] = {"path": access_log}
    return cfg


# --------------------------------------------------------------------------------------------
# haven and its demo backend

_LISTENING = re.compile(r"listening: (\S+) on (\S+):(\d+)\s*$", re.M)


class Backend:
    """`haven demo-backend` on 127.0.0.1 with a kernel-chosen port."""

    def __init__(self, workdir, name: str, *extra_args: str, port: int = 0):
        self.name = name
        self.proc = Proc([HAVEN_BIN, "demo-backend", "--listen", f"127.0.0.1:{port}", "--name", name, *extra_args],
                         workdir, f"backend-{name}")
        m = self.proc.wait_for(r"demo-backend \S+ listening on 127\.0\.0\.1:(\d+)", scaled(10), stream="out")
        self.port = int(m.group(1))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stats(self) -> dict:
        r = http_request(self.port, "GET", "/stats")
        assert r.status == 200, r
        return json.loads(r.body)

    def control(self, **params) -> dict:
        q = "&".join(f"{k}={v}" for k, v in params.items())
        r = http_request(self.port, "POST", f"/_control?{q}")
        assert r.status == 200, r
        return json.loads(r.body)

    def stop(self):
        self.proc.stop(signal.SIGTERM, timeout=scaled(5))


class Haven:
    """`haven run -c <tmp>/NAME.yaml`, started and waited for ("haven ready")."""

    def __init__(self, workdir, config, name: str = "haven", log_level: str = "info", start: bool = True):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config_path = self.workdir / f"{name}.yaml"
        self.log_level = log_level
        self.write_config(config)
        self.proc: Proc | None = None
        self.ports: dict[str, int] = {}
        if start:
            self.start()

    def write_config(self, config):
        text = config if isinstance(config, str) else to_yaml(config) + "\n"
        self.config_path.write_text(text)
        if isinstance(config, dict) and config.get("access_log"):
            self.access_log_path = pathlib.Path(config["access_log"]["path"])
        elif not hasattr(self, "access_log_path"):
            self.access_log_path = None

    def start(self, timeout: float = 15.0):
        self.proc = Proc([HAVEN_BIN, "run", "-c", self.config_path, "--log-level", self.log_level],
                         self.workdir, self.name)
        self.proc.wait_for(r"haven ready", scaled(timeout))
        for m in _LISTENING.finditer(self.proc.output()):
            self.ports[m.group(1)] = int(m.group(3))
        assert self.ports, f"no 'listening:' line\n{self.proc.describe()}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def port(self, listener: str | None = None) -> int:
        if listener is None:
            return next(iter(self.ports.values()))
        return self.ports[listener]

    def url(self, path: str = "/", listener: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port(listener)}{path}"

    def admin_port(self) -> int:
        """The admin listener's port (logged as `listening: admin on 127.0.0.1:PORT`)."""
        assert "admin" in self.ports, f"no 'listening: admin' line\n{self.proc.describe()}"
        return self.ports["admin"]

    def request(self, method: str, path: str, body=None, headers=None, listener=None, timeout=10.0) -> "Response":
        return http_request(self.port(listener), method, path, body=body, headers=headers, timeout=timeout)

    def get(self, path: str, **kw) -> "Response":
        return self.request("GET", path, **kw)

    def connection(self, listener=None, timeout=10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port(listener), timeout=scaled(timeout))

    def raw(self, listener=None, timeout=10.0) -> "RawClient":
        return RawClient(self.port(listener), timeout=timeout)

    def send_signal(self, sig: int):
        """Sends sig to haven; after SIGTERM/SIGINT/SIGKILL its exit is expected (not a crash)."""
        if sig != signal.SIGHUP:
            self.stopped_by_test = True
        self.proc.send_signal(sig)

    def reload(self, config):
        self.write_config(config)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        self.stopped_by_test = True
        return self.proc.stop(sig, timeout=scaled(timeout))

    def crashed(self) -> bool:
        """True if haven exited on its own (not via stop()) or died of a signal."""
        if self.proc is None or getattr(self, "stopped_by_test", False):
            return False
        return not self.proc.alive()

    def log(self) -> str:
        return self.proc.output()

    def stderr(self) -> str:
        return self.proc.stderr()

    def alive(self) -> bool:
        return self.proc.alive()

    def vm_hwm_kib(self) -> int:
        return int(proc_status(self.pid)["VmHWM"].split()[0])

    def vm_rss_kib(self) -> int:
        return int(proc_status(self.pid)["VmRSS"].split()[0])

    def access_log(self, min_lines: int = 0, timeout: float = 5.0) -> list[dict]:
        """Access log records, waiting until at least min_lines are written."""
        assert self.access_log_path is not None, "config has no access_log path"

        def read():
            try:
                text = self.access_log_path.read_text()
            except FileNotFoundError:
                return None
            lines = [ln for ln in text.splitlines() if ln.strip()]
            return lines if len(lines) >= min_lines else None

        lines = wait_until(read, scaled(timeout), what=f"{min_lines} access log line(s)")
        return [json.loads(ln) for ln in lines]


# --------------------------------------------------------------------------------------------
# Ordinary HTTP requests (http.client)


@dataclass
class Response:
    status: int
    reason: str
    headers: list  # [(name, value), ...] in wire order
    body: bytes
    version: str = "HTTP/1.1"
    chunked: bool = False

    def header(self, name: str, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def has_header(self, name: str) -> bool:
        return any(k.lower() == name.lower() for k, _ in self.headers)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


def http_request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 10.0,
                 conn: http.client.HTTPConnection | None = None) -> Response:
    """One request; a fresh connection unless conn is given (then it is kept open)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        chunked = bool(r.chunked)
        data = r.read()
        return Response(r.status, r.reason, list(r.getheaders()), data,
                        version="HTTP/1.1" if r.version == 11 else "HTTP/1.0", chunked=chunked)
    finally:
        if own:
            conn.close()


def echo_headers(resp: Response) -> list:
    """The [name, value] pairs a demo-backend /echo saw."""
    return [tuple(h) for h in resp.json()["headers"]]


def header_values(pairs, name: str) -> list:
    return [v for k, v in pairs if k.lower() == name.lower()]


# --------------------------------------------------------------------------------------------
# Raw socket client


class IncompleteResponse(AssertionError):
    """The connection closed before a complete response arrived."""

    def __init__(self, msg, partial: bytes):
        super().__init__(msg)
        self.partial = partial


class RawClient:
    """A plain TCP client with an incremental HTTP/1.1 response reader."""

    def __init__(self, port: int, timeout: float = 10.0, host: str = "127.0.0.1"):
        self.timeout = scaled(timeout)
        self.sock = socket.create_connection((host, port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    # plumbing -----------------------------------------------------------------------------
    def send(self, data: bytes | str):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, deadline: Deadline) -> bool:
        """Reads more bytes into buf; False at EOF. Raises TimeoutError at the deadline."""
        if self.eof:
            return False
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("response not received in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 18)
        except socket.timeout:
            raise TimeoutError("response not received in time") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_line(self, deadline: Deadline, limit: int = 1 << 20) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise AssertionError("line too long in response")
            if not self._fill(deadline):
                raise IncompleteResponse("connection closed inside a line", bytes(self.buf))

    def _take(self, n: int, deadline: Deadline, partial: list) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise IncompleteResponse(f"connection closed with {len(self.buf)} of {n} body bytes",
                                         b"".join(partial) + bytes(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    # responses ----------------------------------------------------------------------------
    def read_head(self, timeout: float | None = None) -> Response:
        deadline = Deadline(scaled(timeout) if timeout else self.timeout)
        status_line = self._take_line(deadline).decode("latin-1")
        m = re.fullmatch(r"(HTTP/\d\.\d) (\d{3}) ?(.*)", status_line)
        assert m, f"bad status line {status_line!r}"
        headers = []
        while True:
            line = self._take_line(deadline).decode("latin-1")
            if line == "":
                break
            name, sep, value = line.partition(":")
            assert sep, f"bad header line {line!r}"
            headers.append((name, value.strip()))
        return Response(int(m.group(2)), m.group(3), headers, b"", version=m.group(1))

    def read_response(self, head_request: bool = False, timeout: float | None = None,
                      skip_interim: bool = True) -> Response:
        """Reads one complete response. Raises IncompleteResponse if the connection closes early."""
        deadline = Deadline(scaled(timeout) if timeout else self.timeout)
        while True:
            r = self.read_head(timeout=deadline.remaining() / TIME_SCALE)
            if 100 <= r.status < 200 and skip_interim:
                continue
            break
        return self.read_body(r, head_request=head_request, deadline=deadline)

    def read_body(self, r: Response, head_request: bool = False, deadline: Deadline | None = None) -> Response:
        """Reads the body that belongs to head r (framing from its headers) into r.body."""
        deadline = deadline or Deadline(self.timeout)
        if head_request or 100 <= r.status < 200 or r.status in (204, 304):
            return r
        te = (r.header("Transfer-Encoding") or "").lower()
        cl = r.header("Content-Length")
        parts: list = []
        if te:
            assert te.split(",")[-1].strip() == "chunked", f"unexpected Transfer-Encoding {te}"
            r.chunked = True
            while True:
                size_line = self._take_line(deadline).decode("latin-1")
                size = int(size_line.split(";")[0].strip(), 16)
                if size == 0:
                    break
                parts.append(self._take(size, deadline, parts))
                crlf = self._take(2, deadline, parts)
                assert crlf == b"\r\n", f"chunk not followed by CRLF: {crlf!r}"
            while self._take_line(deadline) != b"":  # trailers
                pass
        elif cl is not None:
            parts.append(self._take(int(cl), deadline, parts))
        else:
            while self._fill(deadline):
                pass
            parts.append(bytes(self.buf))
            self.buf.clear()
        r.body = b"".join(parts)
        return r

    def read_until_close(self, timeout: float | None = None) -> bytes:
        """Everything until the peer closes (raises TimeoutError if it stays open)."""
        deadline = Deadline(scaled(timeout) if timeout else self.timeout)
        while self._fill(deadline):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def closed_within(self, timeout: float) -> bool:
        """True if the peer closes the connection within timeout seconds (pending bytes discarded)."""
        try:
            self.read_until_close(timeout=timeout)
            return True
        except TimeoutError:
            return False

    def readable(self) -> bool:
        """Non-blocking: True if a response byte, EOF or a reset is waiting."""
        if self.buf or self.eof:
            return True
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def is_open(self) -> bool:
        """Non-blocking: False if the peer has closed (or reset) the connection."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return True
        try:
            data = self.sock.recv(1 << 16, socket.MSG_PEEK)
        except (ConnectionResetError, OSError):
            return False
        return bool(data)


def request_bytes(method: str, path: str, host: str = "test", headers=None, body: bytes = b"",
                  version: str = "HTTP/1.1", content_length: bool | None = None) -> bytes:
    """A well-formed request; Content-Length is added when there is a body (or content_length=True)."""
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for k, v in (headers or []):
        lines.append(f"{k}: {v}")
    if content_length or (content_length is None and body):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunk_encode(body: bytes, chunk: int = 1000, extension: str = "") -> bytes:
    out = bytearray()
    for i in range(0, len(body), chunk):
        piece = body[i:i + chunk]
        out += f"{len(piece):x}{extension}\r\n".encode() + piece + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Tiny Python servers


class TinyServer:
    """A threaded TCP server on 127.0.0.1:0 that runs handler(conn, server) per connection."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.accepted = 0
        self.requests = 0
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(30)
            with self.lock:
                self.accepted += 1
                self.conns.append(conn)
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            t.start()
            with self.lock:
                self.threads.append(t)

    def _run(self, conn):
        try:
            self.handler(conn, self)
        except (OSError, ValueError):
            pass
        except Exception as e:  # recorded for the test to inspect
            self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns, threads = list(self.conns), list(self.threads)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(timeout=5)
        for t in threads:
            t.join(timeout=5)


def echo_handler(conn: socket.socket, server: TinyServer):
    """TCP echo; half-closes its side after the client's EOF."""
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


class RequestReader:
    """Reads HTTP/1.1 requests (Content-Length or chunked bodies) from a server-side socket."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.conn.recv(1 << 16)
        if not data:
            return False
        self.buf += data
        return True

    def _line(self) -> bytes | None:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if not self._fill():
                return None

    def read_head(self):
        """(method, target, headers) or None at EOF."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if not self._fill():
                return None
        head = bytes(self.buf[:i]).decode("latin-1")
        del self.buf[:i + 4]
        lines = head.split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
        return method, target, headers

    def read_body(self, headers, sink=None) -> int:
        """Reads the body; returns its length. sink(bytes) receives the data if given."""
        hv = {k.lower(): v for k, v in headers}
        total = 0
        if "chunked" in hv.get("transfer-encoding", "").lower():
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    return total
                total += self._consume(size, sink)
                self._consume(2, None)
        n = int(hv.get("content-length", "0"))
        return self._consume(n, sink)

    def _consume(self, n: int, sink) -> int:
        left = n
        while left > 0:
            if not self.buf and not self._fill():
                raise ConnectionError("EOF in body")
            take = min(left, len(self.buf))
            if sink:
                sink(bytes(self.buf[:take]))
            del self.buf[:take]
            left -= take
        return n


# --------------------------------------------------------------------------------------------
# nginx


class Nginx:
    """Debian's nginx in the foreground (no master process), serving files from <dir>/www."""

    def __init__(self, workdir, files: dict[str, bytes], extra_locations: str = ""):
        self.dir = pathlib.Path(workdir) / "nginx"
        self.www = self.dir / "www"
        for sub in ("www", "logs", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (self.www / name).write_bytes(content)
        self.access_log = self.dir / "logs" / "access.log"
        self.proc = None
        last = ""
        for attempt in range(5):  # a probed port can be taken before nginx binds it
            self.port = free_port()
            self.short_port = free_port()  # same files, keepalive_timeout 1s
            conf = self.dir / "nginx.conf"
            conf.write_text(self._conf(extra_locations))
            proc = Proc([NGINX_BIN, "-c", conf, "-p", self.dir, "-e", self.dir / "logs" / "error.log"],
                        self.dir, f"nginx-{attempt}")
            try:
                wait_until(lambda: port_accepts(self.port, 0.2) or not proc.alive(), scaled(10), what="nginx")
            except TimeoutError:
                proc.kill()
                raise
            if proc.alive() and port_accepts(self.port, 0.5) and port_accepts(self.short_port, 0.5):
                self.proc = proc
                return
            last = proc.describe() + (self.dir / "logs" / "error.log").read_text(errors="replace")
            proc.kill()
        raise ProcessFailed(f"nginx did not start\n{last}")

    def _conf(self, extra_locations: str) -> str:
        d = self.dir
        return f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log info;
events {{ worker_connections 512; }}
http {{
    types {{ text/html html; text/plain txt; application/octet-stream bin; }}
    default_type application/octet-stream;
    log_format conns '$connection $connection_requests $request_method $uri $status';
    access_log {d}/logs/access.log conns;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    sendfile on;
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        root {d}/www;
        location = /hello {{ default_type text/plain; return 200 "hello from nginx\\n"; }}
        location /ssi/ {{ ssi on; }}
        {extra_locations}
    }}
    server {{
        listen 127.0.0.1:{self.short_port};
        keepalive_timeout 1s;
        root {d}/www;
        location = /hello {{ default_type text/plain; return 200 "hello from nginx\\n"; }}
    }}
}}
"""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def access_records(self) -> list[list[str]]:
        try:
            return [ln.split() for ln in self.access_log.read_text().splitlines() if ln.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc:
            self.proc.stop(signal.SIGQUIT, timeout=scaled(5))


def read_and_count(conn, server):
    """Reads one whole request on a TinyServer connection and counts it in server.requests.
    Returns the request's (method, target, headers) or None when the client sent nothing."""
    reader = RequestReader(conn)
    req = reader.read_head()
    if req is None:
        return None
    reader.read_body(req[2])
    with server.lock:
        server.requests += 1
    return req


# Health checks fast enough for tests: a dead server is seen down within about 0.5 s.
FAST_CHECKS = {
    "http": {"path": "/health"},
    "interval": "200ms",
    "fast_interval": "100ms",
    "down_interval": "200ms",
    "timeout": "100ms",
    "fall": 2,
    "rise": 2,
    "jitter": "0%",
    "initial": "up",
}
