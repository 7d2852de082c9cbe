// src/policy/jwt: stateless JWT authentication for a route (docs/jwt.md). A token is verified
// once — its signature with OpenSSL (signature.cpp), its issuer and audience (jwt_verifier.cpp) —
// and the result is kept in a per-worker cache until the token expires (token_cache.cpp), so a
// token seen again costs a hash and a comparison; authenticator.cpp is what the policy stage
// calls per request.
//
// This file: the algorithms and the verification keys. A key belongs to one family (HMAC, RSA,
// EC) and is only ever used with an algorithm of that family: an RSA public key never verifies an
// HS256 token (the RS->HS "key confusion" attack, where the public key's PEM text is used as an
// HMAC secret), an HMAC secret never an RS256 one, and `none` is not an algorithm here at all.
// Keys are read from PEM files (public keys and certificates; a private key is refused, haven
// never needs one), from HMAC secret files, and from JWKS documents (RFC 7517).
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace haven::policy::jwt {

// The JWS algorithms haven verifies (RFC 7518 §3.1). `none` is deliberately absent.
enum class Alg : std::uint8_t { HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 };
inline constexpr std::size_t kAlgs = 11;

enum class KeyFamily : std::uint8_t { Hmac, Rsa, Ec };

std::optional<Alg> parse_alg(std::string_view name); // exact, case-sensitive ("RS256")
std::string_view alg_name(Alg a);
KeyFamily family_of(Alg a);
std::string_view family_name(KeyFamily f); // "HMAC", "RSA", "EC"
// ES256 needs P-256 (256), ES384 P-384 (384); 0 for the other algorithms.
int curve_bits_of(Alg a);
// RFC 7518 §3.2: an HMAC key at least as long as the hash output.
std::size_t min_secret_bytes(Alg a);

inline constexpr std::size_t kMinRsaBits = 2048; // RFC 7518 §3.3 and §3.5
inline constexpr std::size_t kMinSecretBytes = 32; // HS256's minimum, for any HMAC key

using PkeyPtr = std::shared_ptr<EVP_PKEY>;

// One verification key. Immutable once built; shared by every worker (OpenSSL allows concurrent
// verifications with one EVP_PKEY, each with its own context).
struct Key {
    std::string kid;              // empty: tried for any token; set: only for tokens with this kid or none
    std::optional<Alg> alg;       // set: the key verifies only this algorithm
    KeyFamily family = KeyFamily::Hmac;
    int curve_bits = 0;           // EC: 256 (P-256) or 384 (P-384)
    std::size_t bits = 0;         // RSA modulus bits; HMAC secret bits
    std::string secret;           // HMAC
    PkeyPtr pkey;                 // RSA, EC

    // Whether this key may verify a token signed with `a`: same family, the same curve for EC,
    // long enough for HMAC, and the key's own `alg` when it has one.
    bool usable_with(Alg a) const;
};

// A public key in PEM: "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC KEY" (PKCS#1) or a
// "CERTIFICATE" (its key). Rules: exactly one PEM block; RSA of at least 2048 bits or EC on P-256
// or P-384; a private key is refused (with how to extract the public key). nullopt with `error`.
std::optional<Key> key_from_pem(std::string_view pem, std::string& error);

// An HMAC secret: the file's bytes without trailing whitespace. Rules: at least 32 bytes; not
// PEM text (a public key used as an HMAC secret is exactly the key-confusion attack).
std::optional<Key> key_from_secret(std::string_view bytes, std::string& error);

// A JWKS document ({"keys": [...]}): RSA (n, e), EC (crv P-256/P-384, x, y) and oct (k) keys.
// Keys meant for encryption (`use: enc`) and key types haven does not verify (OKP, ...) are
// skipped, and counted in `skipped`; private keys (with `d`) are refused. Rules: valid JSON, a
// "keys" list, every member base64url, at least one usable key. Empty result with `error`.
std::vector<Key> keys_from_jwks(std::string_view json, std::string& error, std::size_t* skipped = nullptr);

} // namespace haven::policy::jwt
