#include "policy/jwt/jwk.hpp"

#include "policy/jwt/base64url.hpp"

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>

namespace haven::policy::jwt {
namespace {

constexpr std::array<std::string_view, kAlgs> kAlgNames = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                                                           "PS256", "PS384", "PS512", "ES256", "ES384"};

PkeyPtr adopt(EVP_PKEY* k) { return PkeyPtr(k, EVP_PKEY_free); }

std::optional<Key> secret_key(std::string_view bytes, std::string& error);

// The PEM labels in `pem`, in order ("PUBLIC KEY", "CERTIFICATE", ...).
std::vector<std::string_view> pem_labels(std::string_view pem) {
    static constexpr std::string_view kBegin = "-----BEGIN ";
    std::vector<std::string_view> out;
    for (std::size_t at = pem.find(kBegin); at != std::string_view::npos; at = pem.find(kBegin, at + 1)) {
        const std::size_t from = at + kBegin.size();
        const std::size_t end = pem.find("-----", from);
        if (end == std::string_view::npos) break;
        out.push_back(pem.substr(from, end - from));
    }
    return out;
}

// Rules: RSA of at least 2048 bits, or EC on P-256 or P-384; nothing else verifies a JWS here.
std::optional<Key> describe(PkeyPtr pkey, std::string& error) {
    Key k;
    const int type = EVP_PKEY_get_base_id(pkey.get());
    if (type == EVP_PKEY_RSA) {
        k.family = KeyFamily::Rsa;
        k.bits = static_cast<std::size_t>(EVP_PKEY_get_bits(pkey.get()));
        if (k.bits < kMinRsaBits) {
            error = "an RSA key of " + std::to_string(k.bits) + " bits is too short (at least 2048)";
            return std::nullopt;
        }
    } else if (type == EVP_PKEY_EC) {
        k.family = KeyFamily::Ec;
        char group[64] = {};
        std::size_t len = 0;
        EVP_PKEY_get_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len);
        const std::string_view g(group, len);
        if (g == "prime256v1" || g == "P-256") {
            k.curve_bits = 256;
        } else if (g == "secp384r1" || g == "P-384") {
            k.curve_bits = 384;
        } else {
            error = "an EC key on curve \"" + std::string(g) + "\" (ES256 needs P-256, ES384 needs P-384)";
            return std::nullopt;
        }
        k.bits = static_cast<std::size_t>(k.curve_bits);
    } else {
        error = "not an RSA or EC public key (JWS verification here uses RSA, EC or HMAC keys)";
        return std::nullopt;
    }
    k.pkey = std::move(pkey);
    return k;
}

PkeyPtr read_pem(std::string_view pem, std::string_view label) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    if (!bio) return nullptr;
    if (label == "CERTIFICATE") {
        std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                          X509_free);
        return cert ? adopt(X509_get_pubkey(cert.get())) : nullptr;
    }
    if (label == "RSA PUBLIC KEY") {
        // PKCS#1 RSAPublicKey: the generic reader for the DER, then the RSA decoder.
        EVP_PKEY* k = nullptr;
        char* name = nullptr;
        char* header = nullptr;
        unsigned char* der = nullptr;
        long len = 0;
        if (PEM_read_bio(bio.get(), &name, &header, &der, &len) == 1) {
            const unsigned char* p = der;
            k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        return adopt(k);
    }
    return adopt(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

std::optional<std::string> b64_member(const nlohmann::json& j, const char* name, std::string& error) {
    const auto it = j.find(name);
    std::string out;
    if (it == j.end() || !it->is_string() || !base64url_decode(it->get<std::string>(), out) || out.empty()) {
        error = std::string("\"") + name + "\" is missing or not base64url";
        return std::nullopt;
    }
    return out;
}

PkeyPtr from_params(const char* type, OSSL_PARAM_BLD* bld) {
    std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld), OSSL_PARAM_free);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr),
                                                                    EVP_PKEY_CTX_free);
    EVP_PKEY* k = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return nullptr;
    }
    PkeyPtr key = adopt(k);
    // An EC point must be on its curve (a point off it is an invalid-curve attack).
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> check(EVP_PKEY_CTX_new_from_pkey(nullptr, k, nullptr),
                                                                      EVP_PKEY_CTX_free);
    if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
    return key;
}

