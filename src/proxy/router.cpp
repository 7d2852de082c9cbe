#include "proxy/router.hpp"

#include "policy/route_policies.hpp"

#include <algorithm>

namespace haven::proxy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != b[i]) return false; // b is already lowercase
    }
    return true;
}

// "Example.COM:8080" -> "Example.COM"; "[::1]:80" -> "[::1]"
std::string_view strip_port(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    const auto colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

http::Method method_of(std::string_view m) {
    using M = http::Method;
    static constexpr std::pair<std::string_view, M> names[] = {
        {"GET", M::Get}, {"HEAD", M::Head}, {"POST", M::Post}, {"PUT", M::Put}, {"DELETE", M::Delete},
        {"CONNECT", M::Connect}, {"OPTIONS", M::Options}, {"TRACE", M::Trace}, {"PATCH", M::Patch},
    };
    for (const auto& [name, id] : names) {
        if (name == m) return id;
    }
    return M::Other;
}

} // namespace

void Router::add(const std::optional<config::RouteMatch>& match, std::uint32_t pool, std::shared_ptr<RouteMetrics> metrics,
                 std::shared_ptr<policy::RoutePolicies> policies, std::uint32_t fallback_pool) {
    CompiledRoute r;
    r.pool = pool;
    r.fallback_pool = fallback_pool;
    r.metrics = std::move(metrics);
    r.policies = std::move(policies);
    if (!match) {
        r.any = true;
        routes_.push_back(std::move(r));
        return;
    }
    if (match->host) {
        r.has_host = true;
        std::string_view h = *match->host;
        if (h.starts_with("*.")) {
            r.host_wildcard = true;
            h.remove_prefix(1); // keep the dot: ".example.com"
        }
        r.host = lowercase(h);
    }
    if (match->path_prefix) {
        r.has_prefix = true;
        r.path_prefix = *match->path_prefix;
    }
    if (match->path) {
        r.has_path = true;
        r.path = *match->path;
    }
    for (const auto& m : match->methods) {
        const auto id = method_of(m);
        if (id == http::Method::Other) {
            r.other_methods.push_back(m);
        } else {
            r.methods |= 1u << static_cast<unsigned>(id);
        }
    }
    routes_.push_back(std::move(r));
}

bool Router::host_matches(const CompiledRoute& r, std::string_view host) {
    host = strip_port(host);
    if (!host.empty() && host.back() == '.') host.remove_suffix(1); // "example.com." is the same name
    if (!r.host_wildcard) return iequals(host, r.host);
    return host.size() > r.host.size() && iequals(host.substr(host.size() - r.host.size()), r.host);
}

bool Router::method_matches(const CompiledRoute& r, const http::RequestHead& req) {
    if (r.methods == 0 && r.other_methods.empty()) return true;
    if (req.method != http::Method::Other) return (r.methods >> static_cast<unsigned>(req.method)) & 1u;
    return std::find(r.other_methods.begin(), r.other_methods.end(), req.method_text) != r.other_methods.end();
}

const std::string* Router::fallback_pool_of(const policy::RoutePolicies* p) {
    return p && p->fallback && !p->fallback->pool.empty() ? &p->fallback->pool : nullptr;
}

Router::Match Router::route(const http::RequestHead& req) const {
    for (const auto& r : routes_) {
        if (r.any) return {r.pool, r.metrics.get(), r.policies.get(), r.fallback_pool};
        if (r.has_host && !host_matches(r, req.host)) continue;
        if (r.has_path && req.path != r.path) continue;
        if (r.has_prefix && !req.path.starts_with(r.path_prefix)) continue;
        if (!method_matches(r, req)) continue;
        return {r.pool, r.metrics.get(), r.policies.get(), r.fallback_pool};
    }
    return {};
}

} // namespace haven::proxy
