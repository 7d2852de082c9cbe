"""A closed-loop HTTP/1.1 load for failover tests: N keep-alive connections, each sending its next
GET as soon as the previous answer arrived — the load users bring (wrk's model), not one polite
client. Every outcome is recorded, so a test can assert that no request failed.

Bounded: the load stops at `duration` seconds (and `max_requests` in all); every read and connect
has a timeout. Runs its asyncio loop in a thread so the test can kill processes meanwhile.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time


class Outcome:
    __slots__ = ("sent", "status", "backend", "error")

    def __init__(self, sent: float, status: int, backend: str | None, error: str | None = None):
        self.sent, self.status, self.backend, self.error = sent, status, backend, error

    def __repr__(self):
        return f"Outcome(t={self.sent:.3f}, status={self.status}, backend={self.backend}, error={self.error})"


class ClosedLoop:
    """Starts at once; `finish()` waits for the end and returns every Outcome.

    `wait_for_listener`: connect errors before the first successful connect of a connection are
    retried every 10 ms instead of recorded (for a test that starts clients before haven).
    """

    def __init__(self, port: int, connections: int, duration: float, path: str = "/",
                 max_requests: int = 2_000_000, timeout: float = 10.0, wait_for_listener: bool = False,
                 ssl_context=None, server_hostname: str | None = None):
        self.port, self.connections, self.duration, self.path = port, connections, duration, path
        self.ssl_context, self.server_hostname = ssl_context, server_hostname  # HTTPS when set
        self.max_requests, self.timeout, self.wait_for_listener = max_requests, timeout, wait_for_listener
        self.outcomes: list[Outcome] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()

    def finish(self) -> list[Outcome]:
        self._thread.join(timeout=self.duration + self.timeout + 30)
        assert not self._thread.is_alive(), "the closed-loop load did not stop"
        return self.outcomes

    # --- results
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error or not 200 <= o.status < 300]

    def by_status(self) -> dict:
        return dict(collections.Counter(o.error or o.status for o in self.outcomes))

    def longest_gap(self) -> float:
        """Longest time between two consecutive 2xx answers (by send time), in seconds."""
        ok = sorted(o.sent for o in self.outcomes if not o.error and 200 <= o.status < 300)
        return max((b - a for a, b in zip(ok, ok[1:])), default=0.0)

    # --- the load
    async def _main(self):
        deadline = self.started + self.duration
        await asyncio.gather(*(self._client(deadline) for _ in range(self.connections)))

    def _more(self, deadline: float) -> bool:
        return not self._stop.is_set() and time.monotonic() < deadline and len(self.outcomes) < self.max_requests

    async def _connect(self, deadline: float, first: bool):
        while True:
            try:
                tls = {"ssl": self.ssl_context, "server_hostname": self.server_hostname} if self.ssl_context else {}
                return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port, **tls), self.timeout)
            except (OSError, asyncio.TimeoutError):
                if not (first and self.wait_for_listener) or not self._more(deadline):
                    raise
                await asyncio.sleep(0.01)

    async def _client(self, deadline: float):
        request = (f"GET {self.path} HTTP/1.1\r\nHost: loop.test\r\n\r\n").encode()
        reader = writer = None
        first = True
        while self._more(deadline):
            sent = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await self._connect(deadline, first)
                    first = False
                writer.write(request)
                status, backend, close = await asyncio.wait_for(_read_response(reader), self.timeout)
                self.outcomes.append(Outcome(sent, status, backend))
                if close:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:  # ssl.SSLError is an OSError
                self.outcomes.append(Outcome(sent, 0, None, f"{type(e).__name__}: {e}"))
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()


async def _read_response(reader):
    """(status, X-Backend, connection closes) of one response with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    length, backend, close = None, None, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "x-backend":
            backend = value
        elif name == "connection" and value.lower() == "close":
            close = True
        elif name == "transfer-encoding":
            raise ValueError("chunked responses are not expected here")
    if length is None:
        raise ValueError("response without Content-Length")
    await reader.readexactly(length)
    return status, backend, close
