"""TLS on listeners and toward servers (docs/tls.md), tried with the clients users have: Python's
ssl module, `openssl s_client` and curl; Debian's nginx as a TLS server behind haven. Certificates
come from a private CA made with the openssl command line (tls_certs.py)."""

from __future__ import annotations

import http.client
import json
import pathlib
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from closed_loop import ClosedLoop
from harness import (HAVEN_BIN, Proc, echo_headers, free_port, header_values, make_config, missing_tool, port_accepts, scaled,
                     wait_until)
from prom import scrape, total
from support_helpers import server_view
from tls_certs import CA, chain_file

NAME = "haven.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA(d)
    p = {"ca": ca, "dir": d}
    p["main"] = ca.issue(NAME, dns=[NAME], ips=["127.0.0.1"])
    p["other"] = ca.issue("other.test", dns=["other.test"], kind="rsa")
    p["next"] = ca.issue("haven-next", dns=[NAME])  # the same name, a new certificate: a renewal
    p["expired"] = ca.issue("expired", dns=[NAME], start="20200101000000Z", end="20210101000000Z")
    p["backend"] = ca.issue("backend.test", dns=["backend.test"], ips=["127.0.0.1"])
    p["client"] = ca.issue("haven-client", client=True)
    p["ocsp"] = ca.ocsp_response(p["main"][0])
    p["foreign"] = CA(d, "foreign-ca")
    return p


def client_ctx(pki, **kw) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki["ca"].cert))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def tls_listener(pki, cert="main", **extra) -> dict:
    cert_path, key_path = pki[cert]
    return {"name": "web", "listen": "127.0.0.1:0", "mode": "http", "routes": [{"pool": "p"}],
            "tls": {"cert": str(cert_path), "key": str(key_path), **extra}}


def https_get(port, pki, path="/", name=NAME, ctx=None, headers=None):
    ctx = ctx or client_ctx(pki)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=scaled(10))
    c._tunnel_host = None
    c.host = "127.0.0.1"
    sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
    c.sock = ctx.wrap_socket(sock, server_hostname=name)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    info = (c.sock.version(), c.sock.cipher()[0], c.sock.selected_alpn_protocol(), c.sock.getpeercert())
    c.close()
    return r, body, info


def handshake_counts(haven) -> dict:
    return {s[1]["outcome"]: s[2] for s in scrape(haven.admin_port()) if s[0] == "haven_tls_handshakes_total"}


@pytest.fixture
def served(spawn, pki, tmp_path):
    b = spawn.backend("b1")
    cfg = make_config(pools={"p": [b.address]}, listeners=[tls_listener(pki, ocsp=str(pki["ocsp"]))],
                      timeouts={"request_headers": "1s"}, access_log=str(tmp_path / "access.log"))
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return spawn.haven(cfg)


def test_https_request_reaches_the_server_with_forwarded_proto(served, pki):
    r, body, (version, cipher, alpn, peer) = https_get(served.port(), pki, "/echo",
                                                       headers={"X-Forwarded-Proto": "http"})
    assert r.status == 200
    assert version == "TLSv1.3" and alpn is None  # http.client offers no ALPN
    seen = [tuple(h) for h in json.loads(body)["headers"]]
    assert header_values(seen, "X-Forwarded-Proto")[-1] == "https", seen
    rec = served.access_log(min_lines=1)[-1]
    assert rec["tls_version"] == "TLSv1.3" and rec["tls_cipher"] == cipher, rec


def test_curl_over_http_1_1_with_the_name_verified(served, pki):
    port = served.port()
    r = subprocess.run(["curl", "-sS", "--cacert", str(pki["ca"].cert), "--resolve", f"{NAME}:{port}:127.0.0.1",
                        "-w", "%{http_code} %{http_version} %{ssl_verify_result}", "-o", "/dev/null",
                        f"https://{NAME}:{port}/"], capture_output=True, text=True, timeout=scaled(20))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", "1.1", "0"], r.stdout


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_with_alpn(served, pki, version):
    ctx = client_ctx(pki, minimum_version=version, maximum_version=version)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", served.port()), timeout=scaled(10)) as s:
        with ctx.wrap_socket(s, server_hostname=NAME) as t:
            assert t.version() == version.name.replace("v1_", "v1.")
            assert t.selected_alpn_protocol() == "http/1.1", "h2 is not offered: haven speaks HTTP/1.1"
            t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := t.recv(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]


def openssl_client(port, *args, stdin=b"", timeout=10):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args], input=stdin,
                          capture_output=True, timeout=scaled(timeout))


