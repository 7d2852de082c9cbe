// A pool's `sticky:` and a server's `cookie:` (see sticky_keys.hpp). Values are checked where
// they are read, so an error points at them; the rules between keys are in check_sticky_keys.
#include "config/sticky_keys.hpp"

#include <unordered_map>

namespace haven::config {
namespace {

constexpr std::string_view kStickyKeys[] = {"cookie", "table", "redispatch"};
constexpr std::string_view kCookieKeys[] = {"name",     "mode",     "indirect", "nocache", "httponly",
                                            "secure",   "samesite", "max_age",  "domain",  "path"};
constexpr std::string_view kTableKeys[] = {"on", "expire", "size", "shared"};
constexpr EnumValue kCookieModes[] = {{"insert", static_cast<int>(CookieMode::Insert)},
                                {"rewrite", static_cast<int>(CookieMode::Rewrite)},
                                {"prefix", static_cast<int>(CookieMode::Prefix)}};
constexpr EnumValue kSameSite[] = {{"lax", static_cast<int>(SameSite::Lax)},
                                   {"strict", static_cast<int>(SameSite::Strict)},
                                   {"none", static_cast<int>(SameSite::None)}};
constexpr rules::Range kTableSize{1, 10'000'000};
constexpr std::string_view kSharedKeys[] = {"redis", "sentinels", "master", "password", "database", "prefix", "sync"};
constexpr rules::Range kDatabase{0, 15};

// RFC 6265 §4.1.1 cookie-octet: visible ASCII except '"', ',', ';' and '\'.
bool cookie_octet(char c) { return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\'; }

// An attribute value haven writes into Set-Cookie: visible ASCII without ';' (it would end the
// attribute and start another).
bool attribute_text(std::string_view v) {
    for (char c : v) {
        if (c <= 0x20 || c >= 0x7f || c == ';') return false;
    }
    return !v.empty();
}

class StickyReader {
public:
    explicit StickyReader(Reader& r) : r_(r) {}

    void sticky(const Field& f, Sticky& out) {
        out.loc = r_.loc(f);
        r_.each_key(f, kStickyKeys, [&](std::string_view key, const Field& v) {
            if (key == "cookie") cookie(v, out.cookie.emplace());
            else if (key == "table") table(v, out.table.emplace());
            else r_.read_bool(v, out.redispatch);
        });
    }

private:
    void cookie(const Field& f, StickyCookie& c) {
        c.loc = r_.loc(f);
        r_.each_key(f, kCookieKeys, [&](std::string_view key, const Field& v) {
            if (key == "name") name(v, c.name);
            else if (key == "mode") r_.read_enum(v, kCookieModes, c.mode);
            else if (key == "indirect") r_.read_bool(v, c.indirect);
            else if (key == "nocache") r_.read_bool(v, c.nocache);
            else if (key == "httponly") r_.read_bool(v, c.httponly);
            else if (key == "secure") r_.read_bool(v, c.secure);
            else if (key == "samesite") r_.read_enum(v, kSameSite, c.samesite);
            else if (key == "max_age") r_.read_duration(v, true, c.max_age);
            else attribute(v, key, key == "domain" ? c.domain : c.path);
        });
        const YAML::Node m = f.value;
        if (c.name.empty() && m.IsMap() && !m["name"]) {
            r_.error(f, "missing \"name\": the cookie's name, e.g. name: SERVERID");
        }
    }

    void table(const Field& f, StickTableConfig& t) {
        t.loc = r_.loc(f);
        r_.each_key(f, kTableKeys, [&](std::string_view key, const Field& v) {
            if (key == "on") on(v, t);
            else if (key == "expire") r_.read_duration(v, false, t.expire);
            else if (key == "size") r_.read_uint(v, kTableSize, t.size);
            else r_.read_bool(v, t.shared);
        });
    }

    // Rules: source | header:NAME | cookie:NAME, NAME an RFC 9110 token.
    void on(const Field& f, StickTableConfig& t) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (text == "source") {
            t.on = StickOn::Source;
            return;
        }
        std::string kind;
        std::string nm;
        if (!rules::header_or_cookie(text, kind, nm)) {
            r_.error(f, "unknown value " + rules::quote(text) +
                            " (expected source, header:NAME or cookie:NAME, e.g. cookie:JSESSIONID)");
            return;
        }
        t.on = kind == "header" ? StickOn::Header : StickOn::Cookie;
        t.name = nm;
    }

    void name(const Field& f, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (!rules::is_token(text)) {
            r_.error(f, "invalid cookie name " + rules::quote(text) + " (a token such as SERVERID)");
            return;
        }
        out = std::move(text);
    }

    void attribute(const Field& f, std::string_view key, std::string& out) {
        std::string text;
        if (!r_.read_string(f, text)) return;
        if (!attribute_text(text) || (key == "path" && text.front() != '/')) {
            r_.error(f, "invalid " + std::string(key) + " " + rules::quote(text) +
                            (key == "path" ? " (a path starting with '/', no spaces or ';')"
                                           : " (a domain such as example.com, no spaces or ';')"));
            return;
        }
        out = std::move(text);
    }

    Reader& r_;
};

class StickyChecker {
public:
    StickyChecker(const Config& c, std::vector<ConfigError>& errors) : c_(c), errors_(errors) {}

