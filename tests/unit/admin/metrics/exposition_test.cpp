#include "admin/metrics/exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>

namespace haven::admin::metrics {
namespace {

TEST(Exposition, CounterAndGaugeWithoutLabels) {
    Exposition e;
    e.counter("haven_requests_total", "Requests received.", {}, 42);
    e.gauge("haven_connections", "Open connections.", {}, 3);
    EXPECT_EQ(e.str(), "# HELP haven_requests_total Requests received.\n"
                       "# TYPE haven_requests_total counter\n"
                       "haven_requests_total 42\n"
                       "# HELP haven_connections Open connections.\n"
                       "# TYPE haven_connections gauge\n"
                       "haven_connections 3\n");
}

TEST(Exposition, SamplesWithLabels) {
    Exposition e;
    e.counter("haven_upstream_requests_total", "Requests sent upstream.",
              {{"pool", "api"}, {"host", "10.0.0.1:80"}}, 7);
    e.gauge("haven_pool_healthy_hosts", "Healthy hosts.", {{"pool", "api"}}, 0.5);
    EXPECT_EQ(e.str(), "# HELP haven_upstream_requests_total Requests sent upstream.\n"
                       "# TYPE haven_upstream_requests_total counter\n"
                       "haven_upstream_requests_total{pool=\"api\",host=\"10.0.0.1:80\"} 7\n"
                       "# HELP haven_pool_healthy_hosts Healthy hosts.\n"
                       "# TYPE haven_pool_healthy_hosts gauge\n"
                       "haven_pool_healthy_hosts{pool=\"api\"} 0.5\n");
}

TEST(Exposition, InterleavedSamplesStayInTheirFamilyInFirstAddedOrder) {
    Exposition e;
    e.counter("b_total", "B.", {{"k", "1"}}, 1);
    e.gauge("a", "A.", {{"k", "1"}}, 10);
    e.counter("b_total", "B.", {{"k", "2"}}, 2);
    e.gauge("a", "A.", {{"k", "2"}}, 20);
    e.counter("b_total", "B.", {{"k", "3"}}, 3);
    EXPECT_EQ(e.str(), "# HELP b_total B.\n"
                       "# TYPE b_total counter\n"
                       "b_total{k=\"1\"} 1\n"
                       "b_total{k=\"2\"} 2\n"
                       "b_total{k=\"3\"} 3\n"
                       "# HELP a A.\n"
                       "# TYPE a gauge\n"
                       "a{k=\"1\"} 10\n"
                       "a{k=\"2\"} 20\n");
}

TEST(Exposition, FamilyKeepsItsFirstHelp) {
    Exposition e;
    e.gauge("g", "first", {{"k", "1"}}, 1);
    e.gauge("g", "second", {{"k", "2"}}, 2);
    EXPECT_EQ(e.str(), "# HELP g first\n# TYPE g gauge\ng{k=\"1\"} 1\ng{k=\"2\"} 2\n");
}

TEST(Exposition, HistogramWritesCumulativeBucketsSumAndCount) {
    Exposition e;
    const double bounds[] = {0.005, 0.1, 1, 10};
    const std::uint64_t counts[] = {2, 3, 0, 4, 1}; // last: above 10
    e.histogram("haven_request_duration_seconds", "Request latency.", {{"route", "r\"1"}}, bounds, counts, 12.25);
    EXPECT_EQ(e.str(), "# HELP haven_request_duration_seconds Request latency.\n"
                       "# TYPE haven_request_duration_seconds histogram\n"
                       "haven_request_duration_seconds_bucket{route=\"r\\\"1\",le=\"0.005\"} 2\n"
                       "haven_request_duration_seconds_bucket{route=\"r\\\"1\",le=\"0.1\"} 5\n"
                       "haven_request_duration_seconds_bucket{route=\"r\\\"1\",le=\"1\"} 5\n"
                       "haven_request_duration_seconds_bucket{route=\"r\\\"1\",le=\"10\"} 9\n"
                       "haven_request_duration_seconds_bucket{route=\"r\\\"1\",le=\"+Inf\"} 10\n"
                       "haven_request_duration_seconds_sum{route=\"r\\\"1\"} 12.25\n"
                       "haven_request_duration_seconds_count{route=\"r\\\"1\"} 10\n");
}

TEST(Exposition, HistogramWithoutLabelsAndOnlyTheInfBucket) {
    Exposition e;
    const double bounds[] = {0.0005};
    const std::uint64_t counts[] = {0, 0};
    e.histogram("h_seconds", "H.", {}, bounds, counts, 0);
    e.histogram("h2_seconds", "H2.", {}, {}, std::span<const std::uint64_t>(counts, 1), 0);
    EXPECT_EQ(e.str(), "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
                       "h_seconds_bucket{le=\"0.0005\"} 0\n"
                       "h_seconds_bucket{le=\"+Inf\"} 0\n"
                       "h_seconds_sum 0\n"
                       "h_seconds_count 0\n"
                       "# HELP h2_seconds H2.\n# TYPE h2_seconds histogram\n"
                       "h2_seconds_bucket{le=\"+Inf\"} 0\n"
                       "h2_seconds_sum 0\n"
                       "h2_seconds_count 0\n");
}

TEST(Exposition, HistogramCountsBeyondTwoToThe53AreExact) {
    Exposition e;
    const std::uint64_t big = (std::uint64_t{1} << 53) + 1; // not representable as a double
    const double bounds[] = {1};
    const std::uint64_t counts[] = {big, 2};
    e.histogram("h", "H.", {}, bounds, counts, 1);
    const std::string text = e.str();
    EXPECT_NE(text.find("h_bucket{le=\"1\"} 9007199254740993\n"), std::string::npos) << text;
    EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 9007199254740995\n"), std::string::npos) << text;
    EXPECT_NE(text.find("h_count 9007199254740995\n"), std::string::npos) << text;
}

TEST(Exposition, HelpEscapesBackslashAndNewlineButNotQuotes) {
    Exposition e;
    e.gauge("g", "a \\ b\nc \"d\"", {}, 1);
    EXPECT_EQ(e.str(), "# HELP g a \\\\ b\\nc \"d\"\n# TYPE g gauge\ng 1\n");
}

TEST(EscapeLabel, EscapesBackslashQuoteAndNewline) {
    EXPECT_EQ(escape_label("plain"), "plain");
    EXPECT_EQ(escape_label(""), "");
    EXPECT_EQ(escape_label("a\\b"), "a\\\\b");
    EXPECT_EQ(escape_label("say \"hi\""), "say \\\"hi\\\"");
    EXPECT_EQ(escape_label("two\nlines"), "two\\nlines");
    EXPECT_EQ(escape_label("tab\tand ünïcode"), "tab\tand ünïcode");
}

TEST(Exposition, LabelValuesAreEscapedInSamples) {
    Exposition e;
    e.counter("c_total", "C.", {{"path", "/a\"b\\c\nd"}}, 1);
    EXPECT_EQ(e.str(), "# HELP c_total C.\n# TYPE c_total counter\nc_total{path=\"/a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(FormatValue, Table) {
    const double inf = std::numeric_limits<double>::infinity();
    const struct {
        double in;
        const char* out;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-3, "-3"},
        {1234567890123, "1234567890123"},
        {1e15, "1000000000000000"},
        {9007199254740992.0, "9007199254740992"}, // 2^53
        {static_cast<double>(std::numeric_limits<std::uint64_t>::max()), "18446744073709551616"},
        {0.25, "0.25"},
        {0.0005, "0.0005"},
        {1.5e-7, "1.5e-07"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {-2.5, "-2.5"},
        {1700000000.25, "1700000000.25"},
        {0.0001, "0.0001"},
        {0.00001234, "1.234e-05"},
        {1e15 + 0.5, "1.0000000000000005e+15"},
        {1e300, "1e+300"},
        {std::nan(""), "NaN"},
        {inf, "+Inf"},
        {-inf, "-Inf"},
    };
    for (const auto& c : cases)
        EXPECT_EQ(format_value(c.in), c.out) << "input " << c.in;
}

TEST(FormatValue, NonIntegersReadBackExactly) {
    for (double v : {0.1, 1.0 / 3, 2.0 / 3 * 1e-10, 123456.789, 4503599627370495.5, 6.02214076e23, 1.2345e-100, -0.000123})
        EXPECT_EQ(std::strtod(format_value(v).c_str(), nullptr), v) << format_value(v);
}

// Misuse asserts in debug builds and drops the sample in release builds (see the header).
TEST(ExpositionDeathTest, InvalidNamesAreRejected) {
    Exposition e;
    EXPECT_DEBUG_DEATH(e.counter("bad-name_total", "x", {}, 1), "invalid");
    EXPECT_DEBUG_DEATH(e.gauge("g", "x", {{"0abc", "v"}}, 1), "invalid");
    EXPECT_DEBUG_DEATH(e.gauge("g", "x", {{"k", "1"}, {"k", "2"}}, 1), "invalid");
    const double bounds[] = {1};
    const std::uint64_t counts[] = {1, 1};
    EXPECT_DEBUG_DEATH(e.histogram("h", "x", {{"le", "1"}}, bounds, counts, 1), "invalid");
    EXPECT_DEBUG_DEATH(e.histogram("h", "x", {}, bounds, std::span<const std::uint64_t>(counts, 1), 1), "invalid");
    const double unordered[] = {2, 1};
    const std::uint64_t three[] = {1, 1, 1};
    EXPECT_DEBUG_DEATH(e.histogram("h", "x", {}, unordered, three, 1), "invalid");
    EXPECT_EQ(e.str(), ""); // in the parent (debug) or after dropping (release): nothing written
}

TEST(ExpositionDeathTest, NameReusedWithAnotherTypeIsRejected) {
    Exposition e;
    e.counter("x_total", "X.", {}, 1);
    EXPECT_DEBUG_DEATH(e.gauge("x_total", "X.", {}, 2), "another type");
    EXPECT_EQ(e.str(), "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n");
}

TEST(Exposition, ValidNamesAreAccepted) {
    Exposition e;
    e.gauge("_a:b_c9", "x", {{"_L0", "v"}, {"Upper_case", ""}}, 1);
    EXPECT_EQ(e.str(), "# HELP _a:b_c9 x\n# TYPE _a:b_c9 gauge\n_a:b_c9{_L0=\"v\",Upper_case=\"\"} 1\n");
}

} // namespace
} // namespace haven::admin::metrics
