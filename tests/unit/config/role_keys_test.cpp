// The database role keys (role, max_lag, max_lag_bytes, on_marked_down) and the postgres check:
// good input read field by field, and every rule between them refused with file:line and key.
#include "config/yaml_loader.hpp"

#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace haven::config {
namespace {

using test::all_errors;
using test::offline;

std::string yaml(const std::string& pool_keys, const std::string& check = "postgres: { user: haven }") {
    return "listeners: [ { name: rw, listen: 127.0.0.1:6432, mode: tcp, pool: db } ]\n"
           "pools:\n"
           "  - name: db\n" +
           pool_keys +
           "    health_check: { " + check + ", interval: 1s }\n"
           "    servers: [ { name: pg1, address: 127.0.0.1:5432 }, { name: pg2, address: 127.0.0.1:5433 } ]\n";
}

TEST(RoleKeys, ReplicaPoolWithLagBoundsAndAPasswordFile) {
    const std::string pw = ::testing::TempDir() + "/haven-pg-password";
    std::ofstream(pw) << "s3cret\nignored\n";
    auto r = load_string(yaml("    role: replica\n    max_lag: 10s\n    max_lag_bytes: 16MiB\n",
                              "postgres: { user: haven, database: app, password_file: " + pw + ", sslmode: disable }"),
                         "db.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Pool& p = r.config->pools.at(0);
    EXPECT_EQ(p.role, PoolRole::Replica);
    EXPECT_EQ(p.max_lag, std::chrono::seconds(10));
    EXPECT_EQ(p.max_lag_bytes, 16u << 20);
    EXPECT_EQ(p.marked_down(), OnMarkedDown::ShutdownSessions) << "the default with a role";
    const auto& h = *p.health_check;
    EXPECT_EQ(h.kind, HealthCheck::Kind::Postgres);
    EXPECT_EQ(h.postgres.user, "haven");
    EXPECT_EQ(h.postgres.database, "app");
    EXPECT_EQ(h.postgres.password, "s3cret") << "the first line only";
    EXPECT_EQ(h.postgres.sslmode, "disable");
    std::remove(pw.c_str());
}

TEST(RoleKeys, PatroniRestCheckOnItsOwnPort) {
    auto r = load_string(yaml("    role: primary\n    on_marked_down: none\n",
                              "http: { method: OPTIONS, path: /primary }, port: 8008"),
                         "db.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Pool& p = r.config->pools.at(0);
    EXPECT_EQ(p.role, PoolRole::Primary);
    EXPECT_EQ(p.marked_down(), OnMarkedDown::None);
    EXPECT_EQ(p.health_check->method, "OPTIONS");
    EXPECT_FALSE(p.health_check->connect.has_value()) << "unset: on for a role pool with its own port";
}

TEST(RoleKeys, WithoutARoleNothingChanges) {
    auto r = load_string(yaml(""), "db.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_EQ(r.config->pools[0].role, PoolRole::Any);
    EXPECT_EQ(r.config->pools[0].marked_down(), OnMarkedDown::None);
}

struct Bad {
    std::string pool_keys;
    std::string check;
    std::string error;
};

class RoleKeysBad : public ::testing::TestWithParam<Bad> {};

TEST_P(RoleKeysBad, IsRefusedWithItsKey) {
    const auto& b = GetParam();
    auto r = load_string(yaml(b.pool_keys, b.check), "db.yaml", offline());
    EXPECT_FALSE(r.config.has_value());
    const auto errors = all_errors(r);
    EXPECT_NE(errors.find("db.yaml:"), std::string::npos) << errors;
    EXPECT_NE(errors.find(b.error), std::string::npos) << errors;
}

INSTANTIATE_TEST_SUITE_P(
    All, RoleKeysBad,
    ::testing::Values(
        Bad{"    role: leader\n", "postgres: {}", "unknown value"},
        Bad{"    role: primary\n", "tcp: {}", "pools[0].role: a role needs a health_check that tells it"},
        Bad{"    role: prefer_replica\n", "http: { path: /replica }", "prefer_replica needs the postgres: check"},
        Bad{"    role: primary\n    max_lag: 5s\n", "postgres: {}", "max_lag: only for role: replica"},
        Bad{"    role: replica\n    max_lag: 5s\n", "http: { path: /replica }", "max_lag: needs the postgres: check"},
        Bad{"    max_lag_bytes: 1MiB\n", "postgres: {}", "max_lag_bytes: only for role: replica"},
        Bad{"    role: replica\n    max_lag: fast\n", "postgres: {}", "max_lag"},
        Bad{"    on_marked_down: kill\n", "postgres: {}", "unknown value"},
        Bad{"", "postgres: { password_file: /nonexistent/haven-pw }", "cannot read \"/nonexistent/haven-pw\""},
        Bad{"", "postgres: { user: \"\" }", "must be 1 to 256 characters"},
        Bad{"", "postgres: { sslmode: verify-full }", "unknown value"},
        Bad{"", "postgres: { usr: x }", "usr"},
        Bad{"", "postgres: {}, http: { path: / }", "a check is one of http, tcp or postgres"}));

} // namespace
} // namespace haven::config
