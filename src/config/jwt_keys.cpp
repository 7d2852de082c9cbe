// The `jwt` policy keys (see jwt_keys.hpp). As in policy_keys.cpp, a value is checked where it is
// read, so the error points at it; the checks between keys (every algorithm has a key, a key's
// own alg is allowed) point at the key that is wrong.
#include "config/jwt_keys.hpp"

#include "policy/jwt/jwk.hpp"

#include <algorithm>

namespace haven::config {
namespace {

namespace jwt = policy::jwt;

constexpr std::string_view kJwtKeys[] = {"issuer", "issuers", "audiences", "algorithms", "keys", "jwks_file",
                                         "leeway", "from", "required", "require_exp", "forward_claims",
                                         "cache_size", "realm"};
constexpr std::string_view kKeyKeys[] = {"file", "secret_file", "kid", "alg"};
constexpr std::uint64_t kMaxKeyFileBytes = 1 << 20;
constexpr rules::Range kCacheSize{0, 1'000'000};
constexpr Duration kMaxLeeway{3'600'000};
constexpr std::size_t kMaxRealm = 64;
constexpr std::size_t kMaxClaimName = 256;

// Fields a claim may not be forwarded as: haven's own framing and forwarding fields, and those
// it treats specially (a claim must never change how a request is framed or routed).
constexpr std::string_view kReservedHeaders[] = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te",
    "upgrade", "expect", "trailer", "cookie", "x-forwarded-for", "x-forwarded-proto", "x-request-id", "via",
    "date", "server", "authorization"};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool visible_text(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

class JwtReader {
public:
    JwtReader(Reader& r, JwtPolicy& p) : r_(r), p_(p) {}

    void read(const Field& m) {
        p_.loc = r_.loc(m);
        bool has_issuer = false, has_algorithms = false, has_keys = false;
        r_.each_key(m, kJwtKeys, [&](std::string_view key, const Field& f) {
            if (key == "issuer" || key == "issuers") {
                if (has_issuer) r_.error(f, "give either issuer or issuers, not both");
                has_issuer = true;
                key == "issuer" ? one_string(f, p_.issuers) : strings(f, "issuer", p_.issuers);
            } else if (key == "audiences") {
                strings(f, "audience", p_.audiences);
            } else if (key == "algorithms") {
                has_algorithms = true;
                algorithms(f);
            } else if (key == "keys") {
                has_keys = true;
                keys(f);
            } else if (key == "jwks_file") {
                jwks(f);
            } else {
                scalar_key(key, f);
            }
        });
        if (!has_algorithms) r_.error(m, "needs algorithms: (e.g. algorithms: [RS256])");
        // (A `keys:` whose every key is wrong has its own errors; this is for one with none.)
        if (!has_keys && p_.jwks_file.empty()) r_.error(m, "needs keys: or jwks_file: (the keys tokens are verified with)");
        cross_check();
    }

private:
    void scalar_key(std::string_view key, const Field& f) {
        if (key == "leeway") {
            Duration d{};
            if (!r_.read_duration(f, true, d)) return;
            if (d > kMaxLeeway) {
                r_.error(f, "a leeway over 1h would make exp meaningless");
                return;
            }
            p_.leeway = d;
        } else if (key == "from") {
            from(f);
        } else if (key == "required") {
            r_.read_bool(f, p_.required);
        } else if (key == "require_exp") {
            r_.read_bool(f, p_.require_exp);
        } else if (key == "forward_claims") {
            forward_claims(f);
        } else if (key == "cache_size") {
            r_.read_uint(f, kCacheSize, p_.cache_size);
        } else if (key == "realm") {
            std::string realm;
            if (!r_.read_string(f, realm)) return;
            if (realm.size() > kMaxRealm || realm.find_first_of("\"\\") != std::string::npos ||
                !std::all_of(realm.begin(), realm.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
                r_.error(f, "a realm is up to 64 printable characters without quotes or backslashes");
                return;
            }
            p_.realm = std::move(realm);
        }
    }

    void one_string(const Field& f, std::vector<std::string>& out) {
        std::string s;
        if (!r_.read_string(f, s)) return;
        if (s.empty()) {
            r_.error(f, "must not be empty");
            return;
        }
        out.push_back(std::move(s));
    }

    void strings(const Field& f, std::string_view what, std::vector<std::string>& out) {
        r_.each_item(f, [&](std::size_t, const Field& item) { one_string(item, out); });
        if (f.value.IsSequence() && f.value.size() == 0) {
            r_.error(f, "an empty list accepts no " + std::string(what) + "; list at least one, or leave the key out");
        }
    }

    void algorithms(const Field& f) {
        r_.each_item(f, [&](std::size_t, const Field& item) {
            std::string name;
            if (!r_.read_string(item, name)) return;
            if (lower(name) == "none") {
                r_.error(item, "\"none\" is never allowed: an unsigned token proves nothing");
                return;
            }
            const auto a = jwt::parse_alg(name);
            if (!a) {
                r_.error(item, "unknown algorithm " + rules::quote(name) +
                                   " (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384)");
                return;
            }
            if (std::find(p_.algorithms.begin(), p_.algorithms.end(), name) == p_.algorithms.end()) {
                p_.algorithms.push_back(name);
                alg_fields_.push_back(item);
            }
        });
        if (f.value.IsSequence() && f.value.size() == 0) r_.error(f, "must list at least one algorithm");
    }

    void keys(const Field& f) {
        r_.each_item(f, [&](std::size_t, const Field& item) { key(item); });
        if (f.value.IsSequence() && f.value.size() == 0) r_.error(f, "must list at least one key");
    }

    void key(const Field& m) {
        JwtKey k;
        k.loc = r_.loc(m);
        std::optional<jwt::Key> parsed;
        std::optional<Field> alg_field;
        r_.each_key(m, kKeyKeys, [&](std::string_view key, const Field& f) {
            if (key == "kid") {
                r_.read_string(f, k.kid);
            } else if (key == "alg") {
                if (r_.read_string(f, k.alg)) alg_field = f;
            } else if (!k.file.empty() || !k.secret_file.empty()) {
                r_.error(f, "a key has either file: (a PEM public key) or secret_file: (an HMAC secret), not both");
            } else {
                std::string& path = key == "file" ? k.file : k.secret_file;
                if (!r_.read_string(f, path)) return;
                const auto bytes = r_.read_file(f, path, kMaxKeyFileBytes);
                if (!bytes) return;
                std::string problem;
                parsed = key == "file" ? jwt::key_from_pem(*bytes, problem) : jwt::key_from_secret(*bytes, problem);
                if (!parsed) r_.error(f, rules::quote(path) + ": " + problem);
                k.material = *bytes;
            }
        });
        if (k.file.empty() && k.secret_file.empty()) {
            r_.error(m, "needs file: (a PEM public key or certificate) or secret_file: (an HMAC secret)");
            return;
        }
        if (!parsed) return;
        parsed->kid = k.kid;
        if (alg_field && !key_alg(*alg_field, k.alg, *parsed)) return;
        key_fields_.push_back(m);
        parsed_.push_back(std::move(*parsed));
        p_.keys.push_back(std::move(k));
    }

    // Rules: a known algorithm of the key's own family (and curve, and length for HMAC).
    bool key_alg(const Field& f, const std::string& name, jwt::Key& key) {
        const auto a = jwt::parse_alg(name);
        if (!a) {
            r_.error(f, "unknown algorithm " + rules::quote(name));
            return false;
        }
        if (!key.usable_with(*a)) {
            r_.error(f, "this " + std::string(jwt::family_name(key.family)) + " key cannot verify " + name +
                            (jwt::family_of(*a) == key.family ? " (wrong curve, or an HMAC secret too short for it)"
                                                               : " (a key is only used with algorithms of its own family)"));
            return false;
        }
        key.alg = a;
        return true;
    }

    void jwks(const Field& f) {
        if (!r_.read_string(f, p_.jwks_file)) return;
        const auto bytes = r_.read_file(f, p_.jwks_file, kMaxKeyFileBytes);
        if (!bytes) return;
        std::string problem;
        auto keys = jwt::keys_from_jwks(*bytes, problem);
        if (!problem.empty()) {
            r_.error(f, rules::quote(p_.jwks_file) + " " + problem);
            return;
        }
        p_.jwks = *bytes;
        for (auto& k : keys) parsed_.push_back(std::move(k));
    }

    void from(const Field& f) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (text == "bearer") {
            p_.from = JwtFrom::Bearer;
            return;
        }
        std::string kind;
        std::string name;
        if (!rules::header_or_cookie(text, kind, name)) {
            r_.error(f, "expected bearer (Authorization: Bearer), header:NAME or cookie:NAME, got " + rules::quote(text));
            return;
        }
        p_.from = kind == "header" ? JwtFrom::Header : JwtFrom::Cookie;
        p_.from_name = name;
    }

    void forward_claims(const Field& f) {
        forward_field_ = f;
        if (!f.value.IsMap()) {
            r_.error(f, "expected a mapping of claim names to header names, got " + kind_of(f.value));
            return;
        }
        for (auto it = f.value.begin(); it != f.value.end(); ++it) {
            const std::string claim = it->first.Scalar();
            const std::string header = it->second.IsScalar() ? it->second.Scalar() : std::string();
            Field at{it->first.Mark(), it->second, child_path(f.path, claim)};
            const std::string low = lower(header);
            const bool reserved = std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), low) !=
                                  std::end(kReservedHeaders);
            const bool taken = std::any_of(p_.forward_claims.begin(), p_.forward_claims.end(),
                                           [&](const auto& c) { return lower(c.second) == low; });
            if (claim.empty() || claim.size() > kMaxClaimName || !visible_text(claim)) {
                r_.error(at, "invalid claim name " + rules::quote(claim));
            } else if (!rules::is_token(header)) {
                r_.error(at, "invalid header name " + rules::quote(header));
            } else if (reserved) {
                r_.error(at, rules::quote(header) + " cannot carry a claim (haven sets or interprets it itself)");
            } else if (taken) {
                r_.error(at, "header " + rules::quote(header) + " already carries another claim");
            } else {
                p_.forward_claims.emplace_back(claim, header);
            }
        }
    }

