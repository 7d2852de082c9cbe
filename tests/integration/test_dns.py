"""haven's authoritative DNS server through `dig` (Debian dnsutils), on 127.0.0.1 with a port the
kernel chose: every record type, NXDOMAIN and NODATA, REFUSED, truncation and the retry over TCP,
EDNS and Client Subnet, malformed packets, response-rate limiting, hot reload (and a bad zone
refused whole), and failover: the primary region's servers (demo backends on 127.0.0.2) are killed
and the answer moves to the secondary region (127.0.0.3) within the check window, then back after
`rise` when they return."""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import time

import pytest

from harness import HAVEN_BIN, Proc, scaled, wait_until, require_tool
from support_helpers import admin, api_events

CHECK = {"http": {"path": "/health"}, "interval": "300ms", "fast_interval": "150ms", "down_interval": "300ms",
         "timeout": "200ms", "fall": 2, "rise": 2, "jitter": "0%"}


def window(check=CHECK) -> float:
    """docs/dns.md: an answer follows a region within interval + (fall-1) x fast_interval +
    fall x timeout (the check window), plus the time to publish (immediate for a region)."""
    ms = lambda v: float(v.rstrip("ms")) if v.endswith("ms") else float(v.rstrip("s")) * 1000
    return (ms(check["interval"]) + (check["fall"] - 1) * ms(check["fast_interval"]) + check["fall"] * ms(check["timeout"])) / 1000


class RegionBackend:
    """`haven demo-backend` on another loopback address (127.0.0.x), a port the kernel chose."""

    def __init__(self, workdir, host: str, name: str, port: int = 0):
        self.workdir, self.host, self.name = workdir, host, name
        self.proc = Proc([HAVEN_BIN, "demo-backend", "--listen", f"{host}:{port}", "--name", name], workdir, f"backend-{name}")
        m = self.proc.wait_for(rf"demo-backend \S+ listening on {re.escape(host)}:(\d+)", scaled(10), stream="out")
        self.port = int(m.group(1))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def kill(self):
        self.proc.kill()

    def restart(self) -> "RegionBackend":
        return RegionBackend(self.workdir, self.host, self.name, self.port)


def zone_records(extra=()):
    big = [c * 200 for c in "abcdefghijkl"]
    return [
        {"name": "@", "type": "NS", "values": ["ns1"]},
        {"name": "ns1", "type": "A", "value": "192.0.2.53"},
        {"name": "@", "type": "MX", "value": "10 mail"},
        {"name": "mail", "type": "A", "value": "192.0.2.25"},
        {"name": "www", "type": "A", "ttl": 60, "values": ["192.0.2.1", "192.0.2.2"]},
        {"name": "www", "type": "AAAA", "value": "2001:db8::1"},
        {"name": "alias", "type": "CNAME", "value": "www"},
        {"name": "@", "type": "TXT", "value": "v=spf1 -all"},
        {"name": "_sip._tcp", "type": "SRV", "value": "10 60 5060 sip"},
        {"name": "sip", "type": "A", "value": "192.0.2.60"},
        {"name": "big", "type": "TXT", "values": big},
        *extra,
    ]


_dead: list[str] = []


def dead_address() -> str:
    """A loopback address where nothing listens (a port the kernel gave and took back): checks
    of it fail at once with "connection refused"."""
    if not _dead:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            _dead.append(f"127.0.0.1:{s.getsockname()[1]}")
    return _dead[0]


def routed_records():
    """Weighted, multivalue and all-unhealthy sets; members with their own TCP check of
    dead_address() are unhealthy from their first check on."""
    dead = {"health_check": {"tcp": {}, "interval": "300ms", "timeout": "200ms", "jitter": "0%"},
            "check_address": dead_address()}
    return [
        {"name": "w", "type": "A", "routing": "weighted", "members": [
            {"weight": 3, "value": "192.0.2.41"}, {"weight": 1, "value": "192.0.2.42"},
            {"weight": 0, "value": "192.0.2.43"}, {"weight": 5, "value": "192.0.2.44", **dead}]},
        {"name": "mv", "type": "A", "routing": "multivalue", "members": [
            *({"value": f"192.0.2.{50 + i}"} for i in range(10)), {"value": "192.0.2.60", **dead}]},
        {"name": "dead", "type": "A", "routing": "multivalue", "members": [
            {"value": "192.0.2.71", **dead}, {"values": ["192.0.2.72", "192.0.2.73"], **dead}]},
    ]


