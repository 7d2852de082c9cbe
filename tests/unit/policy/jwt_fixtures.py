#!/usr/bin/python3
"""Writes jwt_fixtures.hpp: keys and tokens for the JWT unit tests and bench/jwt_bench.cpp.

Tokens are minted by a real, separate library (Debian's python3-jwt, with python3-cryptography
for the keys), never by haven. The unit tests run on a fake clock (kNow), so these fixed tokens
stay valid forever. Private keys are used here and thrown away: only public keys are written.

    /usr/bin/python3 tests/unit/policy/jwt_fixtures.py   # rewrites tests/unit/policy/jwt_fixtures.hpp
"""

import base64
import datetime
import hmac
import hashlib
import json
import pathlib
import secrets

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOW = 1_700_000_000
ISS = "https://issuer.example"
AUD = "api"
OUT = pathlib.Path(__file__).with_name("jwt_fixtures.hpp")


def pub_pem(key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_of(key, kid: str, **extra) -> dict:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()) if isinstance(key, rsa.RSAPrivateKey)
                         else jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": kid, **extra}


def certificate(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.example")])
    start = datetime.datetime(2023, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def claims(**over) -> dict:
    c = {"iss": ISS, "aud": AUD, "sub": "alice", "email": "alice@example.com", "roles": ["admin", "dev"],
         "n": 42, "iat": NOW - 60, "exp": NOW + 3600}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


class RawHmac(jwt.algorithms.HMACAlgorithm):
    """HMAC that takes any bytes as the secret: PyJWT itself refuses a PEM as an HMAC secret, which
    is exactly the key-confusion token an attacker would mint."""

    def prepare_key(self, key):
        return key if isinstance(key, bytes) else key.encode()


def confusion_token(rsa_public_pem: str) -> str:
    jws = jwt.PyJWS()
    jws.unregister_algorithm("HS256")
    jws.register_algorithm("HS256", RawHmac(RawHmac.SHA256))
    payload = json.dumps(claims(), separators=(",", ":")).encode()
    return jws.encode(payload, rsa_public_pem.encode(), algorithm="HS256")


def main():
    secret = secrets.token_hex(32)  # 64 bytes of text
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    short_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec256 = ec.generate_private_key(ec.SECP256R1())
    ec384 = ec.generate_private_key(ec.SECP384R1())
    ec521 = ec.generate_private_key(ec.SECP521R1())
    rsa_pub = pub_pem(rsa_key)

    jwks = {"keys": [jwk_of(rsa_key, "rsa-1", use="sig"), jwk_of(ec256, "ec-1"), jwk_of(ec384, "ec-384"),
                     {"kty": "OKP", "crv": "Ed25519", "x": b64(b"\x01" * 32), "kid": "ed"},
                     {**jwk_of(other_rsa, "enc-1"), "use": "enc"}]}

    def enc(alg, key, kid=None, **over):
        headers = {"kid": kid} if kid else None
        return jwt.encode(claims(**over), key, algorithm=alg, headers=headers)

    tokens = {
        "kHs256": enc("HS256", secret),
        "kHs384": enc("HS384", secret),
        "kHs512": enc("HS512", secret),
        "kRs256": enc("RS256", rsa_key, "rsa-1"),
        "kRs384": enc("RS384", rsa_key, "rsa-1"),
        "kRs512": enc("RS512", rsa_key, "rsa-1"),
        "kPs256": enc("PS256", rsa_key, "rsa-1"),
        "kPs384": enc("PS384", rsa_key, "rsa-1"),
        "kPs512": enc("PS512", rsa_key, "rsa-1"),
        "kEs256": enc("ES256", ec256, "ec-1"),
        "kEs384": enc("ES384", ec384, "ec-384"),
        "kRs256NoKid": enc("RS256", rsa_key),
        "kRs256Alice2": enc("RS256", rsa_key, "rsa-1", sub="alice2", jti="2"),
        "kRs256Bob": enc("RS256", rsa_key, "rsa-1", sub="bob", email="bob@example.com"),
        "kExpired": enc("RS256", rsa_key, "rsa-1", exp=NOW - 100),
        "kExpiredWithinLeeway": enc("RS256", rsa_key, "rsa-1", exp=NOW - 10),
        "kNotBeforeFuture": enc("RS256", rsa_key, "rsa-1", nbf=NOW + 600),
        "kIssuedInFuture": enc("RS256", rsa_key, "rsa-1", iat=NOW + 600),
        "kFractionalTimes": enc("RS256", rsa_key, "rsa-1", exp=NOW + 0.5, nbf=NOW - 0.5),
        "kWrongAudience": enc("RS256", rsa_key, "rsa-1", aud="other"),
        "kAudienceList": enc("RS256", rsa_key, "rsa-1", aud=["other", AUD]),
        "kNoAudience": enc("RS256", rsa_key, "rsa-1", aud=None),
        "kWrongIssuer": enc("RS256", rsa_key, "rsa-1", iss="https://evil.example"),
        "kNoIssuer": enc("RS256", rsa_key, "rsa-1", iss=None),
        "kNoExpiry": enc("RS256", rsa_key, "rsa-1", exp=None),
        "kExpNotNumber": enc("RS256", rsa_key, "rsa-1", exp="tomorrow"),
        "kOtherKey": enc("RS256", other_rsa, "rsa-1"),
        "kUnknownKid": enc("RS256", rsa_key, "nope"),
        "kAlgNone": jwt.encode(claims(), None, algorithm=None),
        "kConfusion": confusion_token(rsa_pub),
        "kCrit": jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-1", "crit": ["exp"]}),
        "kClaimNewline": enc("RS256", rsa_key, "rsa-1", sub="alice\r\nX-Admin: yes"),
        "kEs256AsRs256Header": "",  # filled below
    }
    # An ES256 signature under an RS256 header: the right key family must be chosen by alg, and
    # an EC signature is not an RSA one.
    h, p, s = tokens["kEs256"].split(".")
    rs_header = b64(json.dumps({"alg": "RS256", "kid": "ec-1", "typ": "JWT"}, separators=(",", ":")).encode())
    tokens["kEs256AsRs256Header"] = f"{rs_header}.{p}.{s}"
    for name, tok in tokens.items():
        assert tok.count(".") == 2, name
    # The python side agrees with the expectations it sets (a sanity check of the fixtures).
    assert jwt.decode(tokens["kHs256"], secret, algorithms=["HS256"], audience=AUD,
                      options={"verify_exp": False, "verify_iat": False})["sub"] == "alice"
    assert hmac.compare_digest(tokens["kConfusion"].split(".")[2], b64(hmac.new(
        rsa_pub.encode(), ".".join(tokens["kConfusion"].split(".")[:2]).encode(), hashlib.sha256).digest()))

    strings = {
        "kSecret": secret,
        "kRsaPublicPem": rsa_pub,
        "kRsaPkcs1Pem": pub_pem(rsa_key, serialization.PublicFormat.PKCS1),
        "kRsaCertificatePem": certificate(rsa_key),
        "kOtherRsaPublicPem": pub_pem(other_rsa),
        "kShortRsaPublicPem": pub_pem(short_rsa),
        "kEc256PublicPem": pub_pem(ec256),
        "kEc384PublicPem": pub_pem(ec384),
        "kEc521PublicPem": pub_pem(ec521),
        "kJwks": json.dumps(jwks, indent=1),
        **tokens,
    }
    lines = ["// Generated by jwt_fixtures.py (python3-jwt " + jwt.__version__ + "): do not edit; run the script again.",
             "// Keys and tokens for the JWT unit tests and bench/jwt_bench.cpp. Tokens are valid at kNow",
             f"// (exp = kNow + 3600, iss \"{ISS}\", aud \"{AUD}\", sub \"alice\") unless their name says otherwise.",
             "#pragma once", "", "#include <cstdint>", "#include <string_view>", "",
             "namespace haven::policy::jwt::fixtures {", "",
             f"inline constexpr std::int64_t kNow = {NOW};",
             f"inline constexpr std::string_view kIssuer = \"{ISS}\";",
             f"inline constexpr std::string_view kAudience = \"{AUD}\";", ""]
    for name, value in strings.items():
        lines.append(f'inline constexpr std::string_view {name} = R"FIXTURE({value})FIXTURE";')
    lines += ["", "} // namespace haven::policy::jwt::fixtures", ""]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT} ({len(tokens)} tokens)")


if __name__ == "__main__":
    main()