    // Rules: every allowed algorithm has a key it can use (else it could never pass, and a typo
    // would go unnoticed); a key's own alg is among the allowed ones.
    void cross_check() {
        if (p_.keys.empty() && p_.jwks.empty()) return; // reported already
        for (std::size_t i = 0; i < p_.algorithms.size(); ++i) {
            const auto a = *jwt::parse_alg(p_.algorithms[i]);
            const bool has_key = std::any_of(parsed_.begin(), parsed_.end(), [&](const jwt::Key& k) { return k.usable_with(a); });
            if (has_key) continue;
            std::string need = std::string(jwt::family_name(jwt::family_of(a))) + " key";
            if (jwt::curve_bits_of(a) != 0) need = "EC key on P-" + std::to_string(jwt::curve_bits_of(a));
            if (jwt::family_of(a) == jwt::KeyFamily::Hmac) need = "HMAC secret of at least " + std::to_string(jwt::min_secret_bytes(a)) + " bytes";
            r_.error(alg_fields_[i], p_.algorithms[i] + " has no key of its family (it needs an " + need + ")");
        }
        for (std::size_t i = 0; i < p_.keys.size(); ++i) {
            const auto& alg = p_.keys[i].alg;
            if (!alg.empty() && std::find(p_.algorithms.begin(), p_.algorithms.end(), alg) == p_.algorithms.end()) {
                r_.error(key_fields_[i], "this key's alg " + alg + " is not in algorithms");
            }
        }
        if (p_.from != JwtFrom::Header) return;
        for (const auto& [claim, header] : p_.forward_claims) {
            if (lower(header) == lower(p_.from_name)) r_.error(*forward_field_, "header " + rules::quote(header) + " carries the token (from:)");
        }
    }

