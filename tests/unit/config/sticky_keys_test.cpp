// A pool's `sticky:` and a server's `cookie:` (src/config/sticky_keys.cpp): a full mapping loads
// with every value, and each mistake is an error naming file, line and key.
#include "config/yaml_loader.hpp"
#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

namespace haven::config {
namespace {

// A listener and pool `web`; `sticky` is indented under the pool (line 5 is its first line) and
// `servers` replaces the default two servers.
std::string with_sticky(const std::string& sticky, const std::string& servers =
                                                       "      - { name: s1, address: 127.0.0.1:9001 }\n"
                                                       "      - { name: s2, address: 127.0.0.1:9002 }\n") {
    return "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
           "pools:\n"
           "  - name: web\n"
           "    sticky:\n" +
           sticky + "    servers:\n" + servers;
}

LoadResult load_sticky(const std::string& yaml) { return load_string(yaml, "h.yaml", test::offline()); }

TEST(StickyKeys, EveryKeyIsRead) {
    const auto r = load_sticky(with_sticky("      cookie: { name: SERVERID, mode: insert, indirect: true, nocache: true,\n"
                                    "                httponly: true, secure: true, samesite: strict, max_age: 1h,\n"
                                    "                domain: example.com, path: /app }\n"
                                    "      table: { on: header:X-User, expire: 10m, size: 5000, shared: false }\n"
                                    "      redispatch: false\n",
                                    "      - { name: s1, address: 127.0.0.1:9001, cookie: web1 }\n"));
    ASSERT_TRUE(r.errors.empty()) << test::all_errors(r);
    const auto& st = *r.config->pools[0].sticky;
    ASSERT_TRUE(st.cookie);
    EXPECT_EQ(st.cookie->name, "SERVERID");
    EXPECT_TRUE(st.cookie->indirect && st.cookie->nocache && st.cookie->httponly && st.cookie->secure);
    EXPECT_EQ(st.cookie->samesite, SameSite::Strict);
    EXPECT_EQ(st.cookie->max_age, std::chrono::hours(1));
    EXPECT_EQ(st.cookie->domain, "example.com");
    EXPECT_EQ(st.cookie->path, "/app");
    ASSERT_TRUE(st.table);
    EXPECT_EQ(st.table->on, StickOn::Header);
    EXPECT_EQ(st.table->name, "X-User");
    EXPECT_EQ(st.table->expire, std::chrono::minutes(10));
    EXPECT_EQ(st.table->size, 5000u);
    EXPECT_FALSE(st.table->shared);
    EXPECT_FALSE(st.redispatch);
    EXPECT_EQ(r.config->pools[0].servers[0].cookie, "web1");
}

TEST(StickyKeys, DefaultsFollowHaproxy) {
    const auto r = load_sticky(with_sticky("      cookie: { name: SRV }\n"));
    ASSERT_TRUE(r.errors.empty()) << test::all_errors(r);
    const auto& c = *r.config->pools[0].sticky->cookie;
    EXPECT_EQ(c.mode, CookieMode::Insert);
    EXPECT_FALSE(c.indirect || c.nocache || c.httponly || c.secure);
    EXPECT_EQ(c.path, "/");
    EXPECT_TRUE(r.config->pools[0].sticky->redispatch);
}

struct StickyBadCase {
    const char* sticky;
    const char* servers;
    const char* expected; // a substring of the error, with file:line:column
};

class StickyKeysBad : public ::testing::TestWithParam<StickyBadCase> {};

TEST_P(StickyKeysBad, IsAnErrorAtItsKey) {
    const auto& c = GetParam();
    const auto r = c.servers[0] ? load_sticky(with_sticky(c.sticky, c.servers)) : load_sticky(with_sticky(c.sticky));
    EXPECT_NE(test::all_errors(r).find(c.expected), std::string::npos) << test::all_errors(r);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StickyKeysBad,
    ::testing::Values(
        StickyBadCase{"      cookie: { name: 'a b' }\n", "", "h.yaml:5:23: pools[0].sticky.cookie.name: invalid cookie name"},
        StickyBadCase{"      cookie: { mode: insert }\n", "", "h.yaml:5:15: pools[0].sticky.cookie: missing \"name\""},
        StickyBadCase{"      cookie: { name: S, mode: sideways }\n", "", "pools[0].sticky.cookie.mode"},
        StickyBadCase{"      cookie: { name: S, mode: prefix, httponly: true }\n", "", "apply to mode: insert only"},
        StickyBadCase{"      cookie: { name: S, samesite: none }\n", "", "samesite: none needs secure: true"},
        StickyBadCase{"      cookie: { name: S, path: app }\n", "", "pools[0].sticky.cookie.path: invalid path"},
        StickyBadCase{"      cookie: { name: S, domain: 'a;b' }\n", "", "pools[0].sticky.cookie.domain: invalid domain"},
        StickyBadCase{"      table: { on: body }\n", "", "h.yaml:5:20: pools[0].sticky.table.on: unknown value \"body\""},
        StickyBadCase{"      table: { on: source, size: 0 }\n", "", "h.yaml:5:34: pools[0].sticky.table.size: expected an integer from 1 to 10000000"},
        StickyBadCase{"      redispatch: true\n", "", "h.yaml:5:7: pools[0].sticky: needs a cookie, a table or both"},
        StickyBadCase{"      cookie: { name: S, colour: red }\n", "", "h.yaml:5:26: pools[0].sticky.cookie: unknown key \"colour\""},
        StickyBadCase{"      table: { on: source }\n", "      - { name: s1, address: 127.0.0.1:9001, cookie: x }\n",
                "pools[0].servers[0].cookie: the pool has no sticky.cookie"},
        StickyBadCase{"      cookie: { name: S }\n", "      - { name: s1, address: 127.0.0.1:9001, cookie: 'a~b' }\n",
                "pools[0].servers[0].cookie: invalid cookie value"},
        StickyBadCase{"      cookie: { name: S }\n",
                "      - { name: s1, address: 127.0.0.1:9001, cookie: x }\n"
                "      - { name: s2, address: 127.0.0.1:9002, cookie: x }\n",
                "pools[0].servers[1].cookie: \"x\" already names server \"s1\""}));

TEST(StickyKeys, ATcpListenerCannotUseAStickyPool) {
    const auto r = load_sticky("listeners: [ { name: db, listen: 127.0.0.1:5433, mode: tcp, pool: db } ]\n"
                        "pools:\n"
                        "  - name: db\n"
                        "    sticky: { table: { on: source } }\n"
                        "    servers: [ { address: 127.0.0.1:5432 } ]\n");
    EXPECT_NE(test::all_errors(r).find("h.yaml:1:14: listeners[0]: a tcp listener cannot use pool \"db\""),
              std::string::npos)
        << test::all_errors(r);
}

} // namespace
} // namespace haven::config

