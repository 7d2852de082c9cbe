"""JWT authentication through the real binary (docs/jwt.md), with tokens minted by a separate
library (Debian's python3-jwt, keys from python3-cryptography): every algorithm family passes and
forwards its claims as request headers (a spoofed copy from the client removed), every way a token
can be wrong answers 401 with the RFC 6750 challenge, a missing token is refused on a required
route and passes on an optional one, the token is taken from a cookie or a header, a JWKS picks
its key by kid and a reload with a new JWKS takes effect, a claim keys a rate limit, and the
access log and the metrics say what happened.

One haven (module scope) serves most tests; its routes are chosen by Host. The RS->HS key
confusion token is built by hand: python3-jwt refuses to use a PEM key as an HMAC secret, which is
the very mistake haven must not make either."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import signal
import subprocess
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import HAVEN_BIN, echo_headers, header_values, http_request, make_config, scaled, wait_until
from prom import scrape, total

ISS = "https://issuer.example"
AUD = "api"
CHALLENGE = 'Bearer error="invalid_token", error_description="{}"'


# --- keys and tokens -------------------------------------------------------------------------------

def _pub_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _jwk(key, kid: str) -> dict:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


class Keys:
    """Private keys (kept here only) and their public halves written to files for haven."""

    def __init__(self, directory):
        self.dir = directory
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not configured
        self.jwks_k1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_k2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.secret = secrets.token_bytes(48)
        self.rsa_pem_bytes = _pub_pem(self.rsa)
        self.rsa_pem = self._write("rsa.pem", self.rsa_pem_bytes)
        self.ec_pem = self._write("ec.pem", _pub_pem(self.ec))
        self.secret_file = self._write("hs.secret", base64.b64encode(self.secret))
        self.secret_text = base64.b64encode(self.secret)  # the file's bytes are the secret
        self.jwks = self.dir / "jwks.json"
        self.write_jwks([(self.jwks_k1, "k1"), (self.jwks_k2, "k2")])

    def _write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def write_jwks(self, keys):
        self.jwks.write_text(json.dumps({"keys": [_jwk(k, kid) for k, kid in keys]}))


def claims(**over) -> dict:
    now = int(time.time())
    c = {"iss": ISS, "aud": AUD, "sub": "alice", "email": "alice@example.com", "iat": now - 10, "exp": now + 600}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def mint(keys: Keys, alg: str = "RS256", key=None, kid: str | None = None, **over) -> str:
    if key is None:
        key = {"HS": keys.secret_text, "RS": keys.rsa, "PS": keys.rsa, "ES": keys.ec}[alg[:2]]
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims(**over), key, algorithm=alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_confusion_token(keys: Keys) -> str:
    """HS256 with the RSA public key's PEM text as the HMAC secret (RS->HS confusion)."""
    signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
        _b64(json.dumps(claims()).encode())
    mac = hmac.new(keys.rsa_pem_bytes, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(mac)


# --- haven -----------------------------------------------------------------------------------------

def jwt_policy(keys: Keys, **over) -> dict:
    p = {"issuer": ISS, "audiences": [AUD], "algorithms": ["HS256", "RS256", "PS256", "ES256"],
         "keys": [{"file": keys.rsa_pem}, {"file": keys.ec_pem}, {"secret_file": keys.secret_file}],
         "leeway": "5s", "forward_claims": {"sub": "X-User", "email": "X-User-Email"}}
    p.update(over)
    return p


def route(host: str, policies: dict) -> dict:
    return {"match": {"host": host}, "pool": "p", "policies": policies}


def config(keys: Keys, backend, access_log) -> dict:
    jwks = {"issuer": ISS, "audiences": [AUD], "algorithms": ["RS256"], "jwks_file": str(keys.jwks),
            "forward_claims": {"sub": "X-User"}}
    routes = [
        route("bearer.test", {"jwt": jwt_policy(keys)}),
        route("realm.test", {"jwt": jwt_policy(keys, realm="api")}),
        route("optional.test", {"jwt": jwt_policy(keys, required=False)}),
        route("cookie.test", {"jwt": jwt_policy(keys, **{"from": "cookie:session"})}),
        route("header.test", {"jwt": jwt_policy(keys, **{"from": "header:X-Token"})}),
        route("jwks.test", {"jwt": jwks}),
        route("limited.test", {"jwt": jwt_policy(keys),
                               "rate_limit": {"limits": ["2 per minute"], "key": "claim:sub"}}),
        {"pool": "p"},
    ]
    cfg = make_config(pools={"p": [backend.address]}, routes=routes, access_log=str(access_log))
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    return cfg


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("jwt-keys"))