def dns_config(eu, us, records=None, rrl=None):
    dns = {"listeners": [{"name": "main", "listen": "127.0.0.1:0"}],
           "zones": [{"name": "example.com", "ttl": 300,
                      "soa": {"primary": "ns1", "admin": "hostmaster@example.com", "serial": 7, "negative_ttl": 60},
                      "records": records if records is not None else zone_records([
                          {"name": "app", "type": "A", "routing": "failover", "members": [
                              {"role": "primary", "region": "eu", "value": eu.host},
                              {"role": "secondary", "region": "us", "value": us.host}]},
                          {"name": "near", "type": "A", "routing": "latency", "members": [
                              {"region": "eu", "value": "192.0.2.101"}, {"region": "us", "value": "192.0.2.102"}]},
                          *routed_records(),
                      ])}]}
    # Every query of these tests comes from 127.0.0.1: exempt from rate limiting but in its own test.
    dns["rrl"] = rrl if rrl is not None else {"exempt": ["127.0.0.0/8"]}
    return {
        "threads": 1,
        "admin": {"listen": "127.0.0.1:0"},
        "listeners": [{"name": "web", "listen": "127.0.0.1:0", "pool": "web"}],
        "pools": [{"name": "web", "servers": [{"name": "eu1", "address": eu.address}]}],
        "regions": [
            {"name": "eu", "endpoints": [eu.address], "health_check": CHECK, "clients": ["10.1.0.0/16"]},
            {"name": "us", "endpoints": [us.address], "health_check": CHECK, "clients": ["10.2.0.0/16"]},
        ],
        "dns": dns,
    }


class Dig:
    """One `dig` run, parsed: status, flags, sections, EDNS, transport."""

    def __init__(self, port: int, name: str, qtype: str, *options: str):
        dig = require_tool("dig", "apt-get install dnsutils (scripts/install-deps)")
        argv = [dig, "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", "+norecurse", name, qtype, *options]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=scaled(15))
        self.text = out.stdout + out.stderr
        m = re.search(r"status: (\w+)", self.text)
        self.status = m.group(1) if m else None
        m = re.search(r";; flags: ([a-z ]*);", self.text)
        self.flags = set(m.group(1).split()) if m else set()
        self.sections = {}
        current = None
        for line in self.text.splitlines():
            h = re.match(r";; (\w+) SECTION:", line)
            if h:
                current = h.group(1)
                self.sections[current] = []
            elif current and line.strip() and not line.startswith(";"):
                self.sections[current].append(" ".join(line.split()))
            elif not line.strip():
                current = None
        self.tcp = "(TCP)" in self.text
        self.truncated_retry = "Truncated, retrying in TCP mode" in self.text
        m = re.search(r"; EDNS: version: \d+, flags:[^;]*; udp: (\d+)", self.text)
        self.udp = int(m.group(1)) if m else None
        m = re.search(r"; CLIENT-SUBNET: (\S+)", self.text)
        self.subnet = m.group(1) if m else None

    def answer(self) -> list[str]:
        return self.sections.get("ANSWER", [])

    def values(self) -> list[str]:
        return sorted(line.split()[-1] for line in self.answer())

    def __repr__(self):
        return self.text


@pytest.fixture(scope="module")
def world(mspawn, tmp_path_factory):
    work = tmp_path_factory.mktemp("dns")
    eu = RegionBackend(work, "127.0.0.2", "eu1")
    us = RegionBackend(work, "127.0.0.3", "us1")
    haven = mspawn.haven(dns_config(eu, us), name="dns-haven")
    port = haven.port("dns:main")
    wait_until(lambda: admin(haven, "GET", "/ready").status == 200, scaled(10), what="haven ready")
    yield {"haven": haven, "port": port, "eu": eu, "us": us, "work": work}
    for b in (eu, us):
        b.kill()


