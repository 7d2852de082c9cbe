// Authenticator: one route's JWT check on the request path (the policy stage calls check()).
// It finds the token (Authorization: Bearer, a header or a cookie), looks it up in the worker's
// TokenCache — verifying it with the route's Verifier on a miss — checks its times against `now`,
// and rewrites the request's fields: the fields `forward_claims` names are removed from what the
// client sent, always, and set from the verified token's claims.
//
// Shared by every worker (built on the control thread, immutable after); the caches and the
// counters are per worker, so the request path takes no lock and writes no shared cache line.
#pragma once

#include "config/schema.hpp"
#include "core/counters.hpp"
#include "http/parser.hpp"
#include "policy/jwt/jwt_verifier.hpp"
#include "policy/jwt/token_cache.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace haven::policy::jwt {

// Per request (kept in the pooled RequestContext, so warm requests reuse the memory): the
// request's fields as forwarded when they had to be rewritten, and the claim field lines they
// point into. Valid until the request ends.
struct RequestScratch {
    std::vector<http::Header> headers;
    std::string lines;
};

struct Decision {
    Result result = Result::Missing;
    bool pass = false;                  // go on: valid, or no token on a route that does not require one
    const CachedToken* token = nullptr; // the verified token (claims for rate-limit keys); valid
                                        // only until the worker checks another request
};

struct AuthStats {
    std::array<Counter, kResults> results;
    Counter cache_hits;
    Counter cache_misses; // full verifications of a well-formed token
};

class Authenticator {
public:
    struct Options {
        config::JwtFrom from = config::JwtFrom::Bearer;
        std::string from_name;
        bool required = true;
        std::string realm;
        std::vector<std::pair<std::size_t, std::string>> forward; // claim index -> header name
        std::size_t cache_size = 4096;                            // over all workers
    };

    Authenticator(std::shared_ptr<const Verifier> verifier, Options options, std::size_t workers);

    // `now`: Unix seconds. On a worker thread, for that worker's index.
    Decision check(http::RequestHead& req, RequestScratch& scratch, std::int64_t now, std::size_t worker);

    // The WWW-Authenticate field line ("...\r\n") for a refusal with `r` (RFC 6750 §3): without an
    // error code when there was no token, else error="invalid_token" and a short description.
    // Returns the length written (0 if it does not fit).
    std::size_t challenge(Result r, char* buf, std::size_t cap) const;

    // A claim's index in the verifier's claim list (rate-limit keys), or nullopt.
    std::optional<std::size_t> claim_index(std::string_view claim) const;
    static std::string_view claim(const CachedToken* token, std::size_t index) {
        return token && index < token->claims.size() ? std::string_view(token->claims[index]) : std::string_view();
    }

    const Verifier& verifier() const { return *verifier_; }
    const PerWorker<AuthStats>& stats() const { return stats_; }
    std::size_t cached_tokens() const; // over all workers (approximate while they run)

private:
    // The token: empty with `ambiguous` false when there is none.
    std::string_view find_token(const http::RequestHead& req, bool& ambiguous) const;
    const CachedToken* lookup(std::string_view token, std::int64_t now, std::size_t worker, Result& r);
    void rewrite(http::RequestHead& req, RequestScratch& scratch, const CachedToken* token) const;

    std::shared_ptr<const Verifier> verifier_;
    Options options_;
    PerWorker<TokenCache> caches_;
    PerWorker<AuthStats> stats_;
};

// The route's check from its config; `key_claims` are the claims rate limits count by (they are
// extracted along with the forwarded ones). Keys come from the material the loader read.
std::unique_ptr<Authenticator> make_authenticator(const config::JwtPolicy& p, const std::vector<std::string>& key_claims,
                                                  std::size_t workers);

} // namespace haven::policy::jwt
