#include "policy/jwt/authenticator.hpp"

#include "http/fields.hpp"
#include "http/syntax.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <algorithm>
#include <cstdio>

namespace haven::policy::jwt {
namespace {

using http::syntax::tokens_equal;

const char* description(Result r) {
    switch (r) {
    case Result::Malformed: return "malformed token";
    case Result::AlgNotAllowed: return "algorithm not allowed";
    case Result::UnknownKey: return "unknown signing key";
    case Result::BadSignature: return "invalid signature";
    case Result::BadIssuer: return "issuer not accepted";
    case Result::BadAudience: return "audience not accepted";
    case Result::Expired: return "token expired";
    case Result::NotYetValid: return "token not yet valid";
    case Result::Valid:
    case Result::Missing: break;
    }
    return "";
}

// "Bearer <token>" (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1). Another
// scheme is not a bearer token: `is_bearer` false.
std::string_view bearer_token(std::string_view value, bool& is_bearer) {
    static constexpr std::string_view kScheme = "bearer";
    is_bearer = value.size() >= kScheme.size() && tokens_equal(value.substr(0, kScheme.size()), kScheme) &&
                (value.size() == kScheme.size() || value[kScheme.size()] == ' ');
    if (!is_bearer) return {};
    return http::trim(value.substr(kScheme.size()));
}

} // namespace

Authenticator::Authenticator(std::shared_ptr<const Verifier> verifier, Options options, std::size_t workers)
    : verifier_(std::move(verifier)), options_(std::move(options)), caches_(workers), stats_(workers) {
    // The cache size is for the route; each worker keeps its share (at least one set).
    const std::size_t share = options_.cache_size == 0 ? 0 : std::max<std::size_t>(TokenCache::kWays, options_.cache_size / std::max<std::size_t>(1, workers));
    for (std::size_t w = 0; w < workers; ++w) caches_.at(w).reset(share);
}

std::string_view Authenticator::find_token(const http::RequestHead& req, bool& ambiguous) const {
    // Rules: a field named twice is ambiguous (the server behind might read the other one); an
    // Authorization field with another scheme, or an empty field or cookie, is no token.
    ambiguous = false;
    if (options_.from == config::JwtFrom::Cookie) return http::find_cookie(req, options_.from_name);
    const std::string_view name = options_.from == config::JwtFrom::Bearer ? std::string_view("authorization")
                                                                            : std::string_view(options_.from_name);
    std::string_view value;
    int seen = 0;
    for (const auto& h : req.headers) {
        if (!tokens_equal(h.name, name)) continue;
        value = h.value;
        ++seen;
    }
    if (seen > 1) {
        ambiguous = true;
        return {};
    }
    if (options_.from != config::JwtFrom::Bearer) return value;
    bool is_bearer = false;
    const std::string_view token = bearer_token(value, is_bearer);
    ambiguous = is_bearer && token.empty(); // "Bearer" and nothing: a broken credential, not none
    return token;
}

const CachedToken* Authenticator::lookup(std::string_view token, std::int64_t now, std::size_t worker, Result& r) {
    auto& cache = caches_.at(worker);
    auto& stats = stats_.at(worker);
    // An oversized token is refused before it is even hashed.
    if (token.size() > kMaxTokenBytes) {
        r = Result::Malformed;
        return nullptr;
    }
    const std::uint64_t hash = upstream::hash_key(token);
    if (const CachedToken* hit = cache.find(token, hash)) {
        stats.cache_hits.inc();
        r = verifier_->check_times(hit->times, now);
        if (r == Result::Expired) cache.erase(hit); // it will never be valid again
        return r == Result::Valid ? hit : nullptr;
    }
    stats.cache_misses.inc();
    Verified v;
    r = verifier_->verify(token, v);
    if (r != Result::Valid) return nullptr;
    r = verifier_->check_times(v.times, now);
    if (r == Result::Expired) return nullptr; // not worth a place
    const CachedToken& entry = cache.insert(token, hash, std::move(v), now);
    return r == Result::Valid ? &entry : nullptr;
}

Decision Authenticator::check(http::RequestHead& req, RequestScratch& scratch, std::int64_t now, std::size_t worker) {
    bool ambiguous = false;
    const std::string_view token = find_token(req, ambiguous);
    Decision d;
    if (ambiguous) {
        d.result = Result::Malformed;
    } else if (token.empty()) {
        d.result = Result::Missing;
        d.pass = !options_.required;
    } else {
        d.token = lookup(token, now, worker, d.result);
        d.pass = d.result == Result::Valid;
    }
    stats_.at(worker).results[static_cast<std::size_t>(d.result)].inc();
    if (d.pass) rewrite(req, scratch, d.token);
    return d;
}

void Authenticator::rewrite(http::RequestHead& req, RequestScratch& scratch, const CachedToken* token) const {
    if (options_.forward.empty()) return;
    const auto forwarded = [&](const http::Header& h) {
        return h.id == http::HeaderId::Other &&
               std::any_of(options_.forward.begin(), options_.forward.end(),
                           [&](const auto& f) { return tokens_equal(h.name, f.second); });
    };
    const bool strip = std::any_of(req.headers.begin(), req.headers.end(), forwarded);
    scratch.lines.clear();
    std::size_t added = 0;
    for (const auto& [index, header] : options_.forward) {
        const std::string_view value = claim(token, index);
        if (value.empty()) continue;
        scratch.lines.append(header).append(": ").append(value).append("\r\n");
        ++added;
    }
    // Rules: the common case — none of the names sent, no claim to add — leaves the request as
    // it is; otherwise its fields are copied without the client's ones, then the claims'.
    if (!strip && added == 0) return;
    scratch.headers.clear();
    for (const auto& h : req.headers) {
        if (!forwarded(h)) scratch.headers.push_back(h);
    }
    // Views into `lines`, which is complete now and not touched again during the request.
    std::string_view rest = scratch.lines;
    while (!rest.empty()) {
        const std::size_t colon = rest.find(':');
        const std::size_t end = rest.find("\r\n");
        http::Header h;
        h.name = rest.substr(0, colon);
        h.value = rest.substr(colon + 2, end - colon - 2);
        h.line_len = static_cast<std::uint32_t>(end + 2);
        scratch.headers.push_back(h);
        rest.remove_prefix(end + 2);
    }
    req.headers = std::span<http::Header>(scratch.headers);
}

std::size_t Authenticator::challenge(Result r, char* buf, std::size_t cap) const {
    const std::string& realm = options_.realm;
    int n = 0;
    if (r == Result::Missing) { // RFC 6750 §3.1: no error code when the request had no token
        n = realm.empty() ? std::snprintf(buf, cap, "WWW-Authenticate: Bearer\r\n")
                          : std::snprintf(buf, cap, "WWW-Authenticate: Bearer realm=\"%s\"\r\n", realm.c_str());
    } else {
        n = std::snprintf(buf, cap, "WWW-Authenticate: Bearer %s%s%serror=\"invalid_token\", error_description=\"%s\"\r\n",
                          realm.empty() ? "" : "realm=\"", realm.c_str(), realm.empty() ? "" : "\", ", description(r));
    }
    return n > 0 && static_cast<std::size_t>(n) < cap ? static_cast<std::size_t>(n) : 0;
}

std::optional<std::size_t> Authenticator::claim_index(std::string_view claim) const {
    const auto& claims = verifier_->settings().claims;
    const auto it = std::find(claims.begin(), claims.end(), claim);
    if (it == claims.end()) return std::nullopt;
    return static_cast<std::size_t>(it - claims.begin());
}

std::size_t Authenticator::cached_tokens() const {
    std::size_t n = 0;
    for (std::size_t w = 0; w < caches_.size(); ++w) n += caches_.at(w).size();
    return n;
}

std::unique_ptr<Authenticator> make_authenticator(const config::JwtPolicy& p, const std::vector<std::string>& key_claims,
                                                  std::size_t workers) {
    Settings s;
    s.issuers = p.issuers;
    s.audiences = p.audiences;
    for (const auto& name : p.algorithms) {
        if (const auto a = parse_alg(name)) s.algorithms.push_back(*a);
    }
    s.leeway_s = std::chrono::duration_cast<std::chrono::seconds>(p.leeway).count();
    s.require_exp = p.require_exp;
    Authenticator::Options o;
    const auto claim_slot = [&](const std::string& claim) {
        const auto it = std::find(s.claims.begin(), s.claims.end(), claim);
        if (it != s.claims.end()) return static_cast<std::size_t>(it - s.claims.begin());
        s.claims.push_back(claim);
        return s.claims.size() - 1;
    };
    for (const auto& [claim, header] : p.forward_claims) o.forward.emplace_back(claim_slot(claim), header);
    for (const auto& claim : key_claims) claim_slot(claim);
    // The loader checked every key (jwt_keys.cpp); one that fails now is left out, never guessed.
    std::vector<Key> keys;
    for (const auto& k : p.keys) {
        std::string error;
        auto key = k.file.empty() ? key_from_secret(k.material, error) : key_from_pem(k.material, error);
        if (!key) continue;
        key->kid = k.kid;
        if (!k.alg.empty() && !(key->alg = parse_alg(k.alg))) continue;
        keys.push_back(std::move(*key));
    }
    if (!p.jwks.empty()) {
        std::string error;
        for (auto& key : keys_from_jwks(p.jwks, error)) keys.push_back(std::move(key));
    }
    o.from = p.from;
    o.from_name = p.from_name;
    o.required = p.required;
    o.realm = p.realm;
    o.cache_size = p.cache_size;
    return std::make_unique<Authenticator>(std::make_shared<const Verifier>(std::move(s), std::move(keys)), std::move(o),
                                           workers);
}

} // namespace haven::policy::jwt