PkeyPtr rsa_from_jwk(const nlohmann::json& j, std::string& error) {
    const auto n = b64_member(j, "n", error);
    const auto e = n ? b64_member(j, "e", error) : std::nullopt;
    if (!e) return nullptr;
    using Bn = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
    Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr), BN_free);
    Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr), BN_free);
    std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
    if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        error = "cannot build an RSA key from \"n\" and \"e\"";
        return nullptr;
    }
    auto k = from_params("RSA", bld.get());
    if (!k) error = "\"n\" and \"e\" are not an RSA public key";
    return k;
}

PkeyPtr ec_from_jwk(const nlohmann::json& j, std::string& error) {
    const auto crv = j.find("crv");
    const std::string curve = crv != j.end() && crv->is_string() ? crv->get<std::string>() : "";
    const std::size_t size = curve == "P-256" ? 32 : curve == "P-384" ? 48 : 0;
    if (size == 0) {
        error = "\"crv\" must be P-256 or P-384, got \"" + curve + "\"";
        return nullptr;
    }
    const auto x = b64_member(j, "x", error);
    const auto y = x ? b64_member(j, "y", error) : std::nullopt;
    if (!y) return nullptr;
    if (x->size() != size || y->size() != size) {
        error = "\"x\" and \"y\" must be " + std::to_string(size) + " bytes each on " + curve;
        return nullptr;
    }
    const std::string point = "\x04" + *x + *y; // uncompressed (SEC 1 §2.3.3)
    std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
    const char* group = size == 32 ? "prime256v1" : "secp384r1";
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
        error = "cannot build an EC key";
        return nullptr;
    }
    auto k = from_params("EC", bld.get());
    if (!k) error = "\"x\" and \"y\" are not a point on " + curve;
    return k;
}

// One JWK. nullopt with `error` empty: skipped (not for signatures, or a type haven does not use).
std::optional<Key> key_from_jwk(const nlohmann::json& j, std::string& error) {
    if (!j.is_object()) {
        error = "not a JSON object";
        return std::nullopt;
    }
    const auto str = [&](const char* name) {
        const auto it = j.find(name);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const std::string kty = str("kty");
    if (str("use") == "enc") return std::nullopt;
    if (j.contains("d") || j.contains("p") || j.contains("q")) {
        error = "holds a private key; a JWKS for haven lists public keys only";
        return std::nullopt;
    }
    std::optional<Key> k;
    if (kty == "RSA" || kty == "EC") {
        PkeyPtr pkey = kty == "RSA" ? rsa_from_jwk(j, error) : ec_from_jwk(j, error);
        if (!pkey) return std::nullopt;
        k = describe(std::move(pkey), error);
    } else if (kty == "oct") {
        if (const auto secret = b64_member(j, "k", error)) k = secret_key(*secret, error); // binary: no trimming
    } else {
        return std::nullopt; // OKP (EdDSA) and others: not verified here
    }
    if (!k) return std::nullopt;
    k->kid = str("kid");
    if (const auto alg = str("alg"); !alg.empty()) {
        k->alg = parse_alg(alg);
        if (!k->alg || !k->usable_with(*k->alg)) {
            error = "\"alg\": \"" + alg + "\" cannot be used with this " + std::string(family_name(k->family)) + " key";
            return std::nullopt;
        }
    }
    return k;
}

} // namespace

std::optional<Alg> parse_alg(std::string_view name) {
    for (std::size_t i = 0; i < kAlgNames.size(); ++i) {
        if (kAlgNames[i] == name) return static_cast<Alg>(i);
    }
    return std::nullopt;
}

std::string_view alg_name(Alg a) { return kAlgNames[static_cast<std::size_t>(a)]; }

KeyFamily family_of(Alg a) {
    switch (a) {
    case Alg::HS256:
    case Alg::HS384:
    case Alg::HS512: return KeyFamily::Hmac;
    case Alg::ES256:
    case Alg::ES384: return KeyFamily::Ec;
    default: return KeyFamily::Rsa;
    }
}