    void run() {
        for (std::size_t i = 0; i < c_.pools.size(); ++i) pool(c_.pools[i], "pools[" + std::to_string(i) + "]");
        // Stickiness works on HTTP requests (cookies, headers, per request); a TCP listener's
        // connections would ignore it, so the config says so instead.
        for (std::size_t i = 0; i < c_.listeners.size(); ++i) {
            const auto& l = c_.listeners[i];
            if (l.mode != ListenerMode::Tcp) continue;
            for (const auto& p : c_.pools) {
                if (p.name == l.pool && p.sticky) {
                    add(l.loc, "listeners[" + std::to_string(i) + "]: a tcp listener cannot use pool " +
                                   rules::quote(p.name) + ", which has sticky: (stickiness applies to HTTP listeners)");
                }
            }
        }
    }

private:
    void add(SourceLoc loc, std::string message) {
        errors_.push_back(ConfigError{c_.source, loc.line, loc.column, std::move(message)});
    }

    void pool(const Pool& p, const std::string& path) {
        const bool has_cookie = p.sticky && p.sticky->cookie;
        std::unordered_map<std::string, const Server*> seen;
        for (std::size_t i = 0; i < p.servers.size(); ++i) {
            const Server& s = p.servers[i];
            if (s.cookie.empty()) continue;
            const std::string at = path + ".servers[" + std::to_string(i) + "].cookie";
            if (!has_cookie) add(s.loc, at + ": the pool has no sticky.cookie for it to name this server in");
            if (!is_sticky_cookie_value(s.cookie)) add(s.loc, at + ": invalid value " + rules::quote(s.cookie) +
                                                                  " (1 to 64 cookie characters, no '~')");
            const auto [it, fresh] = seen.emplace(s.cookie, &s);
            if (!fresh) add(s.loc, at + ": " + rules::quote(s.cookie) + " already names server " +
                                       rules::quote(it->second->name) + " (line " + rules::loc_text(it->second->loc) + ")");
        }
        if (!p.sticky) return;
        const Sticky& st = *p.sticky;
        if (!st.cookie && !st.table) add(st.loc, path + ".sticky: needs a cookie, a table or both");
        if (st.cookie) cookie(*st.cookie, path + ".sticky.cookie");
    }

