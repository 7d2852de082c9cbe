// Tables for the scalar syntaxes: durations, sizes, endpoints, and the error text format.
#include "config/value_rules.hpp"
#include "config/yaml_loader.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace haven::config {
namespace {

using std::chrono::milliseconds;

struct DurationCase {
    const char* text;
    std::optional<std::int64_t> ms;
};

TEST(ParseDuration, Table) {
    const DurationCase cases[] = {
        {"250ms", 250},         {"2s", 2000},           {"1m", 60'000},
        {"1h", 3'600'000},      {"1.5s", 1500},         {"1.5m", 90'000},
        {"0.25s", 250},         {"0s", 0},              {"0ms", 0},
        {"007s", 7000},         {"8760h", 8760LL * 3'600'000},
        {"1.0000000000s", 1000}, // trailing zeros past nanoseconds are harmless
        {"", std::nullopt},     {"2", std::nullopt},    {"s", std::nullopt},
        {"-1s", std::nullopt},  {"+1s", std::nullopt},  {"1 s", std::nullopt},
        {" 1s", std::nullopt},  {"1S", std::nullopt},   {"1sec", std::nullopt},
        {"1d", 86'400'000},     {"1us", std::nullopt},  {".5s", std::nullopt},
        {"90d", 90LL * 86'400'000}, {"365d", 8760LL * 3'600'000}, {"1.5d", 129'600'000},
        {"366d", std::nullopt}, {"1D", std::nullopt},   {"1dd", std::nullopt},
        {"1.s", std::nullopt},  {"1..5s", std::nullopt}, {"1.2.3s", std::nullopt},
        {"1e3ms", std::nullopt}, {"0x10s", std::nullopt}, {"1.5ms", std::nullopt},
        {"0.0001s", std::nullopt}, {"8761h", std::nullopt},
        {"99999999999999999999999s", std::nullopt}, {"18446744073709551616ms", std::nullopt},
        {"1s2", std::nullopt},  {"1ms ", std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto got = parse_duration(c.text);
        if (c.ms) {
            ASSERT_TRUE(got.has_value());
            EXPECT_EQ(got->count(), *c.ms);
        } else {
            EXPECT_FALSE(got.has_value()) << got->count();
        }
    }
}

struct SizeCase {
    const char* text;
    std::optional<std::uint64_t> bytes;
};

TEST(ParseSize, Table) {
    const SizeCase cases[] = {
        {"0", 0},
        {"512", 512},
        {"64KiB", 64 * 1024},
        {"1MiB", 1 << 20},
        {"2GiB", 2ULL << 30},
        {"1KB", 1000},
        {"1MB", 1'000'000},
        {"1GB", 1'000'000'000},
        {"18446744073709551615", 18446744073709551615ULL},
        {"", std::nullopt},
        {"KiB", std::nullopt},
        {"-1", std::nullopt},
        {"1.5MiB", std::nullopt},
        {"1kib", std::nullopt},
        {"1kb", std::nullopt},
        {"1 KiB", std::nullopt},
        {"1B", std::nullopt},
        {"1TiB", std::nullopt},
        {"18446744073709551616", std::nullopt},
        {"17179869184GiB", std::nullopt},
        {"0x100", std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto got = parse_size(c.text);
        if (c.bytes) {
            ASSERT_TRUE(got.has_value());
            EXPECT_EQ(*got, *c.bytes);
        } else {
            EXPECT_FALSE(got.has_value()) << *got;
        }
    }
}

struct EndpointCase {
    const char* text;
    bool ok;
    const char* host = "";
    std::uint16_t port = 0;
};

TEST(ParseEndpoint, Table) {
    const EndpointCase cases[] = {
        {"127.0.0.1:80", true, "127.0.0.1", 80},
        {"0.0.0.0:0", true, "0.0.0.0", 0},
        {"[::1]:8080", true, "::1", 8080},
        {"[::]:65535", true, "::", 65535},
        {"[2001:db8::1]:443", true, "2001:db8::1", 443},
        {"localhost:80", true, "localhost", 80},
        {"api-1.internal.example.com:9000", true, "api-1.internal.example.com", 9000},
        {"LOCALHOST:1", true, "LOCALHOST", 1},
        {"", false},
        {"127.0.0.1", false},
        {"127.0.0.1:", false},
        {":8080", false},
        {"127.0.0.1:65536", false},
        {"127.0.0.1:123456", false},
        {"127.0.0.1:-1", false},
        {"127.0.0.1:+80", false},
        {"127.0.0.1:80 ", false},
        {"::1:80", false},
        {"[::1]", false},
        {"[::1]80", false},
        {"[127.0.0.1]:80", false},
        {"[nothex]:80", false},
        {"1.2.3:80", false},       // not a dotted quad, and not a name either
        {"256.1.1.1:80", false},
        {"-bad.example:80", false},
        {"bad-.example:80", false},
        {"a..b:80", false},
        {"under_score:80", false},
        {"http://x:80", false},
        {"host name:80", false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto got = parse_endpoint(c.text);
        ASSERT_EQ(got.has_value(), c.ok);
        if (!c.ok) continue;
        EXPECT_EQ(got->text, c.text);
        EXPECT_EQ(got->host, c.host);
        EXPECT_EQ(got->port, c.port);
    }
}

TEST(ParsePercent, Table) {
    struct Case {
        const char* text;
        std::optional<double> number;
        bool percent_sign = false;
        bool whole = false;
    };
    const Case cases[] = {
        {"20%", 20, true, true},   {"12.5%", 12.5, true, false}, {"0.2", 0.2, false, false},
        {"50", 50, false, true},   {"0", 0, false, true},        {"007%", 7, true, true},
        {"", std::nullopt},        {"%", std::nullopt},          {"-5%", std::nullopt},
        {"+5", std::nullopt},      {".5", std::nullopt},         {"5.", std::nullopt},
        {"1e2", std::nullopt},     {"5 %", std::nullopt},        {"5%%", std::nullopt},
        {"%5", std::nullopt},      {"inf", std::nullopt},        {"0x10", std::nullopt},
        {"1.2.3", std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto got = rules::parse_percent(c.text);
        ASSERT_EQ(got.has_value(), c.number.has_value());
        if (!got) continue;
        EXPECT_DOUBLE_EQ(got->number, *c.number);
        EXPECT_EQ(got->percent_sign, c.percent_sign);
        EXPECT_EQ(got->whole, c.whole);
    }
}

TEST(ParseStatusRange, Table) {
    using rules::StatusProblem;
    struct Case {
        const char* text;
        StatusProblem problem;
        std::pair<int, int> range = {0, 0};
    };
    const Case cases[] = {
        {"200", StatusProblem::None, {200, 200}},
        {"200-399", StatusProblem::None, {200, 399}},
        {"100-599", StatusProblem::None, {100, 599}},
        {"404-404", StatusProblem::None, {404, 404}},
        {"99", StatusProblem::OutOfRange},
        {"600", StatusProblem::OutOfRange},
        {"200-99", StatusProblem::OutOfRange},
        {"200-600", StatusProblem::OutOfRange},
        {"99999999999999999999", StatusProblem::OutOfRange},
        {"399-200", StatusProblem::Reversed},
        {"", StatusProblem::Syntax},
        {"-", StatusProblem::Syntax},
        {"200-", StatusProblem::Syntax},
        {"-200", StatusProblem::Syntax},
        {"2xx", StatusProblem::Syntax},
        {"200 - 399", StatusProblem::Syntax},
        {"200-300-400", StatusProblem::Syntax},
        {"+200", StatusProblem::Syntax},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        auto got = rules::parse_status_range(c.text);
        EXPECT_EQ(got.problem, c.problem);
        if (c.problem == StatusProblem::None) {
            EXPECT_EQ(got.range, c.range);
        }
    }
}

TEST(HostHeader, Table) {
    for (const char* ok : {"example.com", "example.com:8080", "10.0.0.1", "10.0.0.1:80", "[::1]",
                           "[::1]:8443", "localhost"}) {
        EXPECT_TRUE(rules::is_host_header(ok)) << ok;
    }
    for (const char* bad : {"", "a b", "example.com:", "example.com:0", "example.com:65536",
                            "::1", "[::1", "a_b.example", "example.com\r\nX: y", "*.example.com",
                            "example.com/path"}) {
        EXPECT_FALSE(rules::is_host_header(bad)) << bad;
    }
}

TEST(DurationText, LargestUnitThatDivides) {
    using std::chrono::milliseconds;
    EXPECT_EQ(rules::duration_text(milliseconds(0)), "0ms");
    EXPECT_EQ(rules::duration_text(milliseconds(250)), "250ms");
    EXPECT_EQ(rules::duration_text(milliseconds(1500)), "1500ms");
    EXPECT_EQ(rules::duration_text(milliseconds(30'000)), "30s");
    EXPECT_EQ(rules::duration_text(milliseconds(90'000)), "90s");
    EXPECT_EQ(rules::duration_text(milliseconds(300'000)), "5m");
    EXPECT_EQ(rules::duration_text(milliseconds(7'200'000)), "2h");
    EXPECT_EQ(rules::duration_text(milliseconds(30LL * 86'400'000)), "30d");
    EXPECT_EQ(rules::duration_text(milliseconds(36LL * 3'600'000)), "36h");
}

TEST(ConfigErrorText, WithAndWithoutPosition) {
    EXPECT_EQ((ConfigError{"haven.yaml", 12, 7, "pools[0]: has no servers"}).to_string(),
              "haven.yaml:12:7: pools[0]: has no servers");
    EXPECT_EQ((ConfigError{"haven.yaml", 0, 0, "no listeners"}).to_string(),
              "haven.yaml: no listeners");
    EXPECT_EQ((ConfigError{"haven.yaml", 3, 0, "x"}).to_string(), "haven.yaml:3: x");
}

} // namespace
} // namespace haven::config
