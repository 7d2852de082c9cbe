// The route's JWT check as the policy stage calls it (src/policy/jwt/authenticator.cpp) and its
// per-worker cache (token_cache.cpp): where the token is found, what is ambiguous, the challenge
// text, the claim headers replacing the client's own, a cached token re-checked against the clock,
// and the cache's bound. Tokens are the python3-jwt fixtures, at their kNow.
#include "policy/jwt/authenticator.hpp"

#include "jwt_fixtures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>
#include <vector>

namespace haven::policy::jwt {
namespace {

namespace fx = fixtures;

config::JwtPolicy policy() {
    config::JwtPolicy p;
    p.issuers = {std::string(fx::kIssuer)};
    p.audiences = {std::string(fx::kAudience)};
    p.algorithms = {"RS256", "HS256"};
    config::JwtKey rsa;
    rsa.file = "rsa.pem";
    rsa.material = std::string(fx::kRsaPublicPem);
    config::JwtKey hs;
    hs.secret_file = "hs.secret";
    hs.material = std::string(fx::kSecret);
    p.keys = {rsa, hs};
    p.forward_claims = {{"sub", "X-User"}, {"email", "X-User-Email"}};
    return p;
}

// A request head over `fields` (name, value); the strings must outlive it.
struct Request {
    Request(std::initializer_list<std::pair<std::string, std::string>> f) : text(f) {
        for (const auto& [n, v] : text) {
            http::Header h;
            h.name = n;
            h.value = v;
            if (n == "Cookie") h.id = http::HeaderId::Cookie; // as the parser marks it
            fields.push_back(h);
        }
        head.headers = std::span<http::Header>(fields);
    }
    std::vector<std::string> values(std::string_view name) const {
        std::vector<std::string> out;
        for (const auto& h : head.headers) {
            if (h.name.size() == name.size() && std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                })) {
                out.emplace_back(h.value);
            }
        }
        return out;
    }
    std::vector<std::pair<std::string, std::string>> text;
    std::vector<http::Header> fields;
    http::RequestHead head;
    RequestScratch scratch;
};

std::string bearer(std::string_view token) { return "Bearer " + std::string(token); }

Decision check(Authenticator& a, Request& r, std::int64_t now = fx::kNow) { return a.check(r.head, r.scratch, now, 0); }

TEST(JwtAuthenticator, AValidTokenPassesAndItsClaimsReplaceTheClientsFields) {
    auto a = make_authenticator(policy(), {}, 1);
    Request r({{"Host", "api"}, {"X-User", "mallory"}, {"Authorization", bearer(fx::kRs256)}, {"x-user", "again"}});
    const Decision d = check(*a, r);
    EXPECT_TRUE(d.pass);
    EXPECT_EQ(d.result, Result::Valid);
    EXPECT_EQ(r.values("X-User"), std::vector<std::string>{"alice"});
    EXPECT_EQ(r.values("X-User-Email"), std::vector<std::string>{"alice@example.com"});
    EXPECT_EQ(r.values("Host"), std::vector<std::string>{"api"});
    EXPECT_EQ(r.values("Authorization").size(), 1u);
}

TEST(JwtAuthenticator, WhereTheTokenIsAndWhatIsAmbiguous) {
    auto a = make_authenticator(policy(), {}, 1);
    Request none({{"Host", "api"}});
    EXPECT_EQ(check(*a, none).result, Result::Missing);
    Request basic({{"Authorization", "Basic dXNlcjpwYXNz"}});
    EXPECT_EQ(check(*a, basic).result, Result::Missing);
    Request empty_bearer({{"Authorization", "Bearer"}});
    EXPECT_EQ(check(*a, empty_bearer).result, Result::Malformed);
    Request twice({{"Authorization", bearer(fx::kRs256)}, {"authorization", bearer(fx::kHs256)}});
    EXPECT_EQ(check(*a, twice).result, Result::Malformed);
    Request lower_scheme({{"Authorization", "bearer " + std::string(fx::kHs256)}});
    EXPECT_TRUE(check(*a, lower_scheme).pass);

    auto p = policy();
    p.from = config::JwtFrom::Cookie;
    p.from_name = "session";
    auto c = make_authenticator(p, {}, 1);
    Request cookie({{"Cookie", "theme=dark; session=" + std::string(fx::kRs256)}});
    EXPECT_TRUE(check(*c, cookie).pass);
    Request bearer_only({{"Authorization", bearer(fx::kRs256)}});
    EXPECT_EQ(check(*c, bearer_only).result, Result::Missing);
}

TEST(JwtAuthenticator, AnOptionalRoutePassesWithoutATokenAndStillStripsTheClaimFields) {
    auto p = policy();
    p.required = false;
    auto a = make_authenticator(p, {}, 1);
    Request r({{"X-User", "mallory"}, {"Host", "api"}});
    const Decision d = check(*a, r);
    EXPECT_TRUE(d.pass);
    EXPECT_EQ(d.result, Result::Missing);
    EXPECT_TRUE(r.values("X-User").empty());
    Request bad({{"Authorization", bearer(fx::kExpired)}});
    EXPECT_FALSE(check(*a, bad).pass) << "an invalid token is refused even where none is required";
}