    void cookie(const StickyCookie& c, const std::string& path) {
        if (c.name.empty()) return; // reported where it was read
        const bool insert = c.mode == CookieMode::Insert;
        const bool attrs = c.indirect || c.nocache || c.httponly || c.secure || c.samesite != SameSite::Unset ||
                           c.max_age.count() != 0 || !c.domain.empty() || c.path != "/";
        if (!insert && attrs) {
            add(c.loc, path + ": indirect, nocache, httponly, secure, samesite, max_age, domain and path apply to "
                              "mode: insert only (in rewrite and prefix modes the server's own cookie keeps its "
                              "attributes)");
        }
        if (c.samesite == SameSite::None && !c.secure) {
            add(c.loc, path + ": samesite: none needs secure: true (browsers refuse the cookie otherwise)");
        }
    }

    const Config& c_;
    std::vector<ConfigError>& errors_;
};

} // namespace

// How often shared limit counts go to Redis: the overshoot of a shared limit grows with it
// (docs/sessions.md), and below 10 ms the round trips cost more than they buy.
static void read_sync(Reader& r, const Field& v, Duration& out) {
    Duration d{};
    if (!r.read_duration(v, false, d)) return;
    if (d < Duration(10) || d > Duration(10'000)) {
        r.error(v, "must be from 10ms to 10s, got " + rules::duration_text(d));
        return;
    }
    out = d;
}

void read_shared_state(Reader& r, const Field& f, SharedState& out) {
    out.loc = r.loc(f);
    const auto endpoints = [&](const Field& v, std::vector<Endpoint>& list) {
        // One address or a list of them.
        if (v.value.IsScalar()) {
            if (r.read_endpoint(v, false, list.emplace_back())) return;
            list.pop_back();
            return;
        }
        r.each_item(v, [&](std::size_t, const Field& item) {
            if (!r.read_endpoint(item, false, list.emplace_back())) list.pop_back();
        });
    };
    bool any = r.each_key(f, kSharedKeys, [&](std::string_view key, const Field& v) {
        if (key == "redis") endpoints(v, out.redis);
        else if (key == "sentinels") endpoints(v, out.sentinels);
        else if (key == "master") r.read_string(v, out.master);
        else if (key == "password") r.read_string(v, out.password);
        else if (key == "database") r.read_uint(v, kDatabase, out.database);
        else if (key == "sync") read_sync(r, v, out.sync);
        else {
            std::string text;
            if (!r.read_string(v, text)) return;
            if (!rules::is_object_name(text)) {
                r.error(v, "invalid prefix " + rules::quote(text) + " (letters, digits and -_.:)");
                return;
            }
            out.prefix = std::move(text);
        }
    });
    if (!any) return;
    // Rules: exactly one of redis and sentinels; sentinels need the master's name; a master name
    // without sentinels would be silently unused.
    if (out.redis.empty() == out.sentinels.empty()) {
        r.error(f, "needs either redis (the address of one Redis) or sentinels (with master), not " +
                       std::string(out.redis.empty() ? "neither" : "both"));
    } else if (!out.sentinels.empty() && out.master.empty()) {
        r.error(f, "sentinels needs master: the name the sentinels monitor the Redis master by");
    } else if (out.sentinels.empty() && !out.master.empty()) {
        r.error(f, "master applies only with sentinels");
    }
}

bool is_sticky_cookie_value(std::string_view value) {
    if (value.empty() || value.size() > 64) return false;
    for (char c : value) {
        if (!cookie_octet(c) || c == '~') return false;
    }
    return true;
}

void read_pool_sticky(Reader& reader, const Field& f, Sticky& out) { StickyReader(reader).sticky(f, out); }

void read_server_cookie(Reader& reader, const Field& f, std::string& out) {
    std::string text;
    if (!reader.read_string(f, text)) return;
    if (!is_sticky_cookie_value(text)) {
        reader.error(f, "invalid cookie value " + rules::quote(text) + " (1 to 64 cookie characters, no '~')");
        return;
    }
    out = std::move(text);
}

void check_sticky_keys(const Config& config, std::vector<ConfigError>& errors) {
    StickyChecker(config, errors).run();
}

} // namespace haven::config