def test_old_versions_are_refused_and_counted(served, pki):
    before = handshake_counts(served).get("version", 0)
    r = openssl_client(served.port(), "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-servername", NAME)
    assert b"BEGIN CERTIFICATE" not in r.stdout
    wait_until(lambda: handshake_counts(served).get("version", 0) > before, scaled(5), what="version counted")


def test_ocsp_response_is_stapled(served, pki):
    r = openssl_client(served.port(), "-status", "-servername", NAME, "-CAfile", str(pki["ca"].cert))
    out = r.stdout.decode(errors="replace")
    assert "OCSP Response Status: successful" in out, out[-2000:]
    assert "Cert Status: good" in out


def test_session_resumption_with_tickets(served, pki):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_ctx(pki, minimum_version=version, maximum_version=version)
        session = None
        reused = []
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", served.port()), timeout=scaled(10)) as s:
                with ctx.wrap_socket(s, server_hostname=NAME, session=session) as t:
                    t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    t.recv(65536)  # TLS 1.3 tickets arrive after the handshake
                    reused.append(t.session_reused)
                    session = t.session
        assert reused == [False, True], (version, reused)
    assert handshake_counts(served).get("resumed", 0) >= 2


def test_a_resumed_tls13_connection_gets_a_fresh_ticket(served, pki):
    """A TLS 1.3 client offers a ticket once: unless a resumed connection brings a new ticket, the
    client's next connection is a full handshake. (OpenSSL names a client session after its
    ticket, so a new ticket shows as a new session id.)"""
    ctx = client_ctx(pki, minimum_version=ssl.TLSVersion.TLSv1_3)
    session = None
    for i in range(4):
        with socket.create_connection(("127.0.0.1", served.port()), timeout=scaled(10)) as s:
            with ctx.wrap_socket(s, server_hostname=NAME, session=session) as t:
                t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                t.recv(65536)
                assert t.session_reused == (i > 0), i
                if session is not None:
                    assert t.session.id != session.id, f"connection {i}: resumed without a new ticket"
                session = t.session


def test_plain_http_garbage_and_a_stalled_handshake_are_closed_and_counted(served, pki):
    port = served.port()
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(5)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100) == b"", "plain HTTP to a TLS port gets no HTTP answer, the connection closes"
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(5)) as s:
        s.sendall(b"\x16\x03\x01\x00\x05garbage-garbage-garbage")
        try:
            s.recv(100)  # an alert or nothing, then the close
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(5)) as s:
        s.sendall(b"\x16\x03\x01")  # a record header, then nothing: slowloris on the handshake
        assert s.recv(100) == b""
    assert time.monotonic() - started < scaled(4), "closed at timeouts.request_headers (1s)"
    counts = wait_until(lambda: (c := handshake_counts(served)) and c.get("timeout") and c, scaled(5), what="counts")
    assert counts.get("http_request", 0) >= 1 and counts.get("protocol", 0) >= 1, counts
    assert served.alive()


def test_certificate_expiry_is_a_metric(served, pki):
    expiry = total(scrape(served.admin_port()), "haven_tls_certificate_expiry_timestamp_seconds", listener="web")
    assert 29 * 86400 < expiry - time.time() <= 30 * 86400, "the test CA issues for 30 days"


def test_sni_chooses_the_certificate_and_unknown_names_get_the_default(spawn, pki):
    b = spawn.backend("b1")
    (mc, mk), (oc, ok) = pki["main"], pki["other"]
    listener = tls_listener(pki)
    listener["tls"] = {"certificates": [{"cert": str(mc), "key": str(mk)}, {"cert": str(oc), "key": str(ok)}]}
    h = spawn.haven(make_config(pools={"p": [b.address]}, listeners=[listener]))
    ctx = client_ctx(pki)
    _, _, (_, _, _, peer) = https_get(h.port(), pki, name="other.test", ctx=ctx)
    assert dict(x[0] for x in peer["subject"])["commonName"] == "other.test"
    _, _, (_, _, _, peer) = https_get(h.port(), pki, name=NAME, ctx=ctx)
    assert dict(x[0] for x in peer["subject"])["commonName"] == NAME
    nocheck = client_ctx(pki, check_hostname=False)
    _, _, (_, _, _, peer) = https_get(h.port(), pki, name="unknown.test", ctx=nocheck)
    assert dict(x[0] for x in peer["subject"])["commonName"] == NAME, "the first certificate is the default"


def peer_serial(port, pki) -> int:
    ctx = client_ctx(pki)
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(10)) as s:
        with ctx.wrap_socket(s, server_hostname=NAME) as t:
            return int(t.getpeercert()["serialNumber"], 16)