    Reader& r_;
    JwtPolicy& p_;
    std::vector<Field> alg_fields_;   // parallel to p_.algorithms
    std::vector<Field> key_fields_;   // parallel to p_.keys
    std::optional<Field> forward_field_;
    std::vector<jwt::Key> parsed_;    // every key, from keys: and the JWKS
};

bool has_claim_key(const Policies& p) {
    return p.rate_limit && p.rate_limit->key.kind == LimitKeyKind::Claim;
}

} // namespace

void read_jwt(Reader& reader, const Field& f, JwtPolicy& out) { JwtReader(reader, out).read(f); }

void check_claim_limit_keys(const Listener& l, const std::string& path, const std::string& file,
                            std::vector<ConfigError>& errors) {
    const auto check = [&](const Policies& own, const std::string& where) {
        const bool jwt = own.jwt || l.policies.jwt;
        if (jwt) return;
        for (const Policies* p : {&l.policies, &own}) {
            if (!has_claim_key(*p)) continue;
            errors.push_back(ConfigError{file, p->rate_limit->loc.line, p->rate_limit->loc.column,
                                         where + ": a rate limit keyed by claim:" + p->rate_limit->key.name +
                                             " needs a jwt policy on this route (or its listener) to take the claim from"});
            return;
        }
    };
    if (!l.pool.empty()) check(Policies{}, path + ".pool"); // the listener's default route
    for (std::size_t i = 0; i < l.routes.size(); ++i) check(l.routes[i].policies, path + ".routes[" + std::to_string(i) + "]");
}

} // namespace haven::config
