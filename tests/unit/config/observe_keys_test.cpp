// The `slo` and `admin` keys (src/config/observe_keys.cpp): values as written, defaults, a
// listener's slo over the top-level one, the window range, percentages, the admin listener
// against the data listeners, and token files (written to a temporary directory). Broken configs
// with exact positions are in bad_config_test.cpp.
#include "config/validate.hpp"
#include "config/yaml_loader.hpp"

#include "support/config_helpers.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace haven::config {
namespace {

using test::offline;
using test::all_errors;

using std::chrono::hours;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr std::int64_t kDayMs = 86'400'000;

constexpr const char* kBase =
    "listeners: [ { name: web, listen: 127.0.0.1:8080, pool: web } ]\n"
    "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n";

LoadResult load(const std::string& extra) {
    return load_string(std::string(kBase) + extra, "observe.yaml", offline());
}

// The first error's message, or "" when the config loaded.
std::string first_error(const std::string& extra) {
    auto r = load(extra);
    return r.errors.empty() ? "" : r.errors.front().message;
}

TEST(SloKeys, ValuesLoad) {
    auto r = load("slo:\n"
                  "  availability: 99.9%\n"
                  "  latency_p99: 250ms\n"
                  "  error_rate: 0.5%\n"
                  "  window: 7d\n");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Slo& s = r.config->slo;
    EXPECT_DOUBLE_EQ(s.availability, 0.999);
    EXPECT_EQ(s.latency_p99, milliseconds(250));
    EXPECT_DOUBLE_EQ(s.error_rate, 0.005);
    EXPECT_EQ(s.window, milliseconds(7 * kDayMs));
    EXPECT_EQ(s.loc.line, 4);
    EXPECT_EQ(s.loc.column, 3);
}

TEST(SloKeys, FractionsAreAcceptedToo) {
    auto r = load("slo: { availability: 0.9995, error_rate: 0.001 }\n");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_DOUBLE_EQ(r.config->slo.availability, 0.9995);
    EXPECT_DOUBLE_EQ(r.config->slo.error_rate, 0.001);
    r = load("slo: { availability: 100%, error_rate: 0% }\n");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_DOUBLE_EQ(r.config->slo.availability, 1.0);
    EXPECT_DOUBLE_EQ(r.config->slo.error_rate, 0.0);
}

TEST(SloKeys, Defaults) {
    auto r = load("");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    const Slo& s = r.config->slo;
    EXPECT_DOUBLE_EQ(s.availability, 0.9995);
    EXPECT_EQ(s.latency_p99, milliseconds(500));
    EXPECT_DOUBLE_EQ(s.error_rate, 0.001);
    EXPECT_EQ(s.window, milliseconds(30 * kDayMs));
    EXPECT_FALSE(r.config->listeners[0].slo.has_value());
    EXPECT_FALSE(r.config->admin.has_value());
}

// The top-level slo comes after the listeners here: the override still starts from it.
TEST(SloKeys, ListenerOverridesTheTopLevelKeyByKey) {
    auto r = load_string("listeners:\n"
                         "  - { name: web, listen: 127.0.0.1:8080, pool: web }\n"
                         "  - name: api\n"
                         "    listen: 127.0.0.1:8081\n"
                         "    pool: web\n"
                         "    slo: { latency_p99: 200ms, availability: 99.99% }\n"
                         "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
                         "slo: { availability: 99.9%, window: 90d }\n",
                         "observe.yaml", offline());
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_FALSE(r.config->listeners[0].slo.has_value());
    ASSERT_TRUE(r.config->listeners[1].slo.has_value());
    const Slo& s = *r.config->listeners[1].slo;
    EXPECT_DOUBLE_EQ(s.availability, 0.9999);           // its own
    EXPECT_EQ(s.latency_p99, milliseconds(200));        // its own
    EXPECT_EQ(s.window, milliseconds(90 * kDayMs));     // the top level's
    EXPECT_DOUBLE_EQ(s.error_rate, 0.001);              // the default
    EXPECT_EQ(s.loc.line, 6);
    EXPECT_DOUBLE_EQ(r.config->slo.availability, 0.999); // the top level is unchanged
}

TEST(SloKeys, WindowRange) {
    for (const char* ok : {"1h", "30d", "90d", "1.5d", "2160h"}) {
        SCOPED_TRACE(ok);
        EXPECT_EQ(first_error(std::string("slo: { window: ") + ok + " }\n"), "");
    }
    EXPECT_EQ(load("slo: { window: 1h }\n").config->slo.window, hours(1));
    EXPECT_EQ(first_error("slo: { window: 10m }\n"),
              "slo.window: must be from 1h to 90d, got \"10m\"");
    EXPECT_EQ(first_error("slo: { window: 59m }\n"),
              "slo.window: must be from 1h to 90d, got \"59m\"");
    EXPECT_EQ(first_error("slo: { window: 91d }\n"),
              "slo.window: must be from 1h to 90d, got \"91d\"");
    EXPECT_EQ(first_error("slo: { window: 0d }\n"),
              "slo.window: duration must be greater than 0, got \"0d\"");
}

TEST(SloKeys, BadPercentages) {
    EXPECT_EQ(first_error("slo: { availability: 0% }\n"),
              "slo.availability: must be more than 0% (e.g. 99.95%)");
    EXPECT_EQ(first_error("slo: { availability: 99.95 }\n"),
              "slo.availability: a bare number is a fraction of 1, so \"99.95\" would be 9995%; "
              "write 99.95% (or 0.9995)");
    EXPECT_NE(first_error("slo: { availability: 100.5% }\n")
                  .find("slo.availability: expected a percentage from 0% to 100% or a fraction"),
              std::string::npos);
    EXPECT_NE(first_error("slo: { availability: high }\n").find("got \"high\""),
              std::string::npos);
    EXPECT_NE(first_error("slo: { availability: -1% }\n").find("got \"-1%\""), std::string::npos);
    EXPECT_EQ(first_error("slo: { error_rate: 100% }\n"),
              "slo.error_rate: must be less than 100% (e.g. 0.1%)");
    EXPECT_EQ(first_error("slo: { error_rate: 1 }\n"),
              "slo.error_rate: must be less than 100% (e.g. 0.1%)");
    EXPECT_EQ(first_error("slo: { latency_p99: 0ms }\n"),
              "slo.latency_p99: duration must be greater than 0, got \"0ms\"");
}

TEST(Durations, DaysWorkForOtherKeysWithinTheYearLimit) {
    auto r = load("timeouts: { server: 1d }\n");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_EQ(r.config->timeouts.server, milliseconds(kDayMs));
    EXPECT_NE(first_error("timeouts: { server: 366d }\n").find("is too large"), std::string::npos);
}

TEST(AdminKeys, ListenLoadsWithoutToken) {
    auto r = load("admin: { listen: 127.0.0.1:9000 }\n");
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    ASSERT_TRUE(r.config->admin.has_value());
    EXPECT_EQ(r.config->admin->listen.host, "127.0.0.1");
    EXPECT_EQ(r.config->admin->listen.port, 9000);
    EXPECT_EQ(r.config->admin->token_file, "");
    EXPECT_EQ(r.config->admin->token, "");
    EXPECT_EQ(first_error("admin: { listen: 127.0.0.1:0 }\n"), ""); // for tests
}

TEST(AdminKeys, ListenIsRequired) {
    EXPECT_EQ(first_error("admin: {}\n"),
              "admin: missing \"listen\" (HOST:PORT, e.g. 127.0.0.1:9000)");
}

TEST(AdminKeys, ListenMustNotBeADataListener) {
    EXPECT_EQ(first_error("admin: { listen: 127.0.0.1:8080 }\n"),
              "admin.listen: 127.0.0.1:8080 is also the address of listener \"web\" "
              "(127.0.0.1:8080 at 1:14); the admin listener needs a port of its own");
    EXPECT_NE(first_error("admin: { listen: 0.0.0.0:8080 }\n").find("is also the address"),
              std::string::npos); // a wildcard on the same port covers the listener's address
    EXPECT_EQ(first_error("admin: { listen: 127.0.0.2:8080 }\n"), "");
    EXPECT_EQ(first_error("admin: { listen: 127.0.0.1:8081 }\n"), "");
}

TEST(AdminKeys, AnAddressTheNetworkCanReachNeedsAToken) {
    const std::string error = first_error("admin: { listen: 0.0.0.0:9555 }\n");
    EXPECT_EQ(error, "admin.listen: 0.0.0.0:9555 can be reached from the network, and admin.token_file "
                     "is not set: anyone who reaches it could drain every server. Set admin.token_file, "
                     "listen on 127.0.0.1, or set admin.allow_writes_without_token: true to accept that");
    EXPECT_NE(first_error("admin: { listen: \"10.1.2.3:9555\" }\n"), "");
    EXPECT_NE(first_error("admin: { listen: \"[::]:9555\" }\n"), "");
    // Loopback in every spelling is fine without a token.
    for (const char* ok : {"127.0.0.1:9555", "127.9.9.9:9555", "\"[::1]:9555\"", "\"[::ffff:127.0.0.1]:9555\""}) {
        EXPECT_EQ(first_error(std::string("admin: { listen: ") + ok + " }\n"), "") << ok;
    }
    // The explicit opt-in.
    EXPECT_EQ(first_error("admin: { listen: 0.0.0.0:9555, allow_writes_without_token: true }\n"), "");
    EXPECT_NE(first_error("admin: { listen: 0.0.0.0:9555, allow_writes_without_token: yes please }\n"), "");
}

TEST(AdminKeys, PortZeroNeverClashes) {
    auto r = load_string("listeners: [ { name: web, listen: 127.0.0.1:0, pool: web } ]\n"
                         "pools: [ { name: web, servers: [ { address: 127.0.0.1:9001 } ] } ]\n"
                         "admin: { listen: 127.0.0.1:0 }\n",
                         "observe.yaml", offline());
    EXPECT_TRUE(r.config.has_value()) << all_errors(r);
}

// A temporary directory of token files, removed with the fixture.
class TokenFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("haven_token_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    std::string write(const std::string& name, const std::string& content) {
        fs::path p = dir_ / name;
        std::ofstream(p, std::ios::binary) << content;
        return p.string();
    }
    static std::string with_token_file(const std::string& path) {
        return "admin:\n  listen: 127.0.0.1:9000\n  token_file: " + path + "\n";
    }
    fs::path dir_;
};

