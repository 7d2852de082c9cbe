#include "policy/jwt/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <memory>
#include <vector>

namespace haven::policy::jwt {
namespace {

const EVP_MD* digest_of(Alg a) {
    switch (a) {
    case Alg::HS256:
    case Alg::RS256:
    case Alg::PS256:
    case Alg::ES256: return EVP_sha256();
    case Alg::HS384:
    case Alg::RS384:
    case Alg::PS384:
    case Alg::ES384: return EVP_sha384();
    case Alg::HS512:
    case Alg::RS512:
    case Alg::PS512: return EVP_sha512();
    }
    return nullptr;
}

bool is_pss(Alg a) { return a == Alg::PS256 || a == Alg::PS384 || a == Alg::PS512; }

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

bool verify_hmac(Alg alg, const Key& key, std::string_view input, std::string_view sig) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(digest_of(alg), key.secret.data(), static_cast<int>(key.secret.size()), bytes(input), input.size(), mac,
              &len)) {
        return false;
    }
    // Rules: the tag is the whole HMAC output (no truncated tags), compared in constant time.
    return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
}

// r||s, each as long as the curve's order (RFC 7518 §3.4), into the DER SEQUENCE EVP expects.
bool ecdsa_der(const Key& key, std::string_view sig, std::vector<unsigned char>& der) {
    const std::size_t half = static_cast<std::size_t>(key.curve_bits) / 8;
    if (half == 0 || sig.size() != 2 * half) return false;
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(ECDSA_SIG_new(), ECDSA_SIG_free);
    BIGNUM* r = BN_bin2bn(bytes(sig), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(bytes(sig) + half, static_cast<int>(half), nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    const int n = i2d_ECDSA_SIG(es.get(), nullptr);
    if (n <= 0) return false;
    der.resize(static_cast<std::size_t>(n));
    unsigned char* p = der.data();
    return i2d_ECDSA_SIG(es.get(), &p) == n;
}

bool verify_pkey(Alg alg, const Key& key, std::string_view input, std::string_view sig) {
    std::vector<unsigned char> der;
    const unsigned char* sig_bytes = bytes(sig);
    std::size_t sig_len = sig.size();
    if (key.family == KeyFamily::Ec) {
        if (!ecdsa_der(key, sig, der)) return false;
        sig_bytes = der.data();
        sig_len = der.size();
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr; // owned by ctx
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, digest_of(alg), nullptr, key.pkey.get()) != 1) return false;
    if (is_pss(alg) && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest_of(alg)) != 1)) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), sig_bytes, sig_len, bytes(input), input.size()) == 1;
}

} // namespace

bool verify_signature(Alg alg, const Key& key, std::string_view signing_input, std::string_view signature) {
    // Rules: the key must be of the algorithm's own family (and curve, and length) — checked
    // here again, whoever chose the key — and a signature is never empty.
    if (!key.usable_with(alg) || signature.empty()) return false;
    if (key.family == KeyFamily::Hmac) return verify_hmac(alg, key, signing_input, signature);
    if (!key.pkey) return false;
    return verify_pkey(alg, key, signing_input, signature);
}

} // namespace haven::policy::jwt
