// Verifier: one route's JWT rules applied to one token (RFC 7519 §7.2, RFC 8725's best
// practices). The full check — structure, header, algorithm, key, signature, issuer, audience —
// is what a cache miss costs; its time-independent outcome is what the cache keeps, and
// check_times() is applied on every use, cached or not, against the `now` it is given.
#pragma once

#include "policy/jwt/jwk.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace haven::policy::jwt {

// Why a request passed or was refused (the `result` label of haven_jwt_results_total).
enum class Result : std::uint8_t {
    Valid,         // verified, within its times
    Missing,       // no token where the route looks for one
    Malformed,     // not three base64url parts of JSON objects, over kMaxTokenBytes, a bad claim type,
                   // an unknown `crit` extension, no `exp` when one is required, two tokens at once
    AlgNotAllowed, // `alg` is none, unknown, or not in the route's `algorithms`
    UnknownKey,    // no configured key of the algorithm's family (with the token's kid)
    BadSignature,  // no candidate key verifies the signature
    BadIssuer,     // `iss` absent or not one of `issuers`
    BadAudience,   // `aud` absent or lists none of `audiences`
    Expired,       // now >= exp + leeway
    NotYetValid,   // now < nbf - leeway, or iat > now + leeway (issued in the future)
};
inline constexpr std::size_t kResults = 10;
std::string_view result_name(Result r); // "valid", "bad_signature", ... (metric label values)

// Larger tokens are refused before any decoding (as `malformed`).
inline constexpr std::size_t kMaxTokenBytes = 8192;
// A claim value longer than this is not forwarded nor used as a key (treated as absent).
inline constexpr std::size_t kMaxClaimValueBytes = 1024;

inline constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();

// A token's NumericDates, Unix seconds; kNoTime when absent.
struct TokenTimes {
    std::int64_t exp = kNoTime;
    std::int64_t nbf = kNoTime;
    std::int64_t iat = kNoTime;
};

struct Settings {
    std::vector<std::string> issuers;    // empty: any (or no) iss
    std::vector<std::string> audiences;  // empty: aud not checked
    std::vector<Alg> algorithms;         // never empty in a built policy
    std::int64_t leeway_s = 30;
    bool require_exp = true;
    // The claims to extract from a verified token, in this order (forwarded headers, rate-limit
    // keys). A string claim is its text; a number or boolean its JSON text; a list of strings
    // and numbers is joined with ","; an object is its compact JSON. A value with a control
    // character or over kMaxClaimValueBytes is left empty (absent).
    std::vector<std::string> claims;
};

// What a signature-verified token says: its times and the claims asked for.
struct Verified {
    TokenTimes times;
    std::vector<std::string> claims; // one per Settings::claims; empty: absent
};

class Verifier {
public:
    Verifier(Settings settings, std::vector<Key> keys);

    // The time-independent checks. Valid: the signature verifies and iss/aud match; `out` holds
    // the token's times and claims (the caller must still call check_times).
    Result verify(std::string_view token, Verified& out) const;
    // exp, nbf and iat against `now` (Unix seconds) with the leeway.
    Result check_times(const TokenTimes& t, std::int64_t now) const;
    // Both, as a request sees them.
    Result verify_at(std::string_view token, std::int64_t now, Verified& out) const {
        const Result r = verify(token, out);
        return r == Result::Valid ? check_times(out.times, now) : r;
    }

    const Settings& settings() const { return settings_; }
    const std::vector<Key>& keys() const { return keys_; }

private:
    struct Parts;
    Result check_header(std::string_view header_b64, Alg& alg, std::string& kid) const;
    Result check_signature(const Parts& parts, Alg alg, const std::string& kid) const;
    Result check_claims(std::string_view payload_b64, Verified& out) const;

    Settings settings_;
    std::vector<Key> keys_;
    std::array<bool, kAlgs> allowed_{};
};

} // namespace haven::policy::jwt