TEST_F(TokenFile, ContentIsTrimmed) {
    std::string path = write("token", "  s3cret-token\n\n");
    auto r = load(with_token_file(path));
    ASSERT_TRUE(r.config.has_value()) << all_errors(r);
    EXPECT_EQ(r.config->admin->token_file, path);
    EXPECT_EQ(r.config->admin->token, "s3cret-token");
}

TEST_F(TokenFile, ATokenMakesANetworkAddressAcceptable) {
    const std::string path = write("token", "s3cret\n");
    EXPECT_EQ(first_error("admin:\n  listen: 0.0.0.0:9555\n  token_file: " + path + "\n"), "");
}

TEST_F(TokenFile, MissingFile) {
    std::string path = (dir_ / "absent").string();
    EXPECT_EQ(first_error(with_token_file(path)),
              "admin.token_file: cannot read \"" + path + "\": No such file or directory");
}

TEST_F(TokenFile, EmptyFile) {
    for (const char* content : {"", "\n", "  \t\r\n"}) {
        SCOPED_TRACE(content);
        std::string path = write("empty", content);
        EXPECT_EQ(first_error(with_token_file(path)),
                  "admin.token_file: \"" + path +
                      "\" is empty; it should hold the admin API token");
    }
}

TEST_F(TokenFile, MoreThanOneLine) {
    std::string path = write("two", "first\nsecond\n");
    EXPECT_NE(first_error(with_token_file(path)).find("holds more than one line"),
              std::string::npos);
}

