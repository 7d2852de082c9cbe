// The failover keys on good input: health checks, outlier detection, tiers and retries, each
// field checked against what was written, the defaults when a key is absent, and every form a
// value may take (percentages, status ranges, retry_on numbers). Broken configs are in
// bad_config_test.cpp.
#include "config/yaml_loader.hpp"

#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace haven::config {
namespace {

using test::offline;
using test::all_errors;

using std::chrono::milliseconds;
using Ranges = std::vector<std::pair<int, int>>;

// The issue's example, with a listener so that the file is complete.
constexpr const char* kIssueYaml = R"(listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]
pools:
  - name: web
    health_check:
      http: { method: GET, path: /health, host: example.com, expect_status: [200] }
      interval: 5s
      timeout: 2s
      fall: 3
      rise: 2
      fast_interval: 1s
      down_interval: 10s
      jitter: 10%
    retries: 2
    retry_on: [connect-failure, reset, timeout, 502, 503, 504]
    per_try_timeout: 2s
    retry_buffer: 64KiB
    max_retry_ratio: 20%
    servers:
      - { name: web1, address: 127.0.0.1:9001 }
      - { name: web2, address: 127.0.0.1:9002, backup: true }
)";

TEST(FailoverKeys, IssueExampleLoadsWithEveryField) {
    auto r = load_string(kIssueYaml, "issue.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Pool& p = r.config->pools.at(0);
    ASSERT_TRUE(p.health_check.has_value());
    const HealthCheck& h = *p.health_check;
    EXPECT_EQ(h.kind, HealthCheck::Kind::Http);
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.path, "/health");
    EXPECT_EQ(h.host, "example.com");
    EXPECT_EQ(h.expect_status, (Ranges{{200, 200}}));
    EXPECT_EQ(h.expect_body, "");
    EXPECT_EQ(h.port, 0);
    EXPECT_EQ(h.interval, milliseconds(5000));
    EXPECT_EQ(h.timeout, milliseconds(2000));
    EXPECT_EQ(h.fall, 3u);
    EXPECT_EQ(h.rise, 2u);
    EXPECT_EQ(h.fast_interval, milliseconds(1000));
    EXPECT_EQ(h.down_interval, milliseconds(10'000));
    EXPECT_DOUBLE_EQ(h.jitter, 0.1);
    EXPECT_EQ(h.initial, InitialHealth::Check);
    EXPECT_EQ(h.loc.line, 5);
    EXPECT_EQ(h.loc.column, 7);

    EXPECT_EQ(p.retries, 2u);
    EXPECT_EQ(p.retry_on, (std::vector<std::string>{"connect-failure", "reset", "timeout", "502",
                                                    "503", "504"}));
    EXPECT_EQ(p.per_try_timeout, milliseconds(2000));
    EXPECT_EQ(p.retry_buffer, 64u * 1024);
    EXPECT_DOUBLE_EQ(p.max_retry_ratio, 0.2);

    ASSERT_EQ(p.servers.size(), 2u);
    EXPECT_FALSE(p.servers[0].backup);
    EXPECT_EQ(p.servers[0].tier(), 0u);
    EXPECT_TRUE(p.servers[1].backup);
    EXPECT_FALSE(p.servers[1].priority.has_value());
    EXPECT_EQ(p.servers[1].tier(), 1u); // backup: true is priority 1
}

// Every new key set to a value other than its default.
constexpr const char* kEveryKey = R"(listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]
pools:
  - name: web
    health_check:
      http:
        method: HEAD
        path: "/ready?full=1"
        host: "[::1]:8443"
        expect_status: [204, "300-302", 418]
        expect_body: "status:\tok"
      port: 9100
      interval: 3s
      timeout: 500ms
      fast_interval: 250ms
      down_interval: 1m
      rise: 5
      fall: 1
      jitter: 0.25
      initial: up
    outlier_detection:
      consecutive_failures: 0
      base_ejection: 10s
      max_ejection: 10s
      max_ejected_percent: 100
    min_healthy: 2
    all_backups: true
    on_all_down: try_all
    slow_start: 30s
    retries: 10
    retry_on: [500, 5xx, "503", timeout]
    per_try_timeout: 1500ms
    retry_non_idempotent: true
    retry_buffer: 16MiB
    max_retry_ratio: 1
    retry_backoff: 100ms
    servers:
      - name: a
        address: 127.0.0.1:9001
        priority: 0
        state: drain
        health_check:
          path: /a/health
          host: a.example.com
          port: 9101
          expect_body: alive
          expect_status: "200-204"
      - { name: b, address: 127.0.0.1:9002, backup: true, priority: 255, state: maint }
      - { name: c, address: 127.0.0.1:9003, priority: 3, health_check: { expect_status: 200 } }
)";

TEST(FailoverKeys, EveryKeyLoadsAsWritten) {
    auto r = load_string(kEveryKey, "every.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Pool& p = r.config->pools.at(0);
    const HealthCheck& h = p.health_check.value();
    EXPECT_EQ(h.kind, HealthCheck::Kind::Http);
    EXPECT_EQ(h.method, "HEAD");
    EXPECT_EQ(h.path, "/ready?full=1");
    EXPECT_EQ(h.host, "[::1]:8443");
    EXPECT_EQ(h.expect_status, (Ranges{{204, 204}, {300, 302}, {418, 418}}));
    EXPECT_EQ(h.expect_body, "status:\tok");
    EXPECT_EQ(h.port, 9100);
    EXPECT_EQ(h.interval, milliseconds(3000));
    EXPECT_EQ(h.timeout, milliseconds(500));
    EXPECT_EQ(h.fast_interval, milliseconds(250));
    EXPECT_EQ(h.down_interval, milliseconds(60'000));
    EXPECT_EQ(h.rise, 5u);
    EXPECT_EQ(h.fall, 1u);
    EXPECT_DOUBLE_EQ(h.jitter, 0.25);
    EXPECT_EQ(h.initial, InitialHealth::Up);

    const OutlierDetection& o = p.outlier_detection;
    EXPECT_EQ(o.consecutive_failures, 0u);
    EXPECT_EQ(o.base_ejection, milliseconds(10'000));
    EXPECT_EQ(o.max_ejection, milliseconds(10'000)); // equal to the base is allowed
    EXPECT_EQ(o.max_ejected_percent, 100u);
    EXPECT_EQ(o.loc.line, 21);

    EXPECT_EQ(p.min_healthy, 2u);
    EXPECT_TRUE(p.all_backups);
    EXPECT_EQ(p.on_all_down, OnAllDown::TryAll);
    EXPECT_EQ(p.slow_start, milliseconds(30'000));
    EXPECT_EQ(p.retries, 10u);
    EXPECT_EQ(p.retry_on, (std::vector<std::string>{"500", "5xx", "503", "timeout"}));
    EXPECT_EQ(p.per_try_timeout, milliseconds(1500));
    EXPECT_TRUE(p.retry_non_idempotent);
    EXPECT_EQ(p.retry_buffer, 16u * 1024 * 1024);
    EXPECT_DOUBLE_EQ(p.max_retry_ratio, 1.0);
    EXPECT_EQ(p.retry_backoff, milliseconds(100));

    ASSERT_EQ(p.servers.size(), 3u);
    const Server& a = p.servers[0];
    EXPECT_EQ(a.priority, 0u);
    EXPECT_EQ(a.state, AdminState::Drain);
    EXPECT_FALSE(a.backup);
    ASSERT_TRUE(a.health_check.has_value());
    EXPECT_EQ(a.health_check->path, "/a/health");
    EXPECT_EQ(a.health_check->host, "a.example.com");
    EXPECT_EQ(a.health_check->port, 9101);
    EXPECT_EQ(a.health_check->expect_body, "alive");
    EXPECT_EQ(a.health_check->expect_status, (Ranges{{200, 204}}));
    EXPECT_EQ(a.health_check->loc.line, 42);
    EXPECT_EQ(a.health_check->loc.column, 11);
    const Server& b = p.servers[1];
    EXPECT_TRUE(b.backup);
    EXPECT_EQ(b.priority, 255u);
    EXPECT_EQ(b.tier(), 255u); // an explicit priority wins over backup's 1
    EXPECT_EQ(b.state, AdminState::Maint);
    EXPECT_FALSE(b.health_check.has_value());
    const Server& c = p.servers[2];
    EXPECT_EQ(c.tier(), 3u);
    EXPECT_EQ(c.state, AdminState::Ready);
    ASSERT_TRUE(c.health_check.has_value());
    EXPECT_FALSE(c.health_check->path.has_value()); // only the keys written are overrides
    EXPECT_FALSE(c.health_check->host.has_value());
    EXPECT_FALSE(c.health_check->port.has_value());
    EXPECT_FALSE(c.health_check->expect_body.has_value());
    EXPECT_EQ(c.health_check->expect_status, (Ranges{{200, 200}}));
}

constexpr const char* kMinimal = R"(listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]
pools: [ { name: p, servers: [ { address: 127.0.0.1:1 } ] } ]
)";

TEST(FailoverKeys, DefaultsWhenAbsent) {
    auto r = load_string(kMinimal, "t.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Pool& p = r.config->pools[0];
    const Pool defaults;
    EXPECT_FALSE(p.health_check.has_value()); // no checks: servers are assumed up
    EXPECT_EQ(p.outlier_detection.consecutive_failures, 5u);
    EXPECT_EQ(p.outlier_detection.base_ejection, milliseconds(30'000));
    EXPECT_EQ(p.outlier_detection.max_ejection, milliseconds(300'000));
    EXPECT_EQ(p.outlier_detection.max_ejected_percent, 50u);
    EXPECT_EQ(p.min_healthy, 1u);
    EXPECT_FALSE(p.all_backups);
    EXPECT_EQ(p.on_all_down, OnAllDown::Fail);
    EXPECT_EQ(p.slow_start, milliseconds(0));
    EXPECT_EQ(p.retries, 2u);
    EXPECT_EQ(p.retry_on, (std::vector<std::string>{"connect-failure", "reset"}));
    EXPECT_EQ(p.per_try_timeout, milliseconds(0));
    EXPECT_FALSE(p.retry_non_idempotent);
    EXPECT_EQ(p.retry_buffer, 64u * 1024);
    EXPECT_DOUBLE_EQ(p.max_retry_ratio, defaults.max_retry_ratio);
    EXPECT_EQ(p.retry_backoff, milliseconds(25));
    const Server& s = p.servers[0];
    EXPECT_FALSE(s.backup);
    EXPECT_FALSE(s.priority.has_value());
    EXPECT_EQ(s.state, AdminState::Ready);
    EXPECT_FALSE(s.health_check.has_value());
    EXPECT_EQ(s.tier(), 0u);
}

TEST(FailoverKeys, CheckDefaultsWhenOnlyTheKindIsGiven) {
    for (const char* kind : {"tcp: {}", "http: {}"}) {
        SCOPED_TRACE(kind);
        std::string yaml = R"(listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]
pools: [ { name: p, health_check: { )" + std::string(kind) +
                           R"( }, servers: [ { address: 127.0.0.1:1 } ] } ]
)";
        auto r = load_string(yaml, "t.yaml", offline());
        ASSERT_TRUE(r.config.has_value()) << all_errors(r);
        const HealthCheck& h = r.config->pools[0].health_check.value();
        const HealthCheck d;
        EXPECT_EQ(h.kind, kind[0] == 't' ? HealthCheck::Kind::Tcp : HealthCheck::Kind::Http);
        EXPECT_EQ(h.method, "GET");
        EXPECT_EQ(h.path, "/health");
        EXPECT_EQ(h.host, "");
        EXPECT_EQ(h.expect_status, (Ranges{{200, 399}}));
        EXPECT_EQ(h.port, 0);
        EXPECT_EQ(h.interval, d.interval);
        EXPECT_EQ(h.timeout, d.timeout);
        EXPECT_EQ(h.fast_interval, d.fast_interval);
        EXPECT_EQ(h.down_interval, d.down_interval);
        EXPECT_EQ(h.rise, 2u);
        EXPECT_EQ(h.fall, 3u);
        EXPECT_DOUBLE_EQ(h.jitter, 0.10);
        EXPECT_EQ(h.initial, InitialHealth::Check);
    }
}

// HAProxy lets timeout, fastinter and downinter follow inter; so does haven, for unwritten keys.
TEST(FailoverKeys, CheckTimingsFollowTheInterval) {
    struct Case {
        const char* keys;
        milliseconds interval, timeout, fast, down;
    };
    const Case cases[] = {
        {"interval: 1s", milliseconds(1000), milliseconds(1000), milliseconds(500), milliseconds(1000)},
        {"interval: 200ms", milliseconds(200), milliseconds(200), milliseconds(100), milliseconds(200)},
        {"interval: 10s", milliseconds(10'000), milliseconds(2000), milliseconds(1000), milliseconds(10'000)},
        {"interval: 1s, timeout: 300ms, down_interval: 3s", milliseconds(1000), milliseconds(300),
         milliseconds(500), milliseconds(3000)},
        {"interval: 2s, fast_interval: 100ms", milliseconds(2000), milliseconds(2000), milliseconds(100),
         milliseconds(2000)},
        {"interval: 1s, timeout: 1s", milliseconds(1000), milliseconds(1000), milliseconds(500), milliseconds(1000)},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.keys);
        auto r = load_string(std::string("listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]\n"
                                         "pools: [ { name: p, health_check: { tcp: {}, ") +
                                 c.keys + " }, servers: [ { address: 127.0.0.1:1 } ] } ]\n",
                             "t.yaml", offline());
        ASSERT_TRUE(r.config.has_value()) << all_errors(r);
        const HealthCheck& h = r.config->pools[0].health_check.value();
        EXPECT_EQ(h.interval, c.interval);
        EXPECT_EQ(h.timeout, c.timeout);
        EXPECT_EQ(h.fast_interval, c.fast);
        EXPECT_EQ(h.down_interval, c.down);
    }
}

// Loads `pool_keys` (flow-mapping entries) into the one pool of a minimal config.
LoadResult with_pool_keys(const std::string& pool_keys) {
    std::string yaml = "listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]\n"
                       "pools: [ { name: p, " +
                       pool_keys + ", servers: [ { address: 127.0.0.1:1 } ] } ]\n";
    return load_string(yaml, "t.yaml", offline());
}

TEST(FailoverKeys, PercentagesAndFractions) {
    struct Case {
        const char* text;
        double jitter; // < 0: refused
        double ratio;  // max_retry_ratio; < 0: refused
        int ejected;   // max_ejected_percent; < 0: refused
    };
    const Case cases[] = {
        {"0", 0, 0, 0},
        {"0%", 0, 0, 0},
        {"10%", 0.1, 0.1, 10},
        {"12.5%", 0.125, 0.125, -1},
        {"0.1", 0.1, 0.1, -1},
        {"0.5", 0.5, 0.5, -1},
        {"50%", 0.5, 0.5, 50},
        {"50.0%", 0.5, 0.5, 50},
        {"1", -1, 1.0, 1}, // a bare number: a fraction, except for max_ejected_percent
        {"100%", -1, 1.0, 100},
        {"50", -1, -1, 50},
        {"101%", -1, -1, -1},
        {"-1%", -1, -1, -1},
        {"1e-1", -1, -1, -1},
        {".5", -1, -1, -1},
        {"1.%", -1, -1, -1},
        {"0.5.1", -1, -1, -1},
        {"5 %", -1, -1, -1},
        {"%", -1, -1, -1},
        {"\"\"", -1, -1, -1},
        {"nan", -1, -1, -1},
        {"[10%]", -1, -1, -1},
        {"99999999999999999999999999999999999999%", -1, -1, -1},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        std::string text = c.text;
        auto jitter = with_pool_keys("health_check: { tcp: {}, jitter: " + text + " }");
        ASSERT_EQ(jitter.config.has_value(), c.jitter >= 0) << all_errors(jitter);
        if (c.jitter >= 0) {
            EXPECT_DOUBLE_EQ(jitter.config->pools[0].health_check->jitter, c.jitter);
        }
        auto ratio = with_pool_keys("max_retry_ratio: " + text);
        ASSERT_EQ(ratio.config.has_value(), c.ratio >= 0) << all_errors(ratio);
        if (c.ratio >= 0) {
            EXPECT_DOUBLE_EQ(ratio.config->pools[0].max_retry_ratio, c.ratio);
        }
        auto ejected = with_pool_keys("outlier_detection: { max_ejected_percent: " + text + " }");
        ASSERT_EQ(ejected.config.has_value(), c.ejected >= 0) << all_errors(ejected);
        if (c.ejected >= 0) {
            EXPECT_EQ(ejected.config->pools[0].outlier_detection.max_ejected_percent,
                      static_cast<std::uint32_t>(c.ejected));
        }
    }
}

TEST(FailoverKeys, ExpectStatusForms) {
    struct Case {
        const char* text;
        Ranges ranges;
    };
    const Case cases[] = {
        {"200", {{200, 200}}},
        {"\"200-399\"", {{200, 399}}},
        {"200-399", {{200, 399}}}, // unquoted, YAML reads it as a string all the same
        {"[100, 599]", {{100, 100}, {599, 599}}},
        {"[\"500-599\", 404, 200-200]", {{500, 599}, {404, 404}, {200, 200}}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        auto r = with_pool_keys(std::string("health_check: { http: { expect_status: ") + c.text +
                                " } }");
        ASSERT_TRUE(r.config.has_value()) << all_errors(r);
        EXPECT_EQ(r.config->pools[0].health_check->expect_status, c.ranges);
    }
    for (const char* bad : {"[]", "99", "600", "\"200-\"", "\"-200\"", "\"400-300\"", "2xx",
                            "\"200 - 300\"", "{ a: 1 }", "[[200]]", "\"\""}) {
        SCOPED_TRACE(bad);
        auto r = with_pool_keys(std::string("health_check: { http: { expect_status: ") + bad +
                                " } }");
        EXPECT_FALSE(r.config.has_value());
        ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
        EXPECT_NE(r.errors[0].message.find("pools[0].health_check.http.expect_status"),
                  std::string::npos)
            << all_errors(r);
    }
}

TEST(FailoverKeys, RetryOnAcceptsNumbersAndNames) {
    auto r = with_pool_keys("retry_on: [connect-failure, reset, timeout, 500, 502, 503, 504, 5xx]");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_EQ(r.config->pools[0].retry_on.size(), 8u);
    auto none = with_pool_keys("retry_on: []"); // retry on nothing
    ASSERT_TRUE(none.config.has_value()) << all_errors(none);
    EXPECT_TRUE(none.config->pools[0].retry_on.empty());
    for (const char* bad : {"[Reset]", "[501]", "[5XX]", "[connect_failure]", "reset", "[[500]]"}) {
        SCOPED_TRACE(bad);
        auto e = with_pool_keys(std::string("retry_on: ") + bad);
        ASSERT_EQ(e.errors.size(), 1u) << all_errors(e);
        EXPECT_NE(e.errors[0].message.find("pools[0].retry_on"), std::string::npos);
    }
}

TEST(FailoverKeys, ProbeTextThatWouldBreakTheRequestIsRefused) {
    const char* cases[] = {
        "http: { path: \"/a\\nb\" }",        "http: { path: \"/a b\" }",
        "http: { path: \"/\\u00e9\" }",       "http: { host: \"a.example\\r\\nX: y\" }",
        "http: { host: \"a.example:0\" }",    "http: { host: \"a_b.example\" }",
        "http: { host: \"\" }",               "http: { expect_body: \"ok\\r\\n\" }",
        "http: { method: get }",              "http: { method: \"GET /x\" }",
    };
    for (const char* check : cases) {
        SCOPED_TRACE(check);
        auto r = with_pool_keys(std::string("health_check: { ") + check + " }");
        EXPECT_FALSE(r.config.has_value());
        EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
    }
}

// One mistake, one error: a bad value is not stored, so nothing downstream reports it again.
TEST(FailoverKeys, OneErrorPerMistake) {
    const char* cases[] = {
        "health_check: { tcp: {}, interval: 1s, timeout: 2s }",
        "health_check: { tcp: {}, timeout: 9s }",
        "health_check: { tcp: {}, interval: 0s }",
        "outlier_detection: { base_ejection: 1m, max_ejection: 30s }",
        "outlier_detection: { max_ejection: 10s }",
        "outlier_detection: { base_ejection: 1h }",
    };
    for (const char* keys : cases) {
        SCOPED_TRACE(keys);
        auto r = with_pool_keys(keys);
        EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
    }
    // A health_check with errors still counts as present for a server's override.
    std::string yaml = "listeners: [ { name: a, listen: 127.0.0.1:0, pool: p } ]\n"
                       "pools: [ { name: p, health_check: { interval: 1s, timeout: 2s },\n"
                       "           servers: [ { address: 127.0.0.1:1, health_check: {} } ] } ]\n";
    auto r = load_string(yaml, "t.yaml", offline());
    ASSERT_EQ(r.errors.size(), 2u) << all_errors(r);
    EXPECT_EQ(r.errors[0].to_string(),
              "t.yaml:2:35: pools[0].health_check: needs http:, tcp: or postgres: (the kind of check to run)");
    EXPECT_EQ(r.errors[1].to_string(), "t.yaml:2:60: pools[0].health_check.timeout: 2s must not "
                                       "exceed interval (1s)");
}

TEST(FailoverKeys, OrderingMessagesNameTheOtherValue) {
    auto r = with_pool_keys("health_check: { tcp: {}, interval: 2s, timeout: 2500ms }");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_NE(r.errors[0].message.find(
                  "pools[0].health_check.timeout: 2500ms must not exceed interval (2s)"),
              std::string::npos)
        << all_errors(r);
    r = with_pool_keys("health_check: { tcp: {}, timeout: 6s }");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_NE(r.errors[0].message.find("6s must not exceed interval (5s, the default)"),
              std::string::npos)
        << all_errors(r);
    r = with_pool_keys("outlier_detection: { max_ejection: 10s }");
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_NE(r.errors[0].message.find("pools[0].outlier_detection.max_ejection: 10s is less "
                                       "than base_ejection (30s, the default)"),
              std::string::npos)
        << all_errors(r);
}

} // namespace
} // namespace haven::config

namespace haven::config {
namespace {

TEST(ServerQueueKeys, MaxConnectionsAndTheQueueAreReadAndDefaulted) {
    const char* yaml = R"(listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]
pools:
  - name: web
    queue: { max: 50, timeout: 750ms }
    servers:
      - { name: a, address: 127.0.0.1:9001, max_connections: 10 }
      - { name: b, address: 127.0.0.1:9002 }
  - name: other
    servers: [ { name: c, address: 127.0.0.1:9003, max_connections: 1 } ]
)";
    auto r = load_string(yaml, "q.yaml", test::offline());
    ASSERT_TRUE(r.config) << test::all_errors(r);
    const auto& web = r.config->pools[0];
    EXPECT_EQ(web.servers[0].max_connections, 10u);
    EXPECT_EQ(web.servers[1].max_connections, 0u); // absent: no cap
    EXPECT_EQ(web.queue.max, 50u);
    EXPECT_EQ(web.queue.timeout, std::chrono::milliseconds(750));
    const auto& other = r.config->pools[1];
    EXPECT_EQ(other.queue.max, 1024u);              // default
    EXPECT_EQ(other.queue.timeout.count(), 0);      // default: timeouts.connect
}

TEST(ServerQueueKeys, AQueueWithoutACappedServerAndBadValuesAreErrorsNamingTheKey) {
    const char* yaml = R"(listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]
pools:
  - name: web
    queue: { max: 5 }
    servers: [ { name: a, address: 127.0.0.1:9001 } ]
  - name: two
    queue: { max: -1, timeout: soon, size: 3 }
    servers: [ { name: b, address: 127.0.0.1:9002, max_connections: many } ]
)";
    auto r = load_string(yaml, "q.yaml", test::offline());
    const std::string all = test::all_errors(r);
    EXPECT_FALSE(r.config);
    EXPECT_NE(all.find("q.yaml:4:12: pools[0].queue: no server of the pool has max_connections"), std::string::npos) << all;
    EXPECT_NE(all.find("pools[1].queue.max"), std::string::npos) << all;
    EXPECT_NE(all.find("pools[1].queue.timeout"), std::string::npos) << all;
    EXPECT_NE(all.find("pools[1].queue: unknown key \"size\""), std::string::npos) << all;
    EXPECT_NE(all.find("pools[1].servers[0].max_connections"), std::string::npos) << all;
}

} // namespace
} // namespace haven::config