def test_every_record_type_is_answered_authoritatively(world):
    port = world["port"]
    cases = {
        ("www.example.com", "A"): ["www.example.com. 60 IN A 192.0.2.1", "www.example.com. 60 IN A 192.0.2.2"],
        ("www.example.com", "AAAA"): ["www.example.com. 300 IN AAAA 2001:db8::1"],
        ("alias.example.com", "CNAME"): ["alias.example.com. 300 IN CNAME www.example.com."],
        ("example.com", "TXT"): ['example.com. 300 IN TXT "v=spf1 -all"'],
        ("_sip._tcp.example.com", "SRV"): ["_sip._tcp.example.com. 300 IN SRV 10 60 5060 sip.example.com."],
        ("example.com", "MX"): ["example.com. 300 IN MX 10 mail.example.com."],
        ("example.com", "NS"): ["example.com. 300 IN NS ns1.example.com."],
        ("example.com", "SOA"): ["example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 7 3600 900 1209600 60"],
    }
    for (name, qtype), expected in cases.items():
        d = Dig(port, name, qtype)
        assert d.status == "NOERROR", d
        assert "aa" in d.flags, d
        assert sorted(d.answer()) == sorted(expected), d
    # The targets' addresses come along, and a CNAME is followed.
    assert "ns1.example.com. 300 IN A 192.0.2.53" in Dig(port, "example.com", "NS").sections.get("ADDITIONAL", [])
    chased = Dig(port, "alias.example.com", "A")
    assert chased.answer()[0] == "alias.example.com. 300 IN CNAME www.example.com.", chased
    assert len(chased.answer()) == 3, chased
    # Names match whatever their case.
    assert Dig(port, "WwW.ExAmPlE.CoM", "A").values() == ["192.0.2.1", "192.0.2.2"]


def test_nxdomain_and_nodata_carry_the_soa(world):
    port = world["port"]
    nx = Dig(port, "nope.example.com", "A")
    assert nx.status == "NXDOMAIN" and "aa" in nx.flags, nx
    assert nx.answer() == [], nx
    assert nx.sections["AUTHORITY"][0].startswith("example.com. 60 IN SOA ns1.example.com."), nx
    nodata = Dig(port, "www.example.com", "MX")
    assert nodata.status == "NOERROR" and nodata.answer() == [], nodata
    assert nodata.sections["AUTHORITY"][0].startswith("example.com. 60 IN SOA"), nodata
    refused = Dig(port, "example.org", "A")
    assert refused.status == "REFUSED" and "aa" not in refused.flags, refused


def test_a_truncated_answer_is_fetched_again_over_tcp(world):
    port = world["port"]
    d = Dig(port, "big.example.com", "TXT", "+noedns")
    assert d.truncated_retry, d
    assert d.tcp and len(d.answer()) == 12, d
    udp_only = Dig(port, "big.example.com", "TXT", "+ignore", "+bufsize=1232")
    assert "tc" in udp_only.flags and udp_only.answer() == [], udp_only
    assert len(Dig(port, "big.example.com", "TXT", "+tcp").answer()) == 12


def test_edns_payload_and_client_subnet(world):
    port = world["port"]
    d = Dig(port, "www.example.com", "A", "+bufsize=4096")
    assert d.udp == 1232, d  # haven's max_udp_payload, whatever the client offers
    assert Dig(port, "www.example.com", "A", "+noedns").udp is None
    eu = Dig(port, "near.example.com", "A", "+subnet=10.1.2.0/24")
    assert eu.values() == ["192.0.2.101"], eu
    assert eu.subnet == "10.1.2.0/24/24", eu  # the scope says the answer depends on the subnet
    assert Dig(port, "near.example.com", "A", "+subnet=10.2.2.0/24").values() == ["192.0.2.102"]