TEST_F(TokenFile, NotARegularFileOrHuge) {
    for (std::string path : {dir_.string(), std::string("/dev/zero")}) {
        SCOPED_TRACE(path);
        EXPECT_NE(first_error(with_token_file(path)).find("is not a regular file"),
                  std::string::npos);
    }
    std::string path = write("huge", std::string(70'000, 'x'));
    EXPECT_NE(first_error(with_token_file(path)).find("is larger than 64 KiB"), std::string::npos);
}

TEST_F(TokenFile, EmptyPath) {
    EXPECT_EQ(first_error("admin: { listen: 127.0.0.1:9000, token_file: \"\" }\n"),
              "admin.token_file: must not be empty (a file holding the admin API token)");
}

TEST(ObserveValidate, ConfigsBuiltInCodeMeetTheSameRules) {
    Config c;
    c.source = "built-in";
    Listener l;
    l.name = "web";
    l.listen = *parse_endpoint("127.0.0.1:8080");
    l.pool = "web";
    l.loc = {3, 5};
    Slo bad;
    bad.availability = 0;
    bad.error_rate = 1;
    bad.latency_p99 = milliseconds(0);
    bad.window = milliseconds(600'000);
    bad.loc = {4, 7};
    l.slo = bad;
    c.listeners.push_back(l);
    Pool p;
    p.name = "web";
    p.servers.push_back(Server{});
    p.servers[0].name = "w1";
    p.servers[0].address = *parse_endpoint("127.0.0.1:9001");
    c.pools.push_back(p);
    c.slo.window = milliseconds(91 * kDayMs);
    c.admin.emplace().listen = *parse_endpoint("127.0.0.1:8080");
    std::string all;
    for (const auto& e : validate(c)) all += e.to_string() + "\n";
    for (const char* expected : {
             "built-in: slo.window: must be from 1h to 90d, got 91d",
             "built-in:4:7: listeners[0].slo.availability: must be more than 0% and at most "
             "100%, got 0%",
             "listeners[0].slo.error_rate: must be from 0% to less than 100%, got 100%",
             "listeners[0].slo.latency_p99: must be greater than 0",
             "listeners[0].slo.window: must be from 1h to 90d, got 10m",
             "admin.listen: 127.0.0.1:8080 is also the address of listener \"web\"",
         }) {
        EXPECT_NE(all.find(expected), std::string::npos) << expected << "\nin:\n" << all;
    }
    c = Config{};
    c.admin.emplace();
    all.clear();
    for (const auto& e : validate(c)) all += e.to_string() + "\n";
    EXPECT_NE(all.find("admin: missing \"listen\""), std::string::npos) << all;
}

} // namespace
} // namespace haven::config
