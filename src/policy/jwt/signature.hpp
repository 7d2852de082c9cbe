// JWS signature verification (RFC 7515 §5.2, algorithms of RFC 7518 §3) with OpenSSL's EVP
// interface; no cryptography of our own. HMAC tags are compared in constant time
// (CRYPTO_memcmp). ECDSA signatures arrive as the raw r||s of JWS and are converted to DER for
// EVP. RSASSA-PSS uses MGF1 with the same hash and a salt as long as the hash (RFC 7518 §3.5).
#pragma once

#include "policy/jwt/jwk.hpp"

#include <string_view>

namespace haven::policy::jwt {

// Whether `signature` is a valid signature of `signing_input` ("<header>.<payload>" as received)
// by `key` under `alg`. False — never an exception — when the key cannot be used with the
// algorithm, the signature has the wrong length or does not verify.
bool verify_signature(Alg alg, const Key& key, std::string_view signing_input, std::string_view signature);

} // namespace haven::policy::jwt