@pytest.fixture(scope="module")
def haven(mspawn, keys, tmp_path_factory):
    b = mspawn.backend("b1")
    log = tmp_path_factory.mktemp("jwt-log") / "access.log"
    return mspawn.haven(config(keys, b, log))


def get(haven, host: str, token: str | None = None, headers: dict | None = None, conn=None):
    h = {"Host": host, **(headers or {})}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if conn is not None:  # one connection: one worker, so one token cache
        return http_request(0, "GET", "/echo", headers=h, conn=conn)
    return haven.request("GET", "/echo", headers=h)


def passed(resp) -> list:
    assert resp.status == 200, (resp.status, resp.headers, resp.text)
    return echo_headers(resp)


def refused(resp, description: str | None, realm: str | None = None):
    assert resp.status == 401, (resp.status, resp.text)
    prefix = f'realm="{realm}", ' if realm else ""
    if description is None:
        expected = f'Bearer realm="{realm}"' if realm else "Bearer"
    else:
        expected = "Bearer " + prefix + CHALLENGE.format(description)[len("Bearer "):]
    assert resp.header("WWW-Authenticate") == expected, resp.headers


# --- tests -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["HS256", "RS256", "PS256", "ES256"])
def test_a_valid_token_passes_and_its_claims_are_forwarded(haven, keys, alg):
    seen = passed(get(haven, "bearer.test", mint(keys, alg, sub=f"user-{alg}"),
                      headers={"X-User": "spoofed", "x-user-email": "spoofed@evil"}))
    assert header_values(seen, "X-User") == [f"user-{alg}"], seen
    assert header_values(seen, "X-User-Email") == ["alice@example.com"], seen
    assert header_values(seen, "Authorization"), "the token itself goes on to the server"


@pytest.mark.parametrize("token_of, description", [
    (lambda k: mint(k, exp=int(time.time()) - 60), "token expired"),
    (lambda k: mint(k, nbf=int(time.time()) + 120), "token not yet valid"),
    (lambda k: mint(k, iat=int(time.time()) + 120), "token not yet valid"),
    (lambda k: mint(k, iss="https://evil.example"), "issuer not accepted"),
    (lambda k: mint(k, iss=None), "issuer not accepted"),
    (lambda k: mint(k, aud="other"), "audience not accepted"),
    (lambda k: mint(k, key=k.other_rsa), "invalid signature"),
    (lambda k: mint(k).rsplit(".", 1)[0] + "." + mint(k, sub="mallory").rsplit(".", 1)[1], "invalid signature"),
    (lambda k: jwt.encode(claims(), None, algorithm="none"), "algorithm not allowed"),
    (lambda k: mint(k, "RS384"), "algorithm not allowed"),
    (key_confusion_token, "invalid signature"),
    (lambda k: mint(k, exp=None), "malformed token"),
    (lambda k: mint(k)[:-1], "malformed token"),  # 341 base64url characters cannot be whole bytes
    (lambda k: mint(k)[:100], "malformed token"),
    (lambda k: mint(k).rsplit(".", 1)[0], "malformed token"),
    (lambda k: "not!base64." + mint(k).split(".", 1)[1], "malformed token"),
    (lambda k: mint(k, pad="x" * 9000), "malformed token"),
], ids=["expired", "nbf-future", "iat-future", "wrong-issuer", "no-issuer", "wrong-audience", "other-key",
        "tampered", "alg-none", "alg-not-listed", "rs-hs-confusion", "no-exp", "truncated-signature", "truncated",
        "two-parts", "not-base64", "oversized"])
def test_a_bad_token_is_refused_with_the_challenge(haven, keys, token_of, description):
    refused(get(haven, "bearer.test", token_of(keys)), description)


def test_the_realm_is_in_the_challenge(haven, keys):
    refused(get(haven, "realm.test"), None, realm="api")
    refused(get(haven, "realm.test", mint(keys, exp=int(time.time()) - 60)), "token expired", realm="api")


def test_a_missing_or_ambiguous_token(haven, keys):
    refused(get(haven, "bearer.test"), None)
    refused(get(haven, "bearer.test", headers={"Authorization": "Basic dXNlcjpwYXNz"}), None)
    # Two Authorization fields: the server behind could read the other one.
    with haven.raw() as c:
        c.send(b"GET /echo HTTP/1.1\r\nHost: bearer.test\r\nAuthorization: Bearer " + mint(keys).encode() +
               b"\r\nAuthorization: Bearer x.y.z\r\n\r\n")
        r = c.read_response()
    refused(r, "malformed token")


def test_an_optional_route_passes_without_a_token_but_not_with_a_bad_one(haven, keys):
    seen = passed(get(haven, "optional.test", headers={"X-User": "spoofed"}))
    assert header_values(seen, "X-User") == [], "no claim headers, and the client's copy removed"
    assert header_values(passed(get(haven, "optional.test", mint(keys))), "X-User") == ["alice"]
    refused(get(haven, "optional.test", mint(keys, aud="other")), "audience not accepted")