std::string_view family_name(KeyFamily f) {
    switch (f) {
    case KeyFamily::Hmac: return "HMAC";
    case KeyFamily::Rsa: return "RSA";
    case KeyFamily::Ec: return "EC";
    }
    return "?";
}

int curve_bits_of(Alg a) { return a == Alg::ES256 ? 256 : a == Alg::ES384 ? 384 : 0; }

std::size_t min_secret_bytes(Alg a) { return a == Alg::HS384 ? 48 : a == Alg::HS512 ? 64 : 32; }

bool Key::usable_with(Alg a) const {
    if (family_of(a) != family) return false;
    if (alg && *alg != a) return false;
    if (family == KeyFamily::Ec) return curve_bits == curve_bits_of(a);
    if (family == KeyFamily::Hmac) return secret.size() >= min_secret_bytes(a);
    return true;
}

std::optional<Key> key_from_pem(std::string_view pem, std::string& error) {
    const auto labels = pem_labels(pem);
    if (labels.empty()) {
        error = "no PEM block (expected -----BEGIN PUBLIC KEY----- or a CERTIFICATE)";
        return std::nullopt;
    }
    if (labels.size() > 1) {
        error = "holds " + std::to_string(labels.size()) + " PEM blocks; give one key per file";
        return std::nullopt;
    }
    const std::string_view label = labels.front();
    if (label.find("PRIVATE KEY") != std::string_view::npos) {
        error = "holds a private key; haven needs only the public key (openssl pkey -pubout -in KEY)";
        return std::nullopt;
    }
    if (label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" && label != "CERTIFICATE") {
        error = "holds a \"" + std::string(label) + "\" PEM block, not a public key or certificate";
        return std::nullopt;
    }
    PkeyPtr pkey = read_pem(pem, label);
    if (!pkey) {
        error = "the " + std::string(label) + " block does not parse";
        return std::nullopt;
    }
    return describe(std::move(pkey), error);
}

std::optional<Key> key_from_secret(std::string_view bytes, std::string& error) {
    while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r' || bytes.back() == ' ' || bytes.back() == '\t')) {
        bytes.remove_suffix(1);
    }
    return secret_key(bytes, error);
}

namespace {

std::optional<Key> secret_key(std::string_view bytes, std::string& error) {
    if (bytes.find("-----BEGIN") != std::string_view::npos) {
        error = "holds PEM text: a public key is never an HMAC secret (that is the RS->HS key confusion attack); "
                "use `file:` for a PEM key";
        return std::nullopt;
    }
    if (bytes.size() < kMinSecretBytes) {
        error = "an HMAC secret of " + std::to_string(bytes.size()) + " bytes is too short (at least 32; RFC 7518 §3.2)";
        return std::nullopt;
    }
    Key k;
    k.family = KeyFamily::Hmac;
    k.secret = std::string(bytes);
    k.bits = k.secret.size() * 8;
    return k;
}

} // namespace

std::vector<Key> keys_from_jwks(std::string_view json, std::string& error, std::size_t* skipped) {
    const auto doc = nlohmann::json::parse(json, nullptr, false);
    if (doc.is_discarded()) {
        error = "is not valid JSON";
        return {};
    }
    const auto keys = doc.is_object() ? doc.find("keys") : doc.end();
    if (!doc.is_object() || keys == doc.end() || !keys->is_array()) {
        error = "is not a JWKS: expected {\"keys\": [...]}";
        return {};
    }
    std::vector<Key> out;
    std::size_t skip = 0;
    for (std::size_t i = 0; i < keys->size(); ++i) {
        std::string problem;
        auto k = key_from_jwk((*keys)[i], problem);
        if (!problem.empty()) {
            error = "keys[" + std::to_string(i) + "]: " + problem;
            return {};
        }
        if (k) {
            out.push_back(std::move(*k));
        } else {
            ++skip;
        }
    }
    if (skipped) *skipped = skip;
    if (out.empty()) error = "has no key haven can verify signatures with (RSA, EC P-256/P-384 or oct)";
    return out;
}

} // namespace haven::policy::jwt
