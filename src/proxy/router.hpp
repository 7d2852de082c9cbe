// Router: a listener's routes compiled for matching on the request path. First match wins; a
// route without `match` matches everything. Host matching is case-insensitive and ignores the
// port; "*.example.com" matches any name ending in ".example.com".
#pragma once

#include "config/schema.hpp"
#include "http/parser.hpp"
#include "proxy/metrics.hpp"

#include <functional>
#include <memory>

#include <cstdint>
#include <string>
#include <vector>

namespace haven::policy {
struct RoutePolicies;
}

namespace haven::proxy {

inline constexpr std::uint32_t kNoPool = UINT32_MAX;

class Router {
public:
    using MetricsFor = std::function<std::shared_ptr<RouteMetrics>(std::size_t position, const std::string& pool)>;
    using PoliciesFor =
        std::function<std::shared_ptr<policy::RoutePolicies>(std::size_t position, const config::Policies& own)>;

    // `pool_index(name)` maps a pool name to its index in the snapshot; `metrics` gives each route
    // its counters and `policies` its compiled policies (either may be empty: none).
    template <typename PoolIndexFn>
    static Router compile(const config::Listener& listener, PoolIndexFn&& pool_index, const MetricsFor& metrics = {},
                          const PoliciesFor& policies = {}) {
        Router r;
        std::size_t position = 0;
        const auto add = [&](const std::optional<config::RouteMatch>& match, const std::string& pool,
                             const config::Policies& own) {
            auto compiled = policies ? policies(position, own) : std::shared_ptr<policy::RoutePolicies>();
            const auto index = pool_index(pool);
            const std::string* fallback_name = fallback_pool_of(compiled.get());
            std::uint32_t fallback = fallback_name ? pool_index(*fallback_name) : kNoPool;
            if (fallback == index) fallback = kNoPool; // a listener's default fallback, on a route of that pool
            r.add(match, index, metrics ? metrics(position, pool) : std::shared_ptr<RouteMetrics>(), std::move(compiled),
                  fallback);
            ++position;
        };
        for (const auto& route : listener.routes) add(route.match, route.pool, route.policies);
        if (!listener.pool.empty()) add(std::nullopt, listener.pool, config::Policies{});
        return r;
    }

    struct Match {
        std::uint32_t pool = kNoPool;
        RouteMetrics* metrics = nullptr;
        policy::RoutePolicies* policies = nullptr;
        std::uint32_t fallback_pool = kNoPool; // the route's fallback pool (policies.fallback.pool)
    };

    // The route for this request (pool kNoPool when none matches).
    Match route(const http::RequestHead& req) const;
    // The pool index for this request, or kNoPool.
    std::uint32_t match(const http::RequestHead& req) const { return route(req).pool; }
    std::size_t size() const { return routes_.size(); }

private:
    struct CompiledRoute {
        bool any = false;
        std::string host;          // lowercased exact host, or suffix ".example.com" when wildcard
        bool host_wildcard = false;
        bool has_host = false;
        std::string path_prefix;
        bool has_prefix = false;
        std::string path;
        bool has_path = false;
        std::uint32_t methods = 0; // bit per http::Method; 0 = any
        std::vector<std::string> other_methods; // method tokens without an http::Method value
        std::uint32_t pool = kNoPool;
        std::shared_ptr<RouteMetrics> metrics;
        std::shared_ptr<policy::RoutePolicies> policies;
        std::uint32_t fallback_pool = kNoPool;
    };
    void add(const std::optional<config::RouteMatch>& match, std::uint32_t pool, std::shared_ptr<RouteMetrics> metrics = {},
             std::shared_ptr<policy::RoutePolicies> policies = {}, std::uint32_t fallback_pool = kNoPool);
    static bool host_matches(const CompiledRoute& r, std::string_view host);
    // The name of the pool the route's fallback sends to (null: none).
    static const std::string* fallback_pool_of(const policy::RoutePolicies* p);
    static bool method_matches(const CompiledRoute& r, const http::RequestHead& req);

    std::vector<CompiledRoute> routes_;
};

} // namespace haven::proxy