def udp_exchange(port: int, payload: bytes, timeout=0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def test_malformed_packets_get_formerr_or_silence(world):
    port, haven = world["port"], world["haven"]
    query = struct.pack(">HHHHHH", 0x77, 0x0100, 1, 0, 0, 0) + b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    assert udp_exchange(port, b"\x01\x02\x03") is None  # shorter than a header
    assert udp_exchange(port, struct.pack(">HHHHHH", 1, 0x8000, 1, 0, 0, 0) + query[12:]) is None  # a response
    for bad in (query[:20], query[:12] + b"\xc0\x0c" + query[-4:], query[:5] + b"\x02" + query[6:],
                query[:12] + b"\x40" + query[13:]):
        r = udp_exchange(port, bad)
        assert r is not None and r[:2] == bad[:2] and (r[3] & 0x0F) == 1, (bad, r)  # FORMERR
    seed = 12345
    for i in range(300):  # random bytes: never a crash, and any answer is a well-formed header
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        data = bytes((seed >> (j % 24)) & 0xFF for j in range(12 + seed % 60))
        r = udp_exchange(port, data, timeout=0.05)
        assert r is None or (len(r) >= 12 and r[2] & 0x80), (data, r)
    assert haven.alive()
    assert Dig(port, "www.example.com", "A").status == "NOERROR"


def a_query(name: str, qid: int = 0x4242) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + labels + b"\x00\x00\x01\x00\x01"


def skip_name(r: bytes, pos: int) -> int:
    while r[pos] != 0:
        if r[pos] & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + r[pos]
    return pos + 1


def a_records(r: bytes) -> list[str]:
    """The A records of a response's answer section, in the order sent."""
    pos = skip_name(r, 12) + 4
    out = []
    for _ in range(struct.unpack(">H", r[6:8])[0]):
        pos = skip_name(r, pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[pos:pos + 10])
        pos += 10
        if rtype == 1:
            out.append(".".join(str(b) for b in r[pos:pos + 4]))
        pos += rdlen
    return out


def ask_many(port: int, name: str, n: int) -> list[list[str]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(scaled(1))
        out = []
        for i in range(n):
            s.sendto(a_query(name, i), ("127.0.0.1", port))
            out.append(a_records(s.recv(65535)))
        return out


def all_unhealthy(haven, record_set: str) -> bool:
    sets = {s["name"]: s for s in admin(haven, "GET", "/api/dns/record_sets").json()}
    return sets[record_set]["all_unhealthy"]


def test_weighted_and_multivalue_answer_only_healthy_members(world):
    port, haven = world["port"], world["haven"]
    # The members with a dead check are down after their first check (initial: check).
    wait_until(lambda: all_unhealthy(haven, "dead.example.com A"), scaled(5), what="the dead members' first checks")
    d = Dig(port, "w.example.com", "A")
    assert d.status == "NOERROR" and "aa" in d.flags and len(d.answer()) == 1, d
    assert d.answer()[0].startswith("w.example.com. 10 IN A "), d  # health_ttl
    picks = [a[0] for a in ask_many(port, "w.example.com", 400)]
    counts = {v: picks.count(v) for v in set(picks)}
    assert set(counts) == {"192.0.2.41", "192.0.2.42"}, counts  # weight 0 and the unhealthy member: never
    assert 240 <= counts["192.0.2.41"] <= 350, counts  # weight 3 of 4: 300 expected, sd 8.7

    healthy = {f"192.0.2.{50 + i}" for i in range(10)}
    mv = Dig(port, "mv.example.com", "A")
    assert len(mv.answer()) == 8 and set(mv.values()) <= healthy, mv
    answers = ask_many(port, "mv.example.com", 60)
    assert all(len(a) == 8 and len(set(a)) == 8 and set(a) <= healthy for a in answers), answers[:3]
    assert set().union(*answers) == healthy, "a uniform sample of the healthy values"
    assert len({tuple(a) for a in answers}) > 30, "shuffled"


def test_a_set_with_no_healthy_member_answers_all_and_says_so(world):
    port, haven = world["port"], world["haven"]
    wait_until(lambda: all_unhealthy(haven, "dead.example.com A"), scaled(5), what="the dead members' first checks")
    assert Dig(port, "dead.example.com", "A").values() == ["192.0.2.71", "192.0.2.72", "192.0.2.73"]
    events = events_text(haven)
    assert any(t.startswith("dns_all_unhealthy: dead.example.com A: no member is healthy") for t in events), events
    sets = {s["name"]: s for s in admin(haven, "GET", "/api/dns/record_sets").json()}
    assert sets["dead.example.com A"]["all_unhealthy"] is True, sets["dead.example.com A"]
    assert not any(m["healthy"] for m in sets["dead.example.com A"]["members"])
    assert sets["w.example.com A"]["all_unhealthy"] is False
    metrics = admin(haven, "GET", "/metrics").text
    assert 'haven_dns_record_set_all_unhealthy{name="dead.example.com",type="A"} 1' in metrics
    deep = admin(haven, "GET", "/health?deep=1")
    assert "dns:dead.example.com A" in deep.text, deep.text


def events_text(haven) -> list[str]:
    return [f'{e["kind"]}: {e["detail"]}' for e in api_events(haven)]


def test_failover_follows_the_primary_regions_health(world):
    haven, port, eu, us = world["haven"], world["port"], world["eu"], world["us"]
    assert Dig(port, "app.example.com", "A").answer() == [f"app.example.com. 10 IN A {eu.host}"]
    eu.kill()
    killed = time.monotonic()
    wait_until(lambda: Dig(port, "app.example.com", "A").values() == [us.host], scaled(window() + 2.0), interval=0.05,
               what="the answer to move to the secondary region")
    took = time.monotonic() - killed
    assert took <= scaled(window() + 0.5), f"answer moved after {took:.2f}s, window {window():.2f}s"
    assert any("app.example.com A: region eu down -> answers now us" in t for t in events_text(haven)), events_text(haven)

    back = eu.restart()
    world["eu"] = back
    returned = time.monotonic()
    wait_until(lambda: Dig(port, "app.example.com", "A").values() == [eu.host], scaled(5), interval=0.05,
               what="the answer to move back to the primary region")
    # rise 2: one passing check is not enough; the second comes fast_interval later.
    assert time.monotonic() - returned >= 0.15 * 0.9
    assert any("app.example.com A: region eu up -> answers now eu" in t for t in events_text(haven)), events_text(haven)
    regions = {r["name"]: r for r in admin(haven, "GET", "/api/dns/regions").json()}
    assert regions["eu"]["up"] and regions["eu"]["changes"] >= 2, regions


def test_reload_changes_answers_and_refuses_a_bad_zone_whole(world):
    haven, port, eu, us = world["haven"], world["port"], world["eu"], world["us"]
    config = dns_config(eu, us)
    config["dns"]["zones"][0]["records"].append({"name": "new", "type": "A", "value": "192.0.2.77"})
    haven.write_config(config)
    r = admin(haven, "POST", "/api/reload")
    assert r.status == 200, r
    assert Dig(port, "new.example.com", "A").values() == ["192.0.2.77"]

    bad = json.loads(json.dumps(config))
    bad["dns"]["zones"][0]["records"].append({"name": "broken", "type": "A", "value": "300.1.2.3"})
    bad["dns"]["zones"][0]["records"].append({"name": "also", "type": "AAAA", "value": "192.0.2.1"})
    haven.write_config(bad)
    r = admin(haven, "POST", "/api/reload")
    assert r.status == 422, r
    errors = r.json()["errors"]
    assert any(re.search(r"dns-haven\.yaml:\d+:\d+: .*expected an IPv4 address", e) for e in errors), errors
    assert any("expected an IPv6 address" in e for e in errors), errors
    assert Dig(port, "new.example.com", "A").values() == ["192.0.2.77"], "the good zone still serves"
    assert Dig(port, "broken.example.com", "A").status == "NXDOMAIN"
    haven.write_config(config)


def test_admin_api_and_metrics(world):
    haven = world["haven"]
    j = admin(haven, "GET", "/api/dns").json()
    assert [z["name"] for z in j["zones"]] == ["example.com"]
    sets = {s["name"]: s for s in j["record_sets"]}
    assert sets["app.example.com A"]["routing"] == "failover"
    metrics = admin(haven, "GET", "/metrics").text
    assert re.search(r'haven_dns_queries_total\{transport="udp"\} [1-9]', metrics), metrics[:2000]
    assert re.search(r'haven_region_up\{region="eu"\} 1', metrics)
    assert 'haven_dns_responses_total{rcode="NXDOMAIN"}' in metrics


def test_response_rate_limiting_per_subnet(mspawn, world):
    eu, us = world["eu"], world["us"]
    config = dns_config(eu, us, rrl={"responses_per_second": 5, "slip": 2})
    config["regions"] = []
    config["dns"]["zones"][0]["records"] = zone_records()
    haven = mspawn.haven(config, name="rrl-haven")
    port = haven.port("dns:main")
    query = struct.pack(">HHHHHH", 9, 0, 1, 0, 0, 0) + b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        for _ in range(40):
            s.sendto(query, ("127.0.0.1", port))
        try:
            while True:
                replies.append(s.recv(65535))
        except socket.timeout:
            pass
    full = [r for r in replies if not r[2] & 0x02]
    slipped = [r for r in replies if r[2] & 0x02]
    assert 5 <= len(full) <= 7, (len(full), len(slipped))  # the burst, and a refill while sending
    assert 10 <= len(slipped) <= 20, (len(full), len(slipped))  # every second limited one, truncated
    assert all(struct.unpack(">H", r[6:8])[0] == 0 for r in slipped), "a slipped answer carries no records"
    # A real client retries over TCP, which is never limited.
    assert Dig(port, "www.example.com", "A", "+tcp").values() == ["192.0.2.1", "192.0.2.2"]
    metrics = admin(haven, "GET", "/metrics").text
    assert re.search(r'haven_dns_rrl_total\{action="dropped"\} [1-9]', metrics)


def test_a_pools_servers_follow_their_regions_health(spawn, tmp_path):
    """servers[].region: "serve from eu, fail over to us" for the proxy too. The eu region's own
    check (its endpoint, another process) fails while the eu server is fine: within the check window
    the pool's traffic moves to the us tier, with no failed request under 50 clients, and back."""
    from closed_loop import ClosedLoop
    eu_health = RegionBackend(tmp_path, "127.0.0.2", "eu-health")
    eu1, us1 = spawn.backend("eu1"), spawn.backend("us1")
    cfg = {"threads": 1, "admin": {"listen": "127.0.0.1:0"},
           "listeners": [{"name": "web", "listen": "127.0.0.1:0", "pool": "web"}],
           "pools": [{"name": "web", "retries": 2, "servers": [
               {"name": "eu1", "address": eu1.address, "region": "eu"},
               {"name": "us1", "address": us1.address, "region": "us", "priority": 1}]}],
           "regions": [{"name": "eu", "endpoints": [eu_health.address], "health_check": CHECK},
                       {"name": "us", "endpoints": [us1.address], "health_check": CHECK}]}
    haven = spawn.haven(cfg)
    try:
        assert {haven.get("/").header("X-Backend") for _ in range(6)} == {"eu1"}
        load = ClosedLoop(haven.port(), 50, duration=scaled(6.0))
        try:
            wait_until(lambda: any(o.backend == "eu1" for o in list(load.outcomes)), scaled(5), what="eu1 serving")
            eu_health.kill()
            killed = time.monotonic()
            wait_until(lambda: haven.get("/").header("X-Backend") == "us1", scaled(window() + 2.0), interval=0.05,
                       what="the pool to move to the us tier")
            assert time.monotonic() - killed <= scaled(window() + 0.5)
            eu_health = eu_health.restart()
            wait_until(lambda: haven.get("/").header("X-Backend") == "eu1", scaled(5), interval=0.05,
                       what="the pool back on eu")
        finally:
            load.stop()
            load.finish()
        assert not load.failures(), (load.by_status(), load.failures()[:5])
        assert {o.backend for o in load.outcomes} == {"eu1", "us1"}
        seen = {(e["kind"], e["pool"], e["server"]) for e in api_events(haven)}
        assert ("region_server_down", "web", "eu1") in seen and ("region_server_up", "web", "eu1") in seen, seen
    finally:
        eu_health.kill()