namespace haven::config {
namespace {

std::string with_shared(const std::string& shared) {
    return "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
           "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
           "shared_state:\n" +
           shared;
}

TEST(SharedStateKeys, RedisOrSentinelsAreRead) {
    auto r = load_sticky(
        with_shared("  redis: 127.0.0.1:6379\n  password: pw\n  database: 2\n  prefix: shop\n  sync: 250ms\n"));
    ASSERT_TRUE(r.errors.empty()) << test::all_errors(r);
    const auto& s = *r.config->shared_state;
    EXPECT_EQ(s.sync, std::chrono::milliseconds(250));
    ASSERT_EQ(s.redis.size(), 1u);
    EXPECT_EQ(s.redis[0].port, 6379);
    EXPECT_EQ(s.password, "pw");
    EXPECT_EQ(s.database, 2u);
    EXPECT_EQ(s.prefix, "shop");
    r = load_sticky(with_shared("  sentinels: [127.0.0.1:26379, 127.0.0.1:26380]\n  master: mymaster\n"));
    ASSERT_TRUE(r.errors.empty()) << test::all_errors(r);
    EXPECT_EQ(r.config->shared_state->sentinels.size(), 2u);
    EXPECT_EQ(r.config->shared_state->prefix, "haven");
    EXPECT_EQ(r.config->shared_state->sync, std::chrono::milliseconds(100));
}

TEST(SharedStateKeys, ARateLimitIsSharedUnlessToldNot) {
    const auto yaml = [](const std::string& extra) {
        return "listeners:\n  - name: web\n    listen: 127.0.0.1:8080\n    routes:\n      - pool: web\n"
               "        policies: { rate_limit: { limits: [\"5 per second\"]" + extra + " } }\n"
               "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n";
    };
    auto r = load_sticky(yaml(""));
    ASSERT_TRUE(r.errors.empty()) << test::all_errors(r);
    EXPECT_TRUE(r.config->listeners[0].routes[0].policies.rate_limit->shared);
    r = load_sticky(yaml(", shared: false"));
    ASSERT_TRUE(r.errors.empty()) << test::all_errors(r);
    EXPECT_FALSE(r.config->listeners[0].routes[0].policies.rate_limit->shared);
    r = load_sticky(yaml(", shared: maybe"));
    EXPECT_NE(test::all_errors(r).find("rate_limit.shared"), std::string::npos) << test::all_errors(r);
}

TEST(SharedStateKeys, MistakesAreErrorsAtTheirKey) {
    const std::pair<const char*, const char*> cases[] = {
        {"  password: x\n", "h.yaml:4:3: shared_state: needs either redis (the address of one Redis) or sentinels"},
        {"  redis: 127.0.0.1:6379\n  sentinels: [127.0.0.1:26379]\n  master: m\n", "not both"},
        {"  sentinels: [127.0.0.1:26379]\n", "shared_state: sentinels needs master"},
        {"  redis: 127.0.0.1:6379\n  master: m\n", "shared_state: master applies only with sentinels"},
        {"  redis: 127.0.0.1\n", "h.yaml:4:10: shared_state.redis"},
        {"  redis: 127.0.0.1:6379\n  database: 16\n", "h.yaml:5:13: shared_state.database"},
        {"  redis: 127.0.0.1:6379\n  prefix: 'a b'\n", "h.yaml:5:11: shared_state.prefix: invalid prefix"},
        {"  redis: 127.0.0.1:6379\n  tls: true\n", "shared_state: unknown key \"tls\""},
        {"  redis: 127.0.0.1:6379\n  sync: 5ms\n", "h.yaml:5:9: shared_state.sync: must be from 10ms to 10s, got 5ms"},
        {"  redis: 127.0.0.1:6379\n  sync: 1m\n", "shared_state.sync: must be from 10ms to 10s"},
    };
    for (const auto& [yaml, expected] : cases) {
        const auto r = load_sticky(with_shared(yaml));
        EXPECT_NE(test::all_errors(r).find(expected), std::string::npos) << yaml << "\n" << test::all_errors(r);
    }
}

} // namespace
} // namespace haven::config
