#include "policy/stale_cache.hpp"

#include "http/fields.hpp"

#include <algorithm>
#include <span>
#include <charconv>
#include <cctype>

namespace haven::policy {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// The directives of every Cache-Control field, as far as a stale cache needs them.
struct CacheControl {
    bool no_store = false, no_cache = false, private_ = false, public_ = false;
    std::optional<std::uint64_t> max_age, s_maxage, stale_if_error;
};

std::optional<std::uint64_t> seconds(std::string_view v) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
    return n;
}

void parse_directives(std::string_view value, CacheControl& cc) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        const std::string_view item = http::trim(value.substr(0, comma));
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        const auto eq = item.find('=');
        const std::string_view name = http::trim(item.substr(0, eq));
        const std::string_view arg = eq == std::string_view::npos ? std::string_view() : http::trim(item.substr(eq + 1));
        if (iequals(name, "no-store")) cc.no_store = true;
        else if (iequals(name, "no-cache")) cc.no_cache = true;
        else if (iequals(name, "private")) cc.private_ = true;
        else if (iequals(name, "public")) cc.public_ = true;
        else if (iequals(name, "max-age")) cc.max_age = seconds(arg);
        else if (iequals(name, "s-maxage")) cc.s_maxage = seconds(arg);
        else if (iequals(name, "stale-if-error")) cc.stale_if_error = seconds(arg);
    }
}

CacheControl cache_control(std::span<const http::Header> headers, bool& has_named_field, std::string_view named) {
    CacheControl cc;
    for (const auto& h : headers) {
        if (iequals(h.name, "Cache-Control")) parse_directives(h.value, cc);
        if (!named.empty() && iequals(h.name, named)) has_named_field = true;
    }
    return cc;
}

bool has_field(std::span<const http::Header> headers, std::string_view name) {
    return std::any_of(headers.begin(), headers.end(), [&](const http::Header& h) { return iequals(h.name, name); });
}

// RFC 9110 §15.1: statuses a cache may store without explicit freshness.
bool cacheable_by_default(int status) {
    switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308: case 404: case 405: case 410: case 414: case 501:
        return true;
    default: return false;
    }
}

} // namespace

std::optional<Storable> storable(const http::RequestHead& req, const http::ResponseHead& resp, std::uint64_t max_object,
                                 Duration max_stale) {
    if (req.method != http::Method::Get || resp.status == 206) return std::nullopt;
    bool authorized = false;
    const CacheControl rq = cache_control(req.headers, authorized, "Authorization");
    if (rq.no_store) return std::nullopt;
    if (resp.body != http::BodyKind::ContentLength || resp.content_length > max_object) return std::nullopt;
    bool unused = false;
    const CacheControl cc = cache_control(resp.headers, unused, {});
    if (cc.no_store || cc.no_cache || cc.private_) return std::nullopt;
    // A shared cache stores an authorized request's answer only when the server says so (RFC 9111 §3.5).
    if (authorized && !cc.public_ && !cc.s_maxage) return std::nullopt;
    // Never replay one client's cookie or a variant chosen by request fields to another client.
    if (has_field(resp.headers, "Set-Cookie") || has_field(resp.headers, "Vary")) return std::nullopt;
    if (!cacheable_by_default(resp.status) && !cc.max_age && !cc.s_maxage && !cc.public_) return std::nullopt;
    Storable s;
    const auto fresh = cc.s_maxage ? cc.s_maxage : cc.max_age;
    s.lifetime = std::chrono::seconds(fresh.value_or(0));
    s.stale_window = cc.stale_if_error ? Duration(std::chrono::seconds(*cc.stale_if_error)) : max_stale;
    return s;
}

std::string stale_key(const http::RequestHead& req) {
    std::string key;
    key.reserve(req.host.size() + req.target.size() + 1);
    for (const char c : req.host) key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    key.push_back(' ');
    key.append(req.target);
    return key;
}

std::string stored_head(const http::ResponseHead& resp) {
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + std::string(resp.reason) + "\r\n";
    for (const auto& h : resp.headers) {
        if (h.hop_by_hop || h.id == http::HeaderId::ContentLength || h.id == http::HeaderId::TransferEncoding ||
            h.id == http::HeaderId::Date || iequals(h.name, "Age")) {
            continue;
        }
        out.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    return out;
}

void StaleCache::put(const std::string& key, Entry e) {
    if (e.bytes() > max_bytes_) return;
    if (const auto it = map_.find(key); it != map_.end()) erase(it->second);
    bytes_.fetch_add(e.bytes(), std::memory_order_relaxed);
    lru_.emplace_front(key, std::move(e));
    map_.emplace(lru_.front().first, lru_.begin());
    while (bytes() > max_bytes_ && !lru_.empty()) erase(std::prev(lru_.end()));
}

const StaleCache::Entry* StaleCache::get(const std::string& key, TimePoint now) {
    const auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    const auto node = it->second;
    if (now - node->second.stored > node->second.usable_for) {
        erase(node);
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, node);
    return &node->second;
}

void StaleCache::erase(Lru::iterator it) {
    bytes_.fetch_sub(it->second.bytes(), std::memory_order_relaxed);
    map_.erase(std::string_view(it->first));
    lru_.erase(it);
}

} // namespace haven::policy
