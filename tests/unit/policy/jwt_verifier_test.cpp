// The JWT verifier (src/policy/jwt/jwt_verifier.cpp, signature.cpp, base64url.cpp) on tokens
// minted by python3-jwt (jwt_fixtures.py), at a fixed `now`: every algorithm, and every way a
// token can be wrong — expired, not yet valid, wrong audience or issuer, bad signature,
// alg none, RS->HS key confusion, truncated, oversized, not base64url.
#include "policy/jwt/jwt_verifier.hpp"

#include "policy/jwt/base64url.hpp"
#include "policy/jwt/signature.hpp"
#include "jwt_fixtures.hpp"

#include <gtest/gtest.h>

namespace haven::policy::jwt {
namespace {

namespace fx = fixtures;

Key must(std::optional<Key> k, const std::string& error) {
    EXPECT_TRUE(k.has_value()) << error;
    return k ? std::move(*k) : Key{};
}

Key pem_key(std::string_view pem, std::string kid = "") {
    std::string error;
    Key k = must(key_from_pem(pem, error), error);
    k.kid = std::move(kid);
    return k;
}

Key secret_key() {
    std::string error;
    return must(key_from_secret(fx::kSecret, error), error);
}

Settings all_algorithms() {
    Settings s;
    s.issuers = {std::string(fx::kIssuer)};
    s.audiences = {std::string(fx::kAudience)};
    for (std::size_t i = 0; i < kAlgs; ++i) s.algorithms.push_back(static_cast<Alg>(i));
    s.leeway_s = 30;
    s.claims = {"sub", "email", "roles", "n", "missing"};
    return s;
}

std::vector<Key> all_keys() {
    std::vector<Key> keys;
    keys.push_back(secret_key());
    keys.push_back(pem_key(fx::kRsaPublicPem, "rsa-1"));
    keys.push_back(pem_key(fx::kEc256PublicPem, "ec-1"));
    keys.push_back(pem_key(fx::kEc384PublicPem, "ec-384"));
    return keys;
}

Result at_now(const Verifier& v, std::string_view token, Verified* out = nullptr) {
    Verified scratch;
    return v.verify_at(token, fx::kNow, out ? *out : scratch);
}

TEST(JwtVerifier, EveryAlgorithmVerifiesWithItsKeyAndExtractsTheClaims) {
    const Verifier v(all_algorithms(), all_keys());
    for (const auto token : {fx::kHs256, fx::kHs384, fx::kHs512, fx::kRs256, fx::kRs384, fx::kRs512, fx::kPs256,
                             fx::kPs384, fx::kPs512, fx::kEs256, fx::kEs384}) {
        Verified out;
        ASSERT_EQ(at_now(v, token, &out), Result::Valid) << token.substr(0, 40);
        ASSERT_EQ(out.claims.size(), 5u);
        EXPECT_EQ(out.claims[0], "alice");
        EXPECT_EQ(out.claims[1], "alice@example.com");
        EXPECT_EQ(out.claims[2], "admin,dev") << "a list of strings is joined with commas";
        EXPECT_EQ(out.claims[3], "42") << "a number is its JSON text";
        EXPECT_EQ(out.claims[4], "") << "an absent claim is empty";
        EXPECT_EQ(out.times.exp, fx::kNow + 3600);
        EXPECT_EQ(out.times.iat, fx::kNow - 60);
        EXPECT_EQ(out.times.nbf, kNoTime);
    }
}

TEST(JwtVerifier, AKeyFromACertificateOrPkcs1OrAJwksVerifiesTheSameTokens) {
    Settings s = all_algorithms();
    for (const auto pem : {fx::kRsaPkcs1Pem, fx::kRsaCertificatePem}) {
        std::vector<Key> keys;
        keys.push_back(pem_key(pem));
        const Verifier v(s, std::move(keys));
        EXPECT_EQ(at_now(v, fx::kRs256), Result::Valid);
        EXPECT_EQ(at_now(v, fx::kPs512), Result::Valid);
    }
    std::string error;
    std::size_t skipped = 0;
    auto keys = keys_from_jwks(fx::kJwks, error, &skipped);
    ASSERT_EQ(keys.size(), 3u) << error;
    EXPECT_EQ(skipped, 2u) << "the Ed25519 key and the encryption key";
    const Verifier v(s, std::move(keys));
    EXPECT_EQ(at_now(v, fx::kRs256), Result::Valid);
    EXPECT_EQ(at_now(v, fx::kEs256), Result::Valid);
    EXPECT_EQ(at_now(v, fx::kEs384), Result::Valid);
    EXPECT_EQ(at_now(v, fx::kHs256), Result::UnknownKey) << "no HMAC key in this JWKS";
}

TEST(JwtVerifier, AlgNoneIsNeverAccepted) {
    const Verifier v(all_algorithms(), all_keys());
    EXPECT_EQ(at_now(v, fx::kAlgNone), Result::AlgNotAllowed);
    EXPECT_FALSE(parse_alg("none"));
}

TEST(JwtVerifier, AnAlgorithmNotListedIsRefusedEvenWithAValidSignature) {
    Settings s = all_algorithms();
    s.algorithms = {Alg::RS256};
    const Verifier v(s, all_keys());
    EXPECT_EQ(at_now(v, fx::kRs256), Result::Valid);
    EXPECT_EQ(at_now(v, fx::kRs384), Result::AlgNotAllowed);
    EXPECT_EQ(at_now(v, fx::kPs256), Result::AlgNotAllowed);
    EXPECT_EQ(at_now(v, fx::kHs256), Result::AlgNotAllowed);
}

TEST(JwtVerifier, RsToHsKeyConfusionNeverVerifies) {
    // An HS256 token whose HMAC secret is the RSA public key's PEM text.
    Settings s = all_algorithms();
    s.algorithms = {Alg::RS256, Alg::HS256};
    std::vector<Key> rsa_only;
    rsa_only.push_back(pem_key(fx::kRsaPublicPem));
    EXPECT_EQ(at_now(Verifier(s, std::move(rsa_only)), fx::kConfusion), Result::UnknownKey)
        << "an RSA key is never an HMAC key";
    EXPECT_EQ(at_now(Verifier(s, all_keys()), fx::kConfusion), Result::BadSignature);
    // The primitive refuses it too, whoever picks the key.
    const auto parts_end = fx::kConfusion.rfind('.');
    std::string sig;
    ASSERT_TRUE(base64url_decode(fx::kConfusion.substr(parts_end + 1), sig));
    EXPECT_FALSE(verify_signature(Alg::HS256, pem_key(fx::kRsaPublicPem), fx::kConfusion.substr(0, parts_end), sig));
    // And the PEM text cannot be configured as a secret.
    std::string error;
    EXPECT_FALSE(key_from_secret(fx::kRsaPublicPem, error));
    EXPECT_NE(error.find("key confusion"), std::string::npos) << error;
}

TEST(JwtVerifier, AKeyIsOnlyUsedWithItsOwnFamilyAndCurve) {
    const Key rsa = pem_key(fx::kRsaPublicPem);
    const Key ec256 = pem_key(fx::kEc256PublicPem);
    const Key ec384 = pem_key(fx::kEc384PublicPem);
    const Key hmac = secret_key();
    EXPECT_TRUE(rsa.usable_with(Alg::RS256) && rsa.usable_with(Alg::PS512));
    EXPECT_FALSE(rsa.usable_with(Alg::HS256) || rsa.usable_with(Alg::ES256));
    EXPECT_TRUE(ec256.usable_with(Alg::ES256));
    EXPECT_FALSE(ec256.usable_with(Alg::ES384) || ec256.usable_with(Alg::RS256));
    EXPECT_TRUE(ec384.usable_with(Alg::ES384));
    EXPECT_FALSE(ec384.usable_with(Alg::ES256));
    EXPECT_TRUE(hmac.usable_with(Alg::HS512)); // 64 bytes
    EXPECT_FALSE(hmac.usable_with(Alg::RS256));
    // An ES256 signature under a header claiming RS256: only RSA keys are candidates.
    std::vector<Key> keys;
    keys.push_back(pem_key(fx::kRsaPublicPem));
    keys.push_back(pem_key(fx::kEc256PublicPem));
    EXPECT_EQ(at_now(Verifier(all_algorithms(), std::move(keys)), fx::kEs256AsRs256Header), Result::BadSignature);
}

TEST(JwtVerifier, KidSelectsTheKey) {
    const Verifier v(all_algorithms(), all_keys());
    EXPECT_EQ(at_now(v, fx::kUnknownKid), Result::UnknownKey);
    EXPECT_EQ(at_now(v, fx::kRs256NoKid), Result::Valid) << "a token without kid is tried with every RSA key";
    std::vector<Key> no_kids;
    no_kids.push_back(pem_key(fx::kRsaPublicPem));
    EXPECT_EQ(at_now(Verifier(all_algorithms(), std::move(no_kids)), fx::kUnknownKid), Result::Valid)
        << "a key configured without kid verifies any kid";
}

TEST(JwtVerifier, ASignatureByAnotherKeyIsABadSignature) {
    const Verifier v(all_algorithms(), all_keys());
    EXPECT_EQ(at_now(v, fx::kOtherKey), Result::BadSignature);
    // One character of the signature changed.
    std::string t(fx::kRs256);
    t[t.size() - 20] = t[t.size() - 20] == 'A' ? 'B' : 'A';
    EXPECT_EQ(at_now(v, t), Result::BadSignature);
    // One character of the payload changed: still valid base64url, no longer what was signed.
    std::string p(fx::kHs256);
    const auto dot = p.find('.');
    p[dot + 10] = p[dot + 10] == 'A' ? 'B' : 'A';
    EXPECT_EQ(at_now(v, p), Result::BadSignature);
}

TEST(JwtVerifier, TruncatedOversizedAndNonBase64TokensAreMalformed) {
    const Verifier v(all_algorithms(), all_keys());
    const std::string t(fx::kRs256);
    EXPECT_EQ(at_now(v, t.substr(0, t.find('.') + 20)), Result::Malformed) << "cut in the payload";
    EXPECT_EQ(at_now(v, t.substr(0, t.rfind('.') + 1)), Result::BadSignature) << "no signature";
    EXPECT_NE(at_now(v, t.substr(0, t.size() - 7)), Result::Valid);
    EXPECT_EQ(at_now(v, ""), Result::Malformed);
    EXPECT_EQ(at_now(v, "a.b"), Result::Malformed);
    EXPECT_EQ(at_now(v, t + ".x"), Result::Malformed) << "four parts";
    std::string bad = t;
    bad[5] = '!';
    EXPECT_EQ(at_now(v, bad), Result::Malformed);
    EXPECT_EQ(at_now(v, "e30.e30.e30"), Result::Malformed) << "{} has no alg";
    EXPECT_EQ(at_now(v, "W10.e30.AA"), Result::Malformed) << "a header that is a list";
    EXPECT_EQ(at_now(v, std::string(kMaxTokenBytes + 1, 'a')), Result::Malformed);
    std::string padded = t;
    padded += "==";
    EXPECT_EQ(at_now(v, padded), Result::Malformed) << "no padding in JWS";
}

TEST(JwtVerifier, ANonCanonicalLastCharacterIsNotASecondSpellingOfTheToken) {
    // HS256: 32 bytes in 43 characters, the last two bits are padding. Setting one of them gives
    // text a lenient decoder maps to the same signature.
    const Verifier v(all_algorithms(), all_keys());
    std::string t(fx::kHs256);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const auto i = alphabet.find(t.back());
    t.back() = alphabet[i ^ 1];
    EXPECT_EQ(at_now(v, t), Result::Malformed);
}

TEST(JwtVerifier, TimesWithLeeway) {
    const Verifier v(all_algorithms(), all_keys());
    EXPECT_EQ(at_now(v, fx::kExpired), Result::Expired);
    EXPECT_EQ(at_now(v, fx::kExpiredWithinLeeway), Result::Valid) << "10 s past exp, 30 s leeway";
    EXPECT_EQ(at_now(v, fx::kNotBeforeFuture), Result::NotYetValid);
    EXPECT_EQ(at_now(v, fx::kIssuedInFuture), Result::NotYetValid);
    Verified out;
    EXPECT_EQ(at_now(v, fx::kFractionalTimes, &out), Result::Valid);
    EXPECT_EQ(out.times.exp, fx::kNow) << "exp rounded down";
    EXPECT_EQ(out.times.nbf, fx::kNow) << "nbf rounded up";
}

TEST(JwtVerifier, TimeBoundariesAreExact) {
    Settings s = all_algorithms();
    s.leeway_s = 0;
    const Verifier v(s, {});
    TokenTimes t;
    t.exp = 1000;
    EXPECT_EQ(v.check_times(t, 999), Result::Valid);
    EXPECT_EQ(v.check_times(t, 1000), Result::Expired) << "expired at exp (RFC 7519 §4.1.4)";
    t = TokenTimes{};
    t.nbf = 1000;
    EXPECT_EQ(v.check_times(t, 999), Result::NotYetValid);
    EXPECT_EQ(v.check_times(t, 1000), Result::Valid);
    s.leeway_s = 5;
    const Verifier lenient(s, {});
    t = TokenTimes{};
    t.exp = 1000;
    EXPECT_EQ(lenient.check_times(t, 1004), Result::Valid);
    EXPECT_EQ(lenient.check_times(t, 1005), Result::Expired);
    t = TokenTimes{};
    t.iat = 1005;
    EXPECT_EQ(lenient.check_times(t, 1000), Result::Valid);
    EXPECT_EQ(lenient.check_times(t, 999), Result::NotYetValid);
}

TEST(JwtVerifier, ExpIsRequiredUnlessSaidOtherwiseAndMustBeANumber) {
    EXPECT_EQ(at_now(Verifier(all_algorithms(), all_keys()), fx::kNoExpiry), Result::Malformed);
    Settings s = all_algorithms();
    s.require_exp = false;
    EXPECT_EQ(at_now(Verifier(s, all_keys()), fx::kNoExpiry), Result::Valid);
    EXPECT_EQ(at_now(Verifier(s, all_keys()), fx::kExpNotNumber), Result::Malformed);
}

TEST(JwtVerifier, AudienceAndIssuer) {
    const Verifier v(all_algorithms(), all_keys());
    EXPECT_EQ(at_now(v, fx::kWrongAudience), Result::BadAudience);
    EXPECT_EQ(at_now(v, fx::kNoAudience), Result::BadAudience);
    EXPECT_EQ(at_now(v, fx::kAudienceList), Result::Valid) << "one of the token's audiences is enough";
    EXPECT_EQ(at_now(v, fx::kWrongIssuer), Result::BadIssuer);
    EXPECT_EQ(at_now(v, fx::kNoIssuer), Result::BadIssuer);
    Settings open = all_algorithms();
    open.issuers.clear();
    open.audiences.clear();
    const Verifier any(open, all_keys());
    EXPECT_EQ(at_now(any, fx::kWrongAudience), Result::Valid) << "no audiences configured: not checked";
    EXPECT_EQ(at_now(any, fx::kWrongIssuer), Result::Valid);
}

TEST(JwtVerifier, UnknownCriticalExtensionsAreRefused) {
    EXPECT_EQ(at_now(Verifier(all_algorithms(), all_keys()), fx::kCrit), Result::Malformed);
}

TEST(JwtVerifier, AClaimThatCannotBeAHeaderValueIsLeftEmpty) {
    Verified out;
    ASSERT_EQ(at_now(Verifier(all_algorithms(), all_keys()), fx::kClaimNewline, &out), Result::Valid);
    EXPECT_EQ(out.claims[0], "") << "a CR LF in sub must never reach a header";
    EXPECT_EQ(out.claims[1], "alice@example.com");
}

TEST(JwtVerifier, ResultNamesAreTheMetricLabels) {
    EXPECT_EQ(result_name(Result::Valid), "valid");
    EXPECT_EQ(result_name(Result::BadSignature), "bad_signature");
    EXPECT_EQ(result_name(Result::NotYetValid), "not_yet_valid");
    EXPECT_EQ(result_name(Result::AlgNotAllowed), "alg_not_allowed");
}

} // namespace
} // namespace haven::policy::jwt
