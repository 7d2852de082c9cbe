// The sticky cookie's text work (see cookie.hpp).
#include "session/cookie.hpp"

#include "http/fields.hpp"
#include "http/syntax.hpp"

#include <openssl/evp.h>

namespace haven::session {
namespace {

// Rewritten lines are written straight into `out.lines`, whose room for all of them is reserved
// first: the views taken as it goes stay valid, and the pooled scratch keeps that capacity, so a
// warm request allocates nothing.

// Starts a field line like `h` ("Name: "); returns where its value starts.
std::size_t begin_line(FieldScratch& out, const http::Header& h) {
    out.lines.append(h.name).append(": ");
    return out.lines.size();
}

// Ends the line begun at `start` and adds the field pointing at it.
void end_line(FieldScratch& out, const http::Header& like, std::size_t start, std::size_t value_at) {
    const std::size_t value_len = out.lines.size() - value_at;
    out.lines.append("\r\n");
    const std::string_view text(out.lines);
    http::Header h = like;
    h.name = text.substr(start, like.name.size());
    h.value = text.substr(value_at, value_len);
    h.line_len = static_cast<std::uint32_t>(out.lines.size() - start);
    out.headers.push_back(h);
}

bool is_set_cookie(const http::Header& h) { return http::syntax::token_is(h.name, "set-cookie"); }

// "NAME=value; attrs" -> the value's span, or npos when the cookie is another one.
std::size_t value_start(std::string_view set_cookie, std::string_view name) {
    const std::string_view pair = http::trim(set_cookie.substr(0, set_cookie.find(';')));
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || http::trim(pair.substr(0, eq)) != name) return std::string_view::npos;
    std::size_t at = static_cast<std::size_t>(pair.data() - set_cookie.data()) + eq + 1;
    while (at < set_cookie.size() && http::syntax::is_ows(set_cookie[at])) ++at;
    return at;
}

// One Cookie field's value, rewritten, appended to `out` (pairs joined by "; "); whether anything
// was taken out.
bool append_cookies_without(std::string& out, std::size_t value_at, std::string_view value,
                            const config::StickyCookie& c) {
    bool changed = false;
    const auto separate = [&] {
        if (out.size() > value_at) out.append("; ");
    };
    std::string_view rest = value;
    while (!rest.empty()) {
        const auto semi = rest.find(';');
        std::string_view pair = http::trim(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const bool ours = eq != std::string_view::npos && pair.substr(0, eq) == c.name;
        if (ours && c.mode == config::CookieMode::Insert) {
            changed = true;
            continue; // indirect: the server never sees haven's cookie
        }
        if (ours && c.mode == config::CookieMode::Prefix) {
            const std::string_view v = http::trim(pair.substr(eq + 1));
            const auto tilde = v.find('~');
            if (tilde != std::string_view::npos) {
                changed = true;
                separate();
                out.append(c.name).append("=").append(v.substr(tilde + 1));
                continue;
            }
        }
        separate();
        out.append(pair);
    }
    return changed;
}

} // namespace

std::string derived_cookie_value(std::string_view pool, std::string_view server) {
    std::string input = "haven-sticky";
    input.push_back('\0');
    input.append(pool);
    input.push_back('\0');
    input.append(server);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 6; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

std::string insert_lines(const config::StickyCookie& c, std::string_view value) {
    std::string out = "Set-Cookie: " + c.name + "=" + std::string(value);
    if (!c.path.empty()) out += "; Path=" + c.path;
    if (!c.domain.empty()) out += "; Domain=" + c.domain;
    if (c.max_age.count() > 0) out += "; Max-Age=" + std::to_string(std::max<long long>(1, c.max_age.count() / 1000));
    if (c.httponly) out += "; HttpOnly";
    if (c.secure) out += "; Secure";
    switch (c.samesite) {
    case config::SameSite::Lax: out += "; SameSite=Lax"; break;
    case config::SameSite::Strict: out += "; SameSite=Strict"; break;
    case config::SameSite::None: out += "; SameSite=None"; break;
    case config::SameSite::Unset: break;
    }
    out += "\r\n";
    if (c.nocache) out += "Cache-Control: private\r\n";
    return out;
}

std::string_view id_in_value(config::CookieMode mode, std::string_view value) {
    if (mode != config::CookieMode::Prefix) return value;
    const auto tilde = value.find('~');
    return tilde == std::string_view::npos ? std::string_view() : value.substr(0, tilde);
}

bool rewrite_request_cookies(std::span<const http::Header> fields, const config::StickyCookie& c, FieldScratch& out) {
    // Rules: insert mode changes the request only with `indirect`; rewrite mode never (the server
    // reads the id it was told to set); prefix mode takes "id~" off.
    if (c.mode == config::CookieMode::Rewrite || (c.mode == config::CookieMode::Insert && !c.indirect)) return false;
    bool any = false;
    std::string_view unused;
    for (const auto& h : fields) any = any || (h.id == http::HeaderId::Cookie && http::cookie_in(h.value, c.name, unused));
    if (!any) return false;
    out.clear();
    // Joining with "; " can add a space per ';': twice each line is room enough.
    std::size_t room = 0;
    for (const auto& h : fields) room += h.id == http::HeaderId::Cookie ? 2 * h.line_len : 0;
    out.lines.reserve(room);
    bool changed = false;
    for (const auto& h : fields) {
        if (h.id != http::HeaderId::Cookie) {
            out.headers.push_back(h);
            continue;
        }
        const std::size_t start = out.lines.size();
        const std::size_t value_at = begin_line(out, h);
        const bool this_changed = append_cookies_without(out.lines, value_at, h.value, c);
        changed = changed || this_changed;
        if (!this_changed || out.lines.size() == value_at) {
            out.lines.resize(start); // as it was, or nothing left: the field goes as is, or not at all
            if (!this_changed) out.headers.push_back(h);
            continue;
        }
        end_line(out, h, start, value_at);
    }
    return changed;
}

bool rewrite_response_cookies(std::span<const http::Header> fields, const config::StickyCookie& c,
                              std::string_view id, FieldScratch& out) {
    if (c.mode == config::CookieMode::Insert) return false;
    bool any = false;
    for (const auto& h : fields) any = any || (is_set_cookie(h) && value_start(h.value, c.name) != std::string_view::npos);
    if (!any) return false;
    out.clear();
    std::size_t room = 0;
    for (const auto& h : fields) room += is_set_cookie(h) ? h.line_len + id.size() + 1 : 0;
    out.lines.reserve(room);
    for (const auto& h : fields) {
        const std::size_t at = is_set_cookie(h) ? value_start(h.value, c.name) : std::string_view::npos;
        if (at == std::string_view::npos) {
            out.headers.push_back(h);
            continue;
        }
        const std::string_view v = h.value;
        const std::size_t end = std::min(v.find(';', at), v.size());
        const std::size_t start = out.lines.size();
        const std::size_t value_at = begin_line(out, h);
        out.lines.append(v.substr(0, at)).append(id);
        if (c.mode == config::CookieMode::Prefix) out.lines.append("~").append(v.substr(at, end - at));
        out.lines.append(v.substr(end));
        end_line(out, h, start, value_at);
    }
    return true;
}

std::string_view set_cookie_value(std::span<const http::Header> fields, std::string_view name) {
    for (const auto& h : fields) {
        if (!is_set_cookie(h)) continue;
        const std::size_t at = value_start(h.value, name);
        if (at == std::string_view::npos) continue;
        const std::string_view v = h.value.substr(at);
        return http::trim(v.substr(0, v.find(';')));
    }
    return {};
}

} // namespace haven::session
