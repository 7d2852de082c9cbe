#!/usr/bin/env python3
"""Opens N keep-alive client connections to a proxy, sends one GET on each, reads each response,
and keeps them open; then prints the proxy's resident memory and closes everything.

usage: idle_conns.py PORT N PID
Bounded: every socket operation has a deadline; the whole run gives up after 120 s.
"""
import os
import selectors
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    before = rss_kib(pid)
    sel = selectors.DefaultSelector()
    socks = []
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    deadline = time.monotonic() + 120
    pending = 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, [b"", False])
        pending += 1
        # Open connections as a steady trickle (64 in flight), the way an idle population builds up.
        while pending > 64 and time.monotonic() < deadline:
            pending -= pump(sel, request)
    while pending > 0 and time.monotonic() < deadline:
        pending -= pump(sel, request)
    if pending:
        print(f"gave up with {pending} connections unfinished", file=sys.stderr)
    time.sleep(1)  # let the proxy settle (buffers returned, timers run)
    after = rss_kib(pid)
    print(f"rss_before_kib={before} rss_after_kib={after} per_conn_bytes={(after - before) * 1024 // max(n, 1)} conns={n - pending}")
    for s in socks:
        s.close()


def pump(sel, request):
    done = 0
    for key, events in sel.select(timeout=1):
        s, state = key.fileobj, key.data
        try:
            if events & selectors.EVENT_WRITE:
                s.send(request)
                sel.modify(s, selectors.EVENT_READ, state)
            elif events & selectors.EVENT_READ:
                data = s.recv(65536)
                state[0] += data
                if not data or b"\r\n\r\n" in state[0]:
                    sel.unregister(s)
                    done += 1
        except OSError:
            sel.unregister(s)
            done += 1
    return done


if __name__ == "__main__":
    main()