def test_reload_swaps_the_certificate_without_dropping_a_connection_and_refuses_a_bad_one(spawn, pki):
    b = spawn.backend("b1")
    cfg = make_config(pools={"p": [b.address]}, listeners=[tls_listener(pki)])
    h = spawn.haven(cfg)
    first = peer_serial(h.port(), pki)
    open_conn = http.client.HTTPSConnection("127.0.0.1", h.port(), context=client_ctx(pki, check_hostname=False),
                                            timeout=scaled(10))
    open_conn.request("GET", "/")
    assert open_conn.getresponse().read()
    h.reload(make_config(pools={"p": [b.address]}, listeners=[tls_listener(pki, cert="next")]))
    wait_until(lambda: peer_serial(h.port(), pki) != first, scaled(10), what="the renewed certificate served")
    open_conn.request("GET", "/")
    r = open_conn.getresponse()
    assert (r.status, bool(r.read())) == (200, True), "a connection open across the reload keeps working"
    renewed = peer_serial(h.port(), pki)
    # A reload whose key does not match its certificate is refused whole; the last one stays.
    bad = tls_listener(pki, cert="next")
    bad["tls"]["key"] = str(pki["other"][1])
    h.reload(make_config(pools={"p": [b.address]}, listeners=[bad]))
    h.proc.wait_for(r"reload refused", scaled(10))
    assert peer_serial(h.port(), pki) == renewed
    open_conn.request("GET", "/")
    r = open_conn.getresponse()
    assert (r.status, bool(r.read())) == (200, True)
    open_conn.close()


def check_config(tmp_path, listener) -> subprocess.CompletedProcess:
    path = tmp_path / "bad.yaml"
    from harness import to_yaml
    path.write_text(to_yaml(make_config(pools={"p": ["127.0.0.1:1"]}, listeners=[listener])) + "\n")
    return subprocess.run([HAVEN_BIN, "check", "-c", str(path)], capture_output=True, text=True, timeout=scaled(20))


def test_config_errors_name_the_file_line_and_key(pki, tmp_path):
    mismatch = tls_listener(pki)
    mismatch["tls"]["key"] = str(pki["other"][1])
    expired = tls_listener(pki, cert="expired")
    missing = tls_listener(pki)
    missing["tls"]["cert"] = str(tmp_path / "nowhere.pem")
    for listener, key, words in ((mismatch, "listeners[0].tls.key", "does not match"),
                                 (expired, "listeners[0].tls.cert", "expired"),
                                 (missing, "listeners[0].tls.cert", "nowhere.pem")):
        r = check_config(tmp_path, listener)
        assert r.returncode == 1, r
        assert "bad.yaml:" in r.stderr and key in r.stderr and words in r.stderr, r.stderr


def test_tcp_listener_terminates_tls(spawn, pki):
    b = spawn.backend("b1")
    listener = tls_listener(pki)
    listener.pop("routes")
    listener.update({"mode": "tcp", "pool": "p"})
    h = spawn.haven(make_config(pools={"p": [b.address]}, listeners=[listener]))
    r, body, (version, _, _, _) = https_get(h.port(), pki, "/")
    assert r.status == 200 and version == "TLSv1.3"


def test_https_under_closed_loop_load_at_50_and_400_connections(spawn, pki):
    b = spawn.backend("b1")
    h = spawn.haven(make_config(pools={"p": [b.address]}, listeners=[tls_listener(pki)]))
    for conns in (50, 400):
        loop = ClosedLoop(h.port(), conns, duration=scaled(4), ssl_context=client_ctx(pki), server_hostname=NAME)
        loop.finish()
        assert len(loop.outcomes) >= conns, "every connection was served at least once"
        assert not loop.failures(), (conns, loop.by_status())


# --- TLS toward servers: Debian's nginx with a certificate from the same CA

NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"


