// validate() on configs built in code (as `haven demo` and other tests build them): the same
// limits as a loaded file, errors at each item's own location, the file name from Config::source.
#include "config/validate.hpp"

#include <gtest/gtest.h>

#include <string>

namespace haven::config {
namespace {

Config valid_config() {
    Config c;
    c.source = "built-in";
    Listener l;
    l.name = "web";
    l.listen = *parse_endpoint("127.0.0.1:0");
    l.pool = "web";
    l.loc = {3, 5};
    c.listeners.push_back(l);
    Pool p;
    p.name = "web";
    p.loc = {8, 5};
    Server s;
    s.name = "w1";
    s.address = *parse_endpoint("127.0.0.1:9001");
    s.loc = {10, 9};
    p.servers.push_back(s);
    c.pools.push_back(p);
    return c;
}

std::string joined(const std::vector<ConfigError>& errors) {
    std::string out;
    for (const auto& e : errors) out += e.to_string() + "\n";
    return out;
}

TEST(Validate, ValidConfigHasNoErrors) {
    EXPECT_TRUE(validate(valid_config()).empty());
}

TEST(Validate, EmptyConfigNeedsListenersAndPools) {
    Config c;
    c.source = "x.yaml";
    EXPECT_EQ(joined(validate(c)),
              "x.yaml: no listeners: define at least one under \"listeners\"\n"
              "x.yaml: no pools: define at least one under \"pools\"\n");
}

TEST(Validate, RangesAreCheckedForConfigsBuiltInCode) {
    Config c = valid_config();
    c.threads = 300;
    c.limits.max_header_bytes = 100;
    c.limits.max_headers = 0;
    c.limits.max_connections = 2'000'000;
    c.timeouts.connect = Duration{0};
    c.pools[0].keepalive.max_idle = 100'001;
    c.pools[0].keepalive.idle_timeout = Duration{0};
    c.pools[0].servers[0].weight = 257;
    c.access_log.enabled = true;
    std::string all = joined(validate(c));
    EXPECT_NE(all.find("built-in: threads: must be from 1 to 256, got 300"), std::string::npos)
        << all;
    EXPECT_NE(all.find("limits.max_header_bytes: must be from 1024 to 1048576, got 100"),
              std::string::npos) << all;
    EXPECT_NE(all.find("limits.max_headers: must be from 1 to 1000, got 0"), std::string::npos);
    EXPECT_NE(all.find("limits.max_connections: must be from 1 to 1000000"), std::string::npos);
    EXPECT_NE(all.find("limits.max_request_line: 8192 exceeds limits.max_header_bytes (100)"),
              std::string::npos) << all;
    EXPECT_NE(all.find("timeouts.connect: must be greater than 0"), std::string::npos) << all;
    EXPECT_NE(all.find("built-in:8:5: pools[0].keepalive.max_idle: must be from 0 to 100000"),
              std::string::npos) << all;
    EXPECT_NE(all.find("built-in:8:5: pools[0].keepalive.idle_timeout: must be greater than 0"),
              std::string::npos) << all;
    EXPECT_NE(all.find("built-in:10:9: pools[0].servers[0].weight: must be from 0 to 256, got 257"),
              std::string::npos) << all;
    EXPECT_NE(all.find("access_log.path: missing"), std::string::npos) << all;
}

TEST(Validate, ZeroDrainAndZeroWeightsAreAllowed) {
    Config c = valid_config();
    c.timeouts.drain = Duration{0};
    c.pools[0].servers[0].weight = 0; // a fully drained pool is legal
    EXPECT_TRUE(validate(c).empty()) << joined(validate(c));
}

TEST(Validate, HashOnIsAcceptedWithAnyBalance) {
    Config c = valid_config();
    c.pools[0].balance = Balance::LeastConn;
    c.pools[0].hash_on = HashKey{HashOn::Cookie, "sid"};
    EXPECT_TRUE(validate(c).empty());
}

TEST(Validate, PortZeroListenersNeverCollide) {
    Config c = valid_config();
    Listener second = c.listeners[0];
    second.name = "web2";
    c.listeners.push_back(second);
    EXPECT_TRUE(validate(c).empty()) << joined(validate(c));
    c.listeners[0].listen = *parse_endpoint("LocalHost:8080");
    c.listeners[1].listen = *parse_endpoint("localhost:8080");
    c.listeners[1].loc = {4, 5};
    EXPECT_EQ(joined(validate(c)), "built-in:4:5: listeners[1].listen: localhost:8080 is already "
                                   "used by listener \"web\" at 3:5\n");
}

TEST(Validate, RoutesArePartOfAnHttpListenerOnly) {
    Config c = valid_config();
    Route r;
    r.pool = "web";
    r.loc = {6, 9};
    c.listeners[0].pool.clear();
    c.listeners[0].routes.push_back(r);
    EXPECT_TRUE(validate(c).empty()) << joined(validate(c));
    c.listeners[0].mode = ListenerMode::Tcp;
    EXPECT_EQ(joined(validate(c)),
              "built-in:3:5: listeners[0]: a tcp listener needs \"pool\"\n"
              "built-in:6:9: listeners[0].routes: a tcp listener cannot have routes (it does not "
              "see requests); use \"pool\"\n");
}

TEST(Validate, CatchAllRouteMustBeLast) {
    Config c = valid_config();
    c.listeners[0].pool.clear();
    Route all;
    all.pool = "web";
    all.loc = {5, 9};
    Route api;
    api.match = RouteMatch{};
    api.match->path_prefix = "/api";
    api.pool = "web";
    api.loc = {6, 9};
    c.listeners[0].routes = {all, api};
    auto errors = validate(c);
    ASSERT_EQ(errors.size(), 1u) << joined(errors);
    EXPECT_EQ(errors[0].line, 5);
    EXPECT_NE(errors[0].message.find("routes[1] and later are unreachable"), std::string::npos);
}

// The failover keys are held to the loader's rules when a config is built in code.
TEST(Validate, FailoverValuesAreCheckedForConfigsBuiltInCode) {
    Config c = valid_config();
    Pool& p = c.pools[0];
    p.min_healthy = 0;
    p.slow_start = Duration{-1};
    p.retries = 11;
    p.retry_on = {"reset", "501"};
    p.retry_buffer = 17u << 20;
    p.max_retry_ratio = 1.5;
    p.retry_backoff = Duration{0};
    p.outlier_detection.consecutive_failures = 1001;
    p.outlier_detection.max_ejected_percent = 101;
    HealthCheck& h = p.health_check.emplace();
    h.loc = {9, 7};
    h.rise = 0;
    h.fall = 101;
    h.jitter = 0.8;
    h.fast_interval = Duration{0};
    h.method = "get";
    h.path = "/a\r\nX: y";
    h.host = "a b";
    h.expect_body = "ok\n";
    h.expect_status = {{200, 99}};
    p.servers[0].priority = 256;
    std::string all = joined(validate(c));
    for (const char* expected : {
             "built-in:8:5: pools[0].min_healthy: must be from 1 to 1000, got 0",
             "pools[0].slow_start: must be from 0 to 8760h",
             "pools[0].retries: must be from 0 to 10, got 11",
             "pools[0].retry_on: unknown value \"501\"",
             "pools[0].retry_buffer: must be from 0 to 16777216, got 17825792",
             "pools[0].max_retry_ratio: must be a fraction from 0 to 1, got 1.5",
             "pools[0].retry_backoff: must be greater than 0",
             "pools[0].outlier_detection.consecutive_failures: must be from 0 to 1000",
             "pools[0].outlier_detection.max_ejected_percent: must be from 0 to 100, got 101",
             "built-in:9:7: pools[0].health_check.rise: must be from 1 to 100, got 0",
             "pools[0].health_check.fall: must be from 1 to 100, got 101",
             "pools[0].health_check.jitter: must be a fraction from 0 to 0.5, got 0.8",
             "pools[0].health_check.fast_interval: must be greater than 0",
             "pools[0].health_check.http.method: invalid method \"get\"",
             "pools[0].health_check.http.path: invalid path \"/a\\x0d\\x0aX: y\"",
             "pools[0].health_check.http.host: invalid host \"a b\"",
             "pools[0].health_check.http.expect_body: contains a control character",
             "pools[0].health_check.http.expect_status: invalid status range 200-99",
             "built-in:10:9: pools[0].servers[0].priority: must be from 0 to 255, got 256",
         }) {
        EXPECT_NE(all.find(expected), std::string::npos) << expected << "\n" << all;
    }
}

TEST(Validate, FailoverOrderingsAndOverrides) {
    Config c = valid_config();
    Pool& p = c.pools[0];
    p.outlier_detection.base_ejection = std::chrono::minutes(1);
    p.outlier_detection.max_ejection = std::chrono::seconds(30);
    HealthCheckOverride o;
    o.loc = {11, 23};
    o.port = 0;
    o.expect_status = std::vector<std::pair<int, int>>{};
    p.servers[0].health_check = o;
    EXPECT_EQ(joined(validate(c)),
              "built-in:8:5: pools[0].outlier_detection.max_ejection: 30s is less than "
              "base_ejection (1m)\n"
              "built-in:11:23: pools[0].servers[0].health_check: pool \"web\" has no "
              "health_check to override (add one to the pool, or remove this)\n"
              "built-in:11:23: pools[0].servers[0].health_check.expect_status: must list at "
              "least one status\n"
              "built-in:11:23: pools[0].servers[0].health_check.port: must be from 1 to 65535, "
              "got 0\n");

    Config ok = valid_config();
    HealthCheck& h = ok.pools[0].health_check.emplace();
    h.loc = {9, 7};
    ok.pools[0].servers[0].health_check = HealthCheckOverride{};
    EXPECT_TRUE(validate(ok).empty()) << joined(validate(ok));
    h.timeout = h.interval; // equal is fine: checks of one server never overlap
    EXPECT_TRUE(validate(ok).empty()) << joined(validate(ok));
    h.timeout = h.interval + std::chrono::milliseconds(1);
    EXPECT_EQ(joined(validate(ok)),
              "built-in:9:7: pools[0].health_check.timeout: 5001ms must not exceed interval (5s)\n");
}

TEST(Validate, FindPool) {
    Config c = valid_config();
    Pool other;
    other.name = "other";
    c.pools.push_back(other);
    EXPECT_EQ(c.find_pool("web"), &c.pools[0]);
    EXPECT_EQ(c.find_pool("other"), &c.pools[1]);
    EXPECT_EQ(c.find_pool(""), nullptr);
    EXPECT_EQ(c.find_pool("WEB"), nullptr); // names are case-sensitive
}

} // namespace
} // namespace haven::config