def test_the_token_from_a_cookie_or_a_header(haven, keys):
    token = mint(keys, "ES256", sub="carol")
    seen = passed(get(haven, "cookie.test", headers={"Cookie": f"theme=dark; session={token}"}))
    assert header_values(seen, "X-User") == ["carol"]
    refused(get(haven, "cookie.test", token), None)  # a bearer token is not where this route looks
    seen = passed(get(haven, "header.test", headers={"X-Token": token}))
    assert header_values(seen, "X-User") == ["carol"]
    refused(get(haven, "header.test", headers={"X-Token": mint(keys, exp=int(time.time()) - 60)}), "token expired")


def test_a_jwks_key_is_chosen_by_kid(haven, keys):
    seen = passed(get(haven, "jwks.test", mint(keys, key=keys.jwks_k2, kid="k2", sub="dave")))
    assert header_values(seen, "X-User") == ["dave"]
    passed(get(haven, "jwks.test", mint(keys, key=keys.jwks_k1, kid="k1")))
    passed(get(haven, "jwks.test", mint(keys, key=keys.jwks_k1)))  # no kid: every key is tried
    refused(get(haven, "jwks.test", mint(keys, key=keys.jwks_k1, kid="k2")), "invalid signature")
    refused(get(haven, "jwks.test", mint(keys, key=keys.jwks_k1, kid="k9")), "unknown signing key")
    refused(get(haven, "jwks.test", mint(keys, "HS256")), "algorithm not allowed")


def test_a_claim_keys_a_rate_limit(haven, keys):
    alice, bob = mint(keys, sub="alice"), mint(keys, sub="bob")
    assert [get(haven, "limited.test", alice).status for _ in range(3)] == [200, 200, 429]
    assert [get(haven, "limited.test", bob).status for _ in range(2)] == [200, 200], "each subject its own quota"
    refused(get(haven, "limited.test"), None)  # refused before it is counted


def test_access_log_flag_and_metrics(haven, keys):
    token = mint(keys, sub="erin")
    before = scrape(haven.admin_port())
    conn = haven.connection()
    for _ in range(3):
        passed(get(haven, "bearer.test", token, conn=conn))
    refused(get(haven, "bearer.test", mint(keys, aud="x"), conn=conn), "audience not accepted")
    refused(get(haven, "bearer.test", conn=conn), None)
    conn.close()
    m = scrape(haven.admin_port())

    def delta(name, **labels):
        return total(m, name, listener="web", route="0", **labels) - total(before, name, listener="web", route="0",
                                                                           **labels)
    assert delta("haven_jwt_results_total", result="valid") == 3
    assert delta("haven_jwt_results_total", result="bad_audience") == 1
    assert delta("haven_jwt_results_total", result="missing") == 1
    assert delta("haven_jwt_cache_lookups_total", result="hit") == 2, "the same token is verified once"
    assert delta("haven_jwt_cache_lookups_total", result="miss") == 2
    assert total(m, "haven_jwt_cached_tokens", listener="web", route="0") >= 1

    def rejected():
        recs = [r for r in haven.access_log() if r.get("flag") == "jwt rejected"]
        return recs if len(recs) >= 2 else None
    recs = wait_until(rejected, scaled(5), what="jwt rejected access log records")
    assert all(r["status"] == 401 for r in recs), recs


def test_a_reload_with_a_new_jwks_takes_effect(spawn, tmp_path):
    keys = Keys(tmp_path)
    b = spawn.backend("b1")
    h = spawn.haven(config(keys, b, tmp_path / "access.log"))
    old = mint(keys, key=keys.jwks_k1, kid="k1")
    passed(get(h, "jwks.test", old))
    k3 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys.write_jwks([(k3, "k3")])  # same config text, new file content
    new = mint(keys, key=k3, kid="k3", sub="frank")
    ctl = subprocess.run([HAVEN_BIN, "ctl", "-a", f"127.0.0.1:{h.admin_port()}", "reload"], capture_output=True,
                         text=True, timeout=scaled(20))
    assert ctl.returncode == 0, ctl.stderr
    assert header_values(passed(get(h, "jwks.test", new)), "X-User") == ["frank"]
    refused(get(h, "jwks.test", old), "unknown signing key")  # the cached verdict went with the old keys
    # A JWKS that does not parse refuses the reload (SIGHUP) and the keys in force stay.
    keys.jwks.write_text('{"keys": [')
    h.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" in h.log() and "jwks_file" in h.log(), scaled(10),
               what="the refused reload in haven's log")
    passed(get(h, "jwks.test", new))
