// The loader on good input: the issue's example with every field checked, the shipped examples,
// files, and the behaviours around errors (order, cap, positions, resolver).
#include "config/yaml_loader.hpp"

#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#ifndef HAVEN_SOURCE_DIR
#error "HAVEN_SOURCE_DIR must name the repository root"
#endif

namespace haven::config {
namespace {

using test::all_errors;

using std::chrono::milliseconds;

// Names ending in ".test" resolve, everything else fails: no test depends on DNS.
LoadOptions test_names_resolve() {
    LoadOptions o;
    o.resolve_host = [](const std::string& host) -> std::optional<std::string> {
        if (host.ends_with(".test")) return std::nullopt;
        return "Name or service not known";
    };
    return o;
}

constexpr const char* kIssueYaml = R"(threads: 1                     # worker threads; default: number of cores
listeners:
  - name: web
    listen: 127.0.0.1:8080
    mode: http                 # http | tcp
    routes:                    # first match wins; a route without match is the default
      - match: { host: api.example.com, path_prefix: /v1 }
        pool: api
      - pool: web
pools:
  - name: web
    balance: roundrobin        # roundrobin | leastconn | random2 | hash
    hash_on: source            # for hash: source | header:NAME | cookie:NAME | path
    servers:
      - { name: web1, address: 127.0.0.1:9001, weight: 1 }
      - { name: web2, address: 127.0.0.1:9002 }
  - name: api
    servers: [ { name: api1, address: 127.0.0.1:9101 } ]
timeouts: { connect: 2s, request_headers: 10s, client_idle: 60s, server: 30s }
limits: { max_header_bytes: 32768, max_headers: 100, max_connections: 10000 }
)";

TEST(YamlLoader, IssueExampleLoadsWithEveryField) {
    auto r = load_string(kIssueYaml, "issue.yaml", test_names_resolve());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Config& c = *r.config;
    EXPECT_EQ(c.source, "issue.yaml");
    EXPECT_EQ(c.threads, 1u);

    ASSERT_EQ(c.listeners.size(), 1u);
    const Listener& l = c.listeners[0];
    EXPECT_EQ(l.name, "web");
    EXPECT_EQ(l.listen.text, "127.0.0.1:8080");
    EXPECT_EQ(l.listen.host, "127.0.0.1");
    EXPECT_EQ(l.listen.port, 8080);
    EXPECT_EQ(l.mode, ListenerMode::Http);
    EXPECT_EQ(l.pool, "");
    EXPECT_EQ(l.loc.line, 3);
    EXPECT_EQ(l.loc.column, 5);
    ASSERT_EQ(l.routes.size(), 2u);
    ASSERT_TRUE(l.routes[0].match.has_value());
    EXPECT_EQ(l.routes[0].match->host, "api.example.com");
    EXPECT_EQ(l.routes[0].match->path_prefix, "/v1");
    EXPECT_FALSE(l.routes[0].match->path.has_value());
    EXPECT_TRUE(l.routes[0].match->methods.empty());
    EXPECT_EQ(l.routes[0].pool, "api");
    EXPECT_EQ(l.routes[0].loc.line, 7);
    EXPECT_EQ(l.routes[0].loc.column, 9);
    EXPECT_FALSE(l.routes[1].match.has_value());
    EXPECT_EQ(l.routes[1].pool, "web");

    ASSERT_EQ(c.pools.size(), 2u);
    const Pool& web = c.pools[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.balance, Balance::RoundRobin);
    EXPECT_EQ(web.hash_on.on, HashOn::Source);
    EXPECT_EQ(web.hash_on.name, "");
    EXPECT_EQ(web.keepalive.max_idle, 1024u);
    EXPECT_EQ(web.keepalive.idle_timeout, milliseconds(10'000));
    EXPECT_EQ(web.loc.line, 11);
    ASSERT_EQ(web.servers.size(), 2u);
    EXPECT_EQ(web.servers[0].name, "web1");
    EXPECT_EQ(web.servers[0].address.host, "127.0.0.1");
    EXPECT_EQ(web.servers[0].address.port, 9001);
    EXPECT_EQ(web.servers[0].weight, 1u);
    EXPECT_EQ(web.servers[0].loc.line, 15);
    EXPECT_EQ(web.servers[0].loc.column, 9);
    EXPECT_EQ(web.servers[1].name, "web2");
    EXPECT_EQ(web.servers[1].address.text, "127.0.0.1:9002");
    EXPECT_EQ(web.servers[1].weight, 1u); // default
    const Pool& api = c.pools[1];
    EXPECT_EQ(api.name, "api");
    EXPECT_EQ(api.balance, Balance::RoundRobin); // default
    ASSERT_EQ(api.servers.size(), 1u);
    EXPECT_EQ(api.servers[0].name, "api1");
    EXPECT_EQ(api.servers[0].address.port, 9101);
    EXPECT_EQ(c.find_pool("api"), &api);
    EXPECT_EQ(c.find_pool("web"), &web);
    EXPECT_EQ(c.find_pool("nope"), nullptr);

    EXPECT_EQ(c.timeouts.connect, milliseconds(2000));
    EXPECT_EQ(c.timeouts.request_headers, milliseconds(10'000));
    EXPECT_EQ(c.timeouts.client_idle, milliseconds(60'000));
    EXPECT_EQ(c.timeouts.server, milliseconds(30'000));
    EXPECT_EQ(c.timeouts.drain, milliseconds(30'000)); // default
    EXPECT_EQ(c.limits.max_header_bytes, 32768u);
    EXPECT_EQ(c.limits.max_headers, 100u);
    EXPECT_EQ(c.limits.max_request_line, 8192u); // default
    EXPECT_EQ(c.limits.max_connections, 10000u);
    EXPECT_EQ(c.limits.loc.line, 20);
    EXPECT_FALSE(c.access_log.enabled);
}

TEST(YamlLoader, EveryOtherKeyAndValueForm) {
    const char* yaml = R"(
listeners:
  - name: l4
    listen: "[::1]:0"
    mode: tcp
    pool: p
  - name: l7
    listen: backend.test:8443
    routes:
      - match: { host: "*.example.com", path: /exact, methods: [GET, PURGE] }
        pool: p
    pool: q
pools:
  - name: p
    balance: hash
    hash_on: header:X-User-Id
    keepalive: { max_idle: 0, idle_timeout: 1.5s }
    servers: [ { address: backend.test:80, weight: 0 }, { address: "[::1]:81", weight: 256 } ]
  - { name: q, balance: leastconn, hash_on: "cookie:sid", servers: [ { address: 10.0.0.1:80 } ] }
  - { name: r, balance: random2, hash_on: path, servers: [ { address: 10.0.0.2:80 } ] }
timeouts: { drain: 0s, connect: 250ms }
limits: { max_header_bytes: 64KiB, max_request_line: 1KB, max_headers: 1, max_connections: 1 }
access_log: { path: /var/log/haven/access.log }
)";
    auto r = load_string(yaml, "all.yaml", test_names_resolve());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Config& c = *r.config;
    EXPECT_EQ(c.threads, 0u); // absent: number of cores
    EXPECT_EQ(c.listeners[0].mode, ListenerMode::Tcp);
    EXPECT_EQ(c.listeners[0].listen.host, "::1");
    EXPECT_EQ(c.listeners[0].listen.port, 0);
    EXPECT_EQ(c.listeners[1].listen.host, "backend.test");
    EXPECT_EQ(c.listeners[1].pool, "q");
    const RouteMatch& m = *c.listeners[1].routes[0].match;
    EXPECT_EQ(m.host, "*.example.com");
    EXPECT_EQ(m.path, "/exact");
    EXPECT_EQ(m.methods, (std::vector<std::string>{"GET", "PURGE"}));
    const Pool& p = c.pools[0];
    EXPECT_EQ(p.balance, Balance::Hash);
    EXPECT_EQ(p.hash_on.on, HashOn::Header);
    EXPECT_EQ(p.hash_on.name, "X-User-Id");
    EXPECT_EQ(p.keepalive.max_idle, 0u);
    EXPECT_EQ(p.keepalive.idle_timeout, milliseconds(1500));
    EXPECT_EQ(p.servers[0].name, "backend.test:80"); // unnamed: named by its address
    EXPECT_EQ(p.servers[0].weight, 0u);
    EXPECT_EQ(p.servers[1].name, "[::1]:81");
    EXPECT_EQ(p.servers[1].weight, 256u);
    EXPECT_EQ(c.pools[1].balance, Balance::LeastConn);
    EXPECT_EQ(c.pools[1].hash_on.on, HashOn::Cookie);
    EXPECT_EQ(c.pools[1].hash_on.name, "sid");
    EXPECT_EQ(c.pools[2].balance, Balance::Random2);
    EXPECT_EQ(c.pools[2].hash_on.on, HashOn::Path);
    EXPECT_EQ(c.timeouts.drain, milliseconds(0));
    EXPECT_EQ(c.timeouts.connect, milliseconds(250));
    EXPECT_EQ(c.limits.max_header_bytes, 65536u);
    EXPECT_EQ(c.limits.max_request_line, 1000u);
    EXPECT_EQ(c.limits.max_headers, 1u);
    EXPECT_EQ(c.limits.max_connections, 1u);
    EXPECT_TRUE(c.access_log.enabled);
    EXPECT_EQ(c.access_log.path, "/var/log/haven/access.log");
}

constexpr const char* kMinimal = R"(listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]
pools: [ { name: p, servers: [ { address: 127.0.0.1:1 } ] } ]
)";

TEST(YamlLoader, AccessLogCanBeSwitchedOff) {
    std::string off = std::string(kMinimal) + "access_log: { path: stderr, enabled: false }\n";
    auto r = load_string(off, "t.yaml", test_names_resolve());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_FALSE(r.config->access_log.enabled);
    auto bare = load_string(std::string(kMinimal) + "access_log: { enabled: false }\n", "t.yaml");
    ASSERT_TRUE(bare.config.has_value()) << all_errors(bare);
    EXPECT_FALSE(bare.config->access_log.enabled);
}

TEST(YamlLoader, AliasesRepeatAnAnchoredValue) {
    const char* yaml = R"(listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]
pools:
  - { name: p, servers: &shared [ { name: s1, address: 127.0.0.1:1 } ] }
  - { name: q, servers: *shared }
)";
    auto r = load_string(yaml, "t.yaml");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    ASSERT_EQ(r.config->pools[1].servers.size(), 1u);
    EXPECT_EQ(r.config->pools[1].servers[0].name, "s1");
}

TEST(YamlLoader, SmallHeadLimitLowersTheRequestLineDefault) {
    auto r = load_string(std::string(kMinimal) + "limits: { max_header_bytes: 4KiB }\n", "t.yaml");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_EQ(r.config->limits.max_request_line, 4096u);
}

TEST(YamlLoader, ExamplesLoad) {
    for (const char* name : {"basic.yaml", "tcp.yaml", "hash.yaml", "demo.yaml", "sticky.yaml"}) {
        std::string path = std::string(HAVEN_SOURCE_DIR) + "/examples/" + name;
        SCOPED_TRACE(path);
        auto r = load_file(path); // the real resolver: examples use literals and localhost
        ASSERT_TRUE(r.config.has_value()) << all_errors(r);
        EXPECT_EQ(r.config->source, path);
    }
}

TEST(YamlLoader, DemoExampleShape) {
    auto r = load_file(std::string(HAVEN_SOURCE_DIR) + "/examples/demo.yaml");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    ASSERT_EQ(r.config->listeners.size(), 1u);
    EXPECT_EQ(r.config->listeners[0].listen.text, "127.0.0.1:8080");
    const Pool* demo = r.config->find_pool("demo");
    ASSERT_NE(demo, nullptr);
    ASSERT_EQ(demo->servers.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(demo->servers[i].address.host, "127.0.0.1");
        EXPECT_EQ(demo->servers[i].address.port, 9001 + i);
    }
}

TEST(YamlLoader, BasicExampleIsTheIssueExample) {
    std::ifstream in(std::string(HAVEN_SOURCE_DIR) + "/examples/basic.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, kIssueYaml);
}

TEST(YamlLoader, MissingFileHasNoPositionAndSaysWhy) {
    auto r = load_file("/nonexistent/haven.yaml");
    ASSERT_FALSE(r.config.has_value());
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].line, 0);
    EXPECT_EQ(r.errors[0].to_string(),
              "/nonexistent/haven.yaml: cannot open: No such file or directory");
}

TEST(YamlLoader, DirectoryIsUnreadable) {
    auto r = load_file(HAVEN_SOURCE_DIR);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].message.find("Is a directory"), std::string::npos);
}

TEST(YamlLoader, FileErrorsNameTheFile) {
    auto path = std::filesystem::temp_directory_path() / "haven_config_loader_test.yaml";
    {
        std::ofstream out(path);
        out << "listeners:\n  - name: web\n    lisen: 127.0.0.1:80\n";
    }
    auto r = load_file(path.string());
    std::filesystem::remove(path);
    ASSERT_FALSE(r.errors.empty());
    EXPECT_EQ(r.errors[0].file, path.string());
    bool found = false;
    for (const auto& e : r.errors) {
        if (e.to_string() == path.string() + ":3:5: listeners[0]: unknown key \"lisen\" (did "
                                             "you mean \"listen\"?)") {
            found = true;
        }
    }
    EXPECT_TRUE(found) << all_errors(r);
}

TEST(YamlLoader, EmptyInputsSayNoListeners) {
    for (const char* text : {"", "\n\n", "# only a comment\n", "---\n", "~\n"}) {
        SCOPED_TRACE(text);
        auto r = load_string(text, "empty.yaml");
        ASSERT_FALSE(r.config.has_value());
        ASSERT_FALSE(r.errors.empty());
        EXPECT_EQ(r.errors[0].to_string(),
                  "empty.yaml: no listeners: define at least one under \"listeners\"");
    }
}

TEST(YamlLoader, ErrorsAreInDocumentOrder) {
    const char* yaml = R"(pools:
  - name: p
    servers: [ { address: 127.0.0.1:1, weight: -1 } ]
listeners:
  - { name: a, listen: 127.0.0.1:1, pool: nope }
threads: 0
)";
    auto r = load_string(yaml, "t.yaml");
    ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
    EXPECT_EQ(r.errors[0].line, 3);
    EXPECT_EQ(r.errors[1].line, 5);
    EXPECT_EQ(r.errors[2].line, 6);
}

TEST(YamlLoader, ErrorsAreCapped) {
    std::string yaml = std::string(kMinimal) + "timeouts:\n";
    for (int i = 0; i < 80; ++i) yaml += "  bogus" + std::to_string(i) + ": 1s\n";
    auto r = load_string(yaml, "t.yaml");
    ASSERT_EQ(r.errors.size(), 51u);
    EXPECT_EQ(r.errors.back().to_string(), "t.yaml: too many errors; 30 more not shown");
}

TEST(YamlLoader, HostNamesAreResolvedOncePerName) {
    int calls = 0;
    LoadOptions o;
    o.resolve_host = [&](const std::string&) -> std::optional<std::string> {
        ++calls;
        return std::nullopt;
    };
    const char* yaml = R"(listeners: [ { name: a, listen: "front.example:80", pool: p } ]
pools: [ { name: p, servers: [ { address: "b.example:1" }, { address: "b.example:2" } ] } ]
)";
    auto r = load_string(yaml, "t.yaml", o);
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_EQ(calls, 2);
}

TEST(YamlLoader, RealResolverKnowsLocalhostAndRejectsInvalid) {
    std::string yaml = R"(listeners: [ { name: a, listen: "localhost:0", pool: p } ]
pools: [ { name: p, servers: [ { address: "no-such-host.invalid:80" } ] } ]
)";
    auto r = load_string(yaml, "t.yaml");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_EQ(r.errors[0].line, 2);
    EXPECT_EQ(r.errors[0].column, 43);
    EXPECT_NE(r.errors[0].message.find(
                  "pools[0].servers[0].address: cannot resolve host \"no-such-host.invalid\""),
              std::string::npos)
        << all_errors(r);
}

TEST(YamlLoader, HostileInputIsAnErrorNotACrash) {
    std::string deep(100'000, '[');
    auto r = load_string(deep, "deep.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].message.find("nested too deeply"), std::string::npos)
        << r.errors[0].to_string();

    std::string big(5 * 1024 * 1024, '#');
    r = load_string(big, "big.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].message.find("file too large"), std::string::npos);

    // Aliases let a small file name a huge number of items; the walk stops at a budget.
    std::string wide = "x: &a [";
    for (int i = 0; i < 999; ++i) wide += "1,";
    wide += "1]\nlisteners: [";
    for (int i = 0; i < 200; ++i) wide += "{ routes: [ { match: { methods: *a } } ] },";
    wide += "]\n";
    r = load_string(wide, "wide.yaml");
    bool too_large = false;
    for (const auto& e : r.errors) {
        too_large = too_large || e.message.find("document too large") != std::string::npos;
    }
    EXPECT_TRUE(too_large) << all_errors(r);
}

} // namespace
} // namespace haven::config