class TlsNginx:
    """nginx serving /hello over TLS; with `client_ca`, it requires a client certificate."""

    def __init__(self, workdir: pathlib.Path, cert, key, client_ca=None):
        self.dir = workdir / f"nginx-tls-{free_port()}"
        for sub in ("logs", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        verify = f"ssl_client_certificate {client_ca}; ssl_verify_client on;" if client_ca else ""
        d = self.dir
        (d / "nginx.conf").write_text(f"""
daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;
error_log {d}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format conns '$connection $connection_requests $uri $status';
    access_log {d}/logs/access.log conns;
    client_body_temp_path {d}/tmp/b; proxy_temp_path {d}/tmp/p; fastcgi_temp_path {d}/tmp/f;
    uwsgi_temp_path {d}/tmp/u; scgi_temp_path {d}/tmp/s;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {cert}; ssl_certificate_key {key};
        {verify}
        location = /hello {{ default_type text/plain; return 200 "hello over tls $ssl_server_name\\n"; }}
        location = /health {{ return 200 "ok\\n"; }}
    }}
}}
""")
        self.proc = Proc([NGINX_BIN, "-c", d / "nginx.conf", "-p", d, "-e", d / "logs" / "error.log"], d, "nginx-tls")
        wait_until(lambda: port_accepts(self.port, 0.2), scaled(10), what="nginx over TLS")

    def connections(self) -> set:
        return {line.split()[0] for line in (self.dir / "logs" / "access.log").read_text().splitlines()}

    def close(self):
        self.proc.kill()


@pytest.fixture
def tls_nginx(pki, tmp_path):
    if not shutil.which(NGINX_BIN) and not pathlib.Path(NGINX_BIN).exists():
        missing_tool("nginx", "scripts/install-deps installs it")
    made = []

    def make(**kw):
        cert, key = pki["backend"]
        n = TlsNginx(tmp_path, chain_file(cert, pki["ca"]), key, **kw)
        made.append(n)
        return n
    yield make
    for n in made:
        n.close()


def pool_to(nginx, tls: dict, check=True) -> dict:
    pool = {"servers": [{"name": "n1", "address": f"127.0.0.1:{nginx.port}"}], "tls": tls}
    if check:
        pool["health_check"] = {"http": {"path": "/health"}, "interval": "500ms", "fall": 1, "rise": 1}
    return pool


def test_pool_tls_verifies_sends_sni_and_keeps_connections_alive(spawn, pki, tls_nginx):
    n = tls_nginx()
    cfg = make_config(pools={"p": pool_to(n, {"ca": str(pki["ca"].cert), "server_name": "backend.test"})})
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    h = spawn.haven(cfg)
    c = h.connection()
    for _ in range(5):
        c.request("GET", "/hello")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"hello over tls backend.test\n")
    c.close()
    assert len(n.connections()) <= 2, "requests reuse a kept-alive TLS connection (one more for a check)"
    assert total(scrape(h.admin_port()), "haven_upstream_tls_handshakes_total", outcome="ok") >= 1
    assert server_view(h, "p", "n1")["state"] == "up", "the check speaks TLS too"


def test_pool_tls_refuses_a_server_it_cannot_verify(spawn, pki, tls_nginx, tmp_path):
    n = tls_nginx()
    cfg = make_config(pools={"p": pool_to(n, {"ca": str(pki["foreign"].cert)}, check=False)},
                      access_log=str(tmp_path / "a.log"))
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    h = spawn.haven(cfg)
    assert h.get("/hello").status == 502
    assert h.access_log(min_lines=1)[-1]["flag"] == "upstream tls failure"
    assert total(scrape(h.admin_port()), "haven_upstream_tls_handshakes_total", outcome="certificate") >= 1
    assert not n.connections(), "nothing reached nginx's HTTP layer"
    # A tcp check in a TLS pool verifies the server as requests do: it fails, saying why.
    checked = make_config(pools={"p": pool_to(n, {"ca": str(pki["foreign"].cert)}, check=False)
                                 | {"health_check": {"tcp": {}, "interval": "300ms", "fall": 1, "rise": 1}}})
    h.reload(checked | {"admin": cfg["admin"]})
    wait_until(lambda: server_view(h, "p", "n1")["state"] == "down", scaled(10), what="tcp+tls check fails")
    assert "certificate" in json.dumps(server_view(h, "p", "n1")), server_view(h, "p", "n1")
    # verify: false is the operator's explicit choice: then it serves.
    h.reload(make_config(pools={"p": pool_to(n, {"verify": False}, check=False)}) | {"admin": cfg["admin"]})
    wait_until(lambda: h.get("/hello").status == 200, scaled(10), what="verify: false serves")


def test_pool_tls_presents_a_client_certificate(spawn, pki, tls_nginx):
    n = tls_nginx(client_ca=pki["ca"].cert)
    cert, key = pki["client"]
    without = spawn.haven(make_config(pools={"p": pool_to(n, {"ca": str(pki["ca"].cert)}, check=False)}))
    assert without.get("/hello").status == 400, "nginx requires a client certificate"
    with_cert = spawn.haven(make_config(pools={"p": pool_to(
        n, {"ca": str(pki["ca"].cert), "cert": str(cert), "key": str(key)})}))
    assert with_cert.get("/hello").status == 200
