#include "policy/jwt/jwt_verifier.hpp"

#include "policy/jwt/base64url.hpp"
#include "policy/jwt/signature.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace haven::policy::jwt {

using nlohmann::json;

struct Verifier::Parts {
    std::string_view signing_input; // "<header>.<payload>", as received
    std::string_view header, payload, signature; // base64url text
    std::string signature_bytes;
};

namespace {

constexpr std::array<std::string_view, kResults> kResultNames = {
    "valid", "missing", "malformed", "alg_not_allowed", "unknown_key", "bad_signature",
    "bad_issuer", "bad_audience", "expired", "not_yet_valid"};

// Rules: exactly three parts separated by '.', the first two non-empty, all three canonical
// base64url (the signature decoded here; header and payload when they are parsed).
bool split(std::string_view token, std::string_view& h, std::string_view& p, std::string_view& s) {
    const auto d1 = token.find('.');
    if (d1 == std::string_view::npos) return false;
    const auto d2 = token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return false;
    h = token.substr(0, d1);
    p = token.substr(d1 + 1, d2 - d1 - 1);
    s = token.substr(d2 + 1);
    return !h.empty() && !p.empty();
}

// A base64url part holding one JSON object; discarded (not an object) otherwise.
json parse_part(std::string_view b64) {
    std::string text;
    if (!base64url_decode(b64, text)) return json(json::value_t::discarded);
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return json(json::value_t::discarded);
    return j;
}

// A NumericDate (RFC 7519 §2): a JSON number of seconds, not necessarily whole. `round_up`
// rounds a fraction towards the stricter side for that claim. Beyond ±10^15 s (30 million
// years) it is refused, which also keeps the arithmetic of check_times() far from overflow.
bool numeric_date(const json& j, const char* name, bool round_up, std::int64_t& out) {
    const auto it = j.find(name);
    if (it == j.end()) return true;
    if (!it->is_number()) return false;
    const double v = it->get<double>();
    if (!std::isfinite(v) || std::fabs(v) > 1e15) return false;
    out = static_cast<std::int64_t>(round_up ? std::ceil(v) : std::floor(v));
    return true;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

// A claim as a header value (see Settings::claims); empty when it cannot be one.
std::string claim_text(const json& v) {
    std::string out;
    if (v.is_string()) {
        out = v.get<std::string>();
    } else if (v.is_array()) {
        for (const auto& item : v) {
            if (!item.is_string() && !item.is_number() && !item.is_boolean()) return {};
            if (!out.empty()) out += ',';
            out += item.is_string() ? item.get<std::string>() : item.dump();
            if (out.size() > kMaxClaimValueBytes) return {};
        }
    } else if (!v.is_null()) {
        out = v.dump();
    }
    if (out.size() > kMaxClaimValueBytes || has_control(out)) return {};
    return out;
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

} // namespace

std::string_view result_name(Result r) { return kResultNames[static_cast<std::size_t>(r)]; }

Verifier::Verifier(Settings settings, std::vector<Key> keys) : settings_(std::move(settings)), keys_(std::move(keys)) {
    for (const Alg a : settings_.algorithms) allowed_[static_cast<std::size_t>(a)] = true;
}

Result Verifier::verify(std::string_view token, Verified& out) const {
    // Rules, in order (each refusal names the first problem): the size bound before any work;
    // the structure; the header (an allowed algorithm, no unknown critical extension); a key of
    // the algorithm's family; the signature; then the claims the signature vouches for.
    if (token.empty() || token.size() > kMaxTokenBytes) return Result::Malformed;
    Parts parts;
    if (!split(token, parts.header, parts.payload, parts.signature)) return Result::Malformed;
    parts.signing_input = token.substr(0, parts.header.size() + 1 + parts.payload.size());
    if (base64url_decoded_size(parts.payload.size()) == SIZE_MAX ||
        !base64url_decode(parts.signature, parts.signature_bytes)) {
        return Result::Malformed;
    }
    Alg alg{};
    std::string kid;
    if (const Result r = check_header(parts.header, alg, kid); r != Result::Valid) return r;
    if (const Result r = check_signature(parts, alg, kid); r != Result::Valid) return r;
    return check_claims(parts.payload, out);
}

Result Verifier::check_header(std::string_view header_b64, Alg& alg, std::string& kid) const {
    const json h = parse_part(header_b64);
    if (h.is_discarded()) return Result::Malformed;
    const auto a = h.find("alg");
    if (a == h.end() || !a->is_string()) return Result::Malformed;
    // `crit` names extensions the verifier must understand (RFC 7515 §4.1.11); haven knows none,
    // so any is a refusal (this also refuses unencoded payloads, RFC 7797's "b64": false).
    if (h.contains("crit")) return Result::Malformed;
    const auto k = h.find("kid");
    if (k != h.end()) {
        if (!k->is_string()) return Result::Malformed;
        kid = k->get<std::string>();
    }
    // `jwk`, `jku`, `x5u`, `x5c` are never followed: only configured keys verify.
    const auto parsed = parse_alg(a->get<std::string>());
    if (!parsed || !allowed_[static_cast<std::size_t>(*parsed)]) return Result::AlgNotAllowed;
    alg = *parsed;
    return Result::Valid;
}

Result Verifier::check_signature(const Parts& parts, Alg alg, const std::string& kid) const {
    // Candidates: keys usable with the algorithm (its family, curve, length, own alg). When both
    // the token and a key have a kid, they must be equal; a token without a kid is tried with
    // every candidate (a kid is a hint, RFC 7515 §4.1.4), as is a key configured without one.
    bool any_candidate = false;
    for (const Key& key : keys_) {
        if (!key.usable_with(alg) || (!kid.empty() && !key.kid.empty() && key.kid != kid)) continue;
        any_candidate = true;
        if (verify_signature(alg, key, parts.signing_input, parts.signature_bytes)) return Result::Valid;
    }
    return any_candidate ? Result::BadSignature : Result::UnknownKey;
}

Result Verifier::check_claims(std::string_view payload_b64, Verified& out) const {
    const json p = parse_part(payload_b64);
    if (p.is_discarded()) return Result::Malformed;
    out.times = TokenTimes{};
    if (!numeric_date(p, "exp", false, out.times.exp) || !numeric_date(p, "nbf", true, out.times.nbf) ||
        !numeric_date(p, "iat", true, out.times.iat)) {
        return Result::Malformed;
    }
    if (settings_.require_exp && out.times.exp == kNoTime) return Result::Malformed;
    if (!settings_.issuers.empty()) {
        const auto iss = p.find("iss");
        if (iss == p.end() || !iss->is_string() || !contains(settings_.issuers, iss->get<std::string>())) {
            return Result::BadIssuer;
        }
    }
    if (!settings_.audiences.empty()) {
        const auto aud = p.find("aud");
        bool ok = false;
        if (aud != p.end() && aud->is_string()) ok = contains(settings_.audiences, aud->get<std::string>());
        if (aud != p.end() && aud->is_array()) {
            for (const auto& a : *aud) ok = ok || (a.is_string() && contains(settings_.audiences, a.get<std::string>()));
        }
        if (!ok) return Result::BadAudience;
    }
    out.claims.resize(settings_.claims.size());
    for (std::size_t i = 0; i < settings_.claims.size(); ++i) {
        const auto it = p.find(settings_.claims[i]);
        out.claims[i] = it == p.end() ? std::string() : claim_text(*it);
    }
    return Result::Valid;
}

Result Verifier::check_times(const TokenTimes& t, std::int64_t now) const {
    const std::int64_t leeway = settings_.leeway_s;
    // Rules (RFC 7519 §4.1.4-6): expired at or after exp; not valid before nbf; a token issued in
    // the future (iat) is not valid yet either. The leeway absorbs clock skew each way.
    if (t.exp != kNoTime && now >= t.exp && now - t.exp >= leeway) return Result::Expired;
    if (t.nbf != kNoTime && now < t.nbf && t.nbf - now > leeway) return Result::NotYetValid;
    if (t.iat != kNoTime && t.iat > now && t.iat - now > leeway) return Result::NotYetValid;
    return Result::Valid;
}

} // namespace haven::policy::jwt