TEST(JwtAuthenticator, ATokenIsVerifiedOncePerWorkerAndItsTimesOnEveryUse) {
    auto a = make_authenticator(policy(), {}, 2);
    for (int i = 0; i < 3; ++i) {
        Request r({{"Authorization", bearer(fx::kRs256)}});
        EXPECT_TRUE(check(*a, r).pass);
    }
    EXPECT_EQ(a->stats().at(0).cache_misses.get(), 1u);
    EXPECT_EQ(a->stats().at(0).cache_hits.get(), 2u);
    EXPECT_EQ(a->cached_tokens(), 1u);
    // Another worker has its own cache.
    Request other({{"Authorization", bearer(fx::kRs256)}});
    EXPECT_TRUE(a->check(other.head, other.scratch, fx::kNow, 1).pass);
    EXPECT_EQ(a->stats().at(1).cache_misses.get(), 1u);
    // The cached verdict does not outlive exp (+ the 30 s leeway): refused, and forgotten.
    Request late({{"Authorization", bearer(fx::kRs256)}});
    EXPECT_EQ(check(*a, late, fx::kNow + 3600 + 30).result, Result::Expired);
    EXPECT_EQ(a->cached_tokens(), 1u) << "only worker 1's copy is left";
}

TEST(JwtAuthenticator, ARefusedTokenIsNeverCached) {
    auto a = make_authenticator(policy(), {}, 1);
    for (int i = 0; i < 2; ++i) {
        Request r({{"Authorization", bearer(std::string(fx::kRs256Bob.substr(0, fx::kRs256Bob.size() - 4)) + "AAAA")}});
        EXPECT_EQ(check(*a, r).result, Result::BadSignature);
    }
    EXPECT_EQ(a->stats().at(0).cache_misses.get(), 2u);
    EXPECT_EQ(a->cached_tokens(), 0u);
}

TEST(JwtAuthenticator, ClaimsForRateLimitKeys) {
    auto a = make_authenticator(policy(), {"email", "roles"}, 1);
    const auto roles = a->claim_index("roles");
    ASSERT_TRUE(roles.has_value());
    EXPECT_EQ(a->claim_index("email"), std::optional<std::size_t>(1)) << "shared with the forwarded claim";
    EXPECT_FALSE(a->claim_index("nope").has_value());
    Request r({{"Authorization", bearer(fx::kRs256)}});
    const Decision d = check(*a, r);
    ASSERT_TRUE(d.pass);
    EXPECT_EQ(Authenticator::claim(d.token, *roles), "admin,dev");
    EXPECT_EQ(Authenticator::claim(nullptr, *roles), "");
}

TEST(JwtAuthenticator, TheChallenge) {
    auto p = policy();
    auto a = make_authenticator(p, {}, 1);
    char buf[192];
    std::size_t n = a->challenge(Result::Missing, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "WWW-Authenticate: Bearer\r\n");
    n = a->challenge(Result::Expired, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"token expired\"\r\n");
    p.realm = std::string(64, 'r');
    auto r = make_authenticator(p, {}, 1);
    n = r->challenge(Result::AlgNotAllowed, buf, sizeof buf); // the longest: it fits the reply's 192 bytes
    EXPECT_EQ(std::string(buf, n), "WWW-Authenticate: Bearer realm=\"" + p.realm +
                                       "\", error=\"invalid_token\", error_description=\"algorithm not allowed\"\r\n");
    EXPECT_EQ(r->challenge(Result::Expired, buf, 20), 0u) << "nothing rather than a cut field";
}

TEST(JwtTokenCache, IsBoundedAndEvictsTheLeastRecentlyUsed) {
    TokenCache c;
    c.reset(TokenCache::kWays); // one set
    const std::vector<std::string> tokens = {"t0", "t1", "t2", "t3", "t4"};
    for (std::size_t i = 0; i < 4; ++i) c.insert(tokens[i], i, Verified{}, fx::kNow);
    EXPECT_EQ(c.size(), 4u);
    ASSERT_NE(c.find("t0", 0), nullptr); // t1 is now the least recently used
    c.insert("t4", 4, Verified{}, fx::kNow);
    EXPECT_EQ(c.size(), 4u);
    EXPECT_EQ(c.find("t1", 1), nullptr);
    EXPECT_NE(c.find("t0", 0), nullptr);
    EXPECT_NE(c.find("t4", 4), nullptr);
    EXPECT_EQ(c.find("t4", 0), nullptr) << "the hash indexes; the bytes decide";
}

TEST(JwtTokenCache, AnExpiredEntryGoesFirst) {
    TokenCache c;
    c.reset(TokenCache::kWays);
    for (std::size_t i = 0; i < 4; ++i) {
        Verified v;
        v.times.exp = i == 2 ? fx::kNow - 1 : fx::kNow + 3600;
        c.insert("t" + std::to_string(i), i, std::move(v), fx::kNow);
    }
    c.find("t2", 2); // recently used, but expired
    c.insert("t9", 9, Verified{}, fx::kNow);
    EXPECT_EQ(c.find("t2", 2), nullptr);
    EXPECT_NE(c.find("t0", 0), nullptr);
}

} // namespace
} // namespace haven::policy::jwt
