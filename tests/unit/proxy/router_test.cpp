#include "proxy/router.hpp"

#include <gtest/gtest.h>

namespace haven::proxy {
namespace {

config::Route route(std::optional<std::string> host, std::optional<std::string> prefix, std::string pool,
                    std::optional<std::string> path = std::nullopt, std::vector<std::string> methods = {}) {
    config::Route r;
    if (host || prefix || path || !methods.empty()) {
        config::RouteMatch m;
        m.host = std::move(host);
        m.path_prefix = std::move(prefix);
        m.path = std::move(path);
        m.methods = std::move(methods);
        r.match = m;
    }
    r.pool = std::move(pool);
    return r;
}

Router compile(const config::Listener& l) {
    return Router::compile(l, [](const std::string& name) -> std::uint32_t {
        if (name == "api") return 0;
        if (name == "web") return 1;
        if (name == "static") return 2;
        if (name == "admin") return 3;
        return kNoPool;
    });
}

http::RequestHead req(std::string_view host, std::string_view path, http::Method m = http::Method::Get,
                      std::string_view method_text = "GET") {
    http::RequestHead h;
    h.host = host;
    h.path = path;
    h.method = m;
    h.method_text = method_text;
    return h;
}

TEST(Router, FirstMatchWinsAndRouteWithoutMatchIsTheDefault) {
    config::Listener l;
    l.routes = {route("api.example.com", "/v1", "api"), route(std::nullopt, "/static/", "static"),
                route(std::nullopt, std::nullopt, "web")};
    const Router r = compile(l);
    EXPECT_EQ(r.match(req("api.example.com", "/v1/users")), 0u);
    EXPECT_EQ(r.match(req("api.example.com", "/v2/users")), 1u) << "prefix must match too";
    EXPECT_EQ(r.match(req("www.example.com", "/v1/users")), 1u) << "host must match too";
    EXPECT_EQ(r.match(req("www.example.com", "/static/app.js")), 2u);
    EXPECT_EQ(r.match(req("", "/")), 1u);
}

TEST(Router, HostMatchIgnoresCasePortAndTrailingDot) {
    config::Listener l;
    l.routes = {route("api.example.com", std::nullopt, "api")};
    const Router r = compile(l);
    EXPECT_EQ(r.match(req("API.Example.COM", "/")), 0u);
    EXPECT_EQ(r.match(req("api.example.com:8080", "/")), 0u);
    EXPECT_EQ(r.match(req("api.example.com.", "/")), 0u);
    EXPECT_EQ(r.match(req("xapi.example.com", "/")), kNoPool);
    EXPECT_EQ(r.match(req("api.example.co", "/")), kNoPool);
}

TEST(Router, WildcardHostMatchesSubdomainsOnly) {
    config::Listener l;
    l.routes = {route("*.example.com", std::nullopt, "web")};
    const Router r = compile(l);
    EXPECT_EQ(r.match(req("a.example.com", "/")), 1u);
    EXPECT_EQ(r.match(req("a.b.Example.com:443", "/")), 1u);
    EXPECT_EQ(r.match(req("example.com", "/")), kNoPool);
    EXPECT_EQ(r.match(req("badexample.com", "/")), kNoPool);
}

TEST(Router, ExactPathAndMethods) {
    config::Listener l;
    l.routes = {route(std::nullopt, std::nullopt, "admin", "/admin", {"POST", "PURGE"}),
                route(std::nullopt, std::nullopt, "web", "/admin")};
    const Router r = compile(l);
    EXPECT_EQ(r.match(req("h", "/admin", http::Method::Post, "POST")), 3u);
    EXPECT_EQ(r.match(req("h", "/admin", http::Method::Other, "PURGE")), 3u);
    EXPECT_EQ(r.match(req("h", "/admin", http::Method::Get, "GET")), 1u);
    EXPECT_EQ(r.match(req("h", "/admin/x", http::Method::Post, "POST")), kNoPool);
}

TEST(Router, ListenerPoolIsAFinalDefaultRoute) {
    config::Listener l;
    l.routes = {route("api.example.com", std::nullopt, "api")};
    l.pool = "web";
    const Router r = compile(l);
    EXPECT_EQ(r.size(), 2u);
    EXPECT_EQ(r.match(req("api.example.com", "/")), 0u);
    EXPECT_EQ(r.match(req("other", "/")), 1u);
}

} // namespace
} // namespace haven::proxy
