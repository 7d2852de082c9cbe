// SloTracker, histogram_quantile and sla_table (src/admin/slo.cpp), on fake time: every test
// starts at TimePoint{} and feeds the totals a steady or scripted traffic would have produced.
#include "slo/slo.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace haven::slo {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Buckets = std::array<std::uint64_t, kLatencyBuckets>;

constexpr std::size_t k10To25ms = 5; // the bucket (0.01, 0.025]
constexpr std::size_t kInf = kLatencyBuckets - 1;

const TimePoint kStart{};

SloTarget target(double availability, Duration window = days(30)) {
    SloTarget t;
    t.availability = availability;
    t.window = window;
    return t;
}

// `rate` requests per second since kStart, every `error_every`-th one an error (0: none), all
// in the 10-25 ms bucket.
TrafficTotals steady(Duration since_start, std::uint64_t rate, std::uint64_t error_every = 0) {
    TrafficTotals t;
    t.requests = static_cast<std::uint64_t>(
                     std::chrono::duration_cast<seconds>(since_start).count()) * rate;
    t.errors = error_every == 0 ? 0 : t.requests / error_every;
    t.latency[k10To25ms] = t.requests;
    return t;
}

// Records steady traffic every `step` from `from` to `to` (both included).
void feed(SloTracker& s, Duration from, Duration to, Duration step, std::uint64_t rate,
          std::uint64_t error_every = 0) {
    for (Duration d = from; d <= to; d += step) s.record(steady(d, rate, error_every), kStart + d);
}

TEST(SloTracker, SteadyTrafficWindows) {
    SloTracker s(target(0.999));
    feed(s, Duration{0}, hours(3), seconds(10), 100, 1000); // 0.1% errors
    TimePoint now = kStart + hours(3);
    WindowStats w5 = s.window(minutes(5), now);
    EXPECT_EQ(w5.window, minutes(5));
    EXPECT_EQ(w5.covered, minutes(5));
    EXPECT_EQ(w5.requests, 30'000u);
    EXPECT_EQ(w5.errors, 30u);
    EXPECT_DOUBLE_EQ(w5.error_rate, 0.001);
    EXPECT_DOUBLE_EQ(w5.availability, 0.999);
    WindowStats w1h = s.window(hours(1), now);
    EXPECT_EQ(w1h.requests, 360'000u);
    EXPECT_EQ(w1h.errors, 360u);
    SloReport r = s.report(now);
    EXPECT_NEAR(r.burn_rate_5m, 1.0, 1e-9); // spending exactly on pace
    EXPECT_NEAR(r.burn_rate_1h, 1.0, 1e-9);
    EXPECT_TRUE(r.availability_met);
    EXPECT_TRUE(r.latency_met);
    EXPECT_TRUE(r.error_rate_met); // 0.1% against a 0.1% target: equal is met
}

TEST(SloTracker, WindowStartsAtTheNewestSampleAtOrBeforeIt) {
    SloTracker s(target(0.999));
    feed(s, Duration{0}, seconds(100), seconds(10), 1);
    // now - 15s = 85s: the sample at 80s is the base, so 20 requests, covering the 15s asked.
    WindowStats w = s.window(seconds(15), kStart + seconds(100));
    EXPECT_EQ(w.requests, 20u);
    EXPECT_EQ(w.covered, seconds(15));
}

TEST(SloTracker, BurstOfErrorsShowsInShortWindowsOnly) {
    SloTracker s(target(0.9995));
    const Duration burst_start = days(3) - minutes(5);
    feed(s, Duration{0}, burst_start, seconds(10), 10);
    // The last 5 minutes: 10 requests/s, 1% of them errors.
    for (Duration d = burst_start + seconds(10); d <= days(3); d += seconds(10)) {
        TrafficTotals t = steady(d, 10);
        t.errors = static_cast<std::uint64_t>((d - burst_start) / seconds(10));
        s.record(t, kStart + d);
    }
    SloReport r = s.report(kStart + days(3));
    EXPECT_EQ(r.last_5m.errors, 30u);
    EXPECT_NEAR(r.last_5m.error_rate, 0.01, 1e-12);
    EXPECT_NEAR(r.burn_rate_5m, 20, 1e-6); // 1% against a 0.05% budget
    EXPECT_NEAR(r.burn_rate_1h, 30.0 / 36'000 / 0.0005, 1e-6);
    EXPECT_EQ(r.slo_window.errors, 30u);
    EXPECT_LT(r.slo_window.error_rate, 0.00002);
    EXPECT_EQ(r.slo_window.covered, days(3)); // only 3 days of history
    EXPECT_TRUE(r.availability_met);
    EXPECT_GT(r.error_budget_remaining, 0.97);
}

TEST(SloTracker, HistoryShorterThanTheWindow) {
    SloTracker s(target(0.999));
    feed(s, minutes(10), minutes(70), seconds(10), 5);
    WindowStats w = s.window(days(30), kStart + minutes(70));
    EXPECT_EQ(w.covered, hours(1));
    EXPECT_EQ(w.requests, 3600u * 5);
    WindowStats none = SloTracker(target(0.999)).window(minutes(5), kStart);
    EXPECT_EQ(none.covered, Duration{0});
    EXPECT_EQ(none.requests, 0u);
    EXPECT_EQ(none.availability, 1);
    EXPECT_EQ(none.p99_seconds, 0);
}

TEST(SloTracker, P99FromAKnownHistogram) {
    SloTracker s(target(0.999));
    s.record(TrafficTotals{}, kStart);
    TrafficTotals t;
    t.requests = 100;
    t.latency[k10To25ms] = 100;
    s.record(t, kStart + minutes(1));
    WindowStats w = s.window(minutes(5), kStart + minutes(1));
    EXPECT_NEAR(w.p99_seconds, 0.02485, 1e-12);
    EXPECT_NEAR(w.p50_seconds, 0.0175, 1e-12);
    SloReport r = s.report(kStart + minutes(1));
    EXPECT_TRUE(r.latency_met); // 24.85ms <= 500ms
    SloTarget strict = target(0.999);
    strict.latency_p99 = milliseconds(20);
    SloTracker tight(strict);
    tight.record(TrafficTotals{}, kStart);
    tight.record(t, kStart + minutes(1));
    EXPECT_FALSE(tight.report(kStart + minutes(1)).latency_met);
}

TEST(HistogramQuantile, EdgeCases) {
    Buckets empty{};
    EXPECT_EQ(histogram_quantile(empty, 0.99), 0);
    Buckets inf{};
    inf[kInf] = 7;
    EXPECT_EQ(histogram_quantile(inf, 0.0), 10.0); // the +Inf bucket's lower bound
    EXPECT_EQ(histogram_quantile(inf, 0.99), 10.0);
    EXPECT_EQ(histogram_quantile(inf, 1.0), 10.0);
    Buckets b{};
    b[k10To25ms] = 100;
    EXPECT_DOUBLE_EQ(histogram_quantile(b, 0.0), 0.01);  // the lowest bucket's lower bound
    EXPECT_DOUBLE_EQ(histogram_quantile(b, 1.0), 0.025); // the highest bucket's upper bound
    EXPECT_DOUBLE_EQ(histogram_quantile(b, 2.0), 0.025); // clamped
    EXPECT_DOUBLE_EQ(histogram_quantile(b, std::numeric_limits<double>::quiet_NaN()), 0.01);
    Buckets first{};
    first[0] = 10;
    EXPECT_DOUBLE_EQ(histogram_quantile(first, 0.5), 0.00025); // from 0 to 0.5ms
    Buckets two{};
    two[0] = 50;
    two[kInf] = 50;
    EXPECT_DOUBLE_EQ(histogram_quantile(two, 0.5), 0.0005);
    EXPECT_EQ(histogram_quantile(two, 0.99), 10.0);
}

TEST(SloTracker, AllowedDowntime) {
    SloTracker s(target(0.999, days(30)));
    EXPECT_NEAR(s.report(kStart).allowed_downtime_seconds, 2592.0, 1e-6); // 43.2 minutes
    SloTracker week(target(0.9995, days(7)));
    EXPECT_NEAR(week.report(kStart).allowed_downtime_seconds, 302.4, 1e-6);
}

// Totals of `requests` with `errors` over the whole SLO window.
SloReport report_for(double availability, std::uint64_t requests, std::uint64_t errors) {
    SloTracker s(target(availability));
    s.record(TrafficTotals{}, kStart);
    TrafficTotals t;
    t.requests = requests;
    t.errors = errors;
    s.record(t, kStart + hours(1));
    return s.report(kStart + hours(1));
}

TEST(SloTracker, ErrorBudgetRemaining) {
    // 10,000 requests at 99.9%: 10 errors allowed.
    EXPECT_NEAR(report_for(0.999, 10'000, 0).error_budget_remaining, 1.0, 1e-9);
    EXPECT_NEAR(report_for(0.999, 10'000, 5).error_budget_remaining, 0.5, 1e-9);
    EXPECT_NEAR(report_for(0.999, 10'000, 10).error_budget_remaining, 0.0, 1e-9);
    EXPECT_NEAR(report_for(0.999, 10'000, 20).error_budget_remaining, -1.0, 1e-9);
    EXPECT_TRUE(report_for(0.999, 10'000, 10).availability_met);
    EXPECT_FALSE(report_for(0.999, 10'000, 11).availability_met);
    EXPECT_EQ(report_for(0.999, 0, 0).error_budget_remaining, 1.0);
}

TEST(SloTracker, HundredPercentTargetStaysFinite) {
    SloReport clean = report_for(1.0, 10'000, 0);
    EXPECT_EQ(clean.error_budget_remaining, 1.0);
    EXPECT_EQ(clean.allowed_downtime_seconds, 0.0);
    EXPECT_TRUE(clean.availability_met);
    SloReport one = report_for(1.0, 10'000, 1);
    EXPECT_EQ(one.error_budget_remaining, -1.0);
    EXPECT_FALSE(one.availability_met);
    SloTracker s(target(1.0));
    s.record(TrafficTotals{}, kStart);
    TrafficTotals t;
    t.requests = 10'000;
    s.record(t, kStart + minutes(1));
    EXPECT_EQ(s.report(kStart + minutes(1)).burn_rate_5m, 0.0);
    t.errors = 1;
    s.record(t, kStart + minutes(2));
    double burn = s.report(kStart + minutes(2)).burn_rate_5m;
    EXPECT_TRUE(std::isfinite(burn));
    EXPECT_NEAR(burn, 100.0, 1e-6); // 1e-4 against the 1e-6 floor
}

TEST(SloTracker, MemoryStaysBoundedOver31DaysOfSamples) {
    SloTracker s(target(0.9995, days(30)));
    feed(s, Duration{0}, days(30), seconds(5), 10);
    std::size_t at_30_days = s.memory_bytes();
    feed(s, days(30) + seconds(5), days(31), seconds(5), 10);
    std::size_t at_31_days = s.memory_bytes();
    EXPECT_LT(at_31_days, std::size_t{1} << 20);
    EXPECT_LE(at_31_days, at_30_days + 200); // no growth once the window is full
    // 721 fine samples (2h at 10s) and ~4,310 coarse ones (30 days at 10 min, plus a margin).
    EXPECT_GT(at_31_days, 4'500 * 144u);
    WindowStats w = s.window(days(30), kStart + days(31));
    EXPECT_EQ(w.covered, days(30));
    EXPECT_GE(w.requests, 30u * 86'400 * 10);
    EXPECT_LE(w.requests, (30u * 86'400 + 600) * 10); // rounded back by at most 10 minutes
}

TEST(SloTracker, CoarseHistoryKeepsTotalsAcrossTheResolutionChange) {
    SloTracker s(target(0.999, days(30)));
    // One request a second; 100 errors at day 2 (before the 7-day window) and 7 at day 5.
    for (Duration d{0}; d <= days(10); d += seconds(10)) {
        TrafficTotals t = steady(d, 1);
        t.errors = (d >= days(2) ? 100 : 0) + (d >= days(5) ? 7 : 0);
        s.record(t, kStart + d);
    }
    WindowStats w = s.window(days(7), kStart + days(10));
    EXPECT_EQ(w.covered, days(7));
    EXPECT_EQ(w.errors, 7u);
    EXPECT_GE(w.requests, 7u * 86'400);
    EXPECT_LE(w.requests, 7u * 86'400 + 610);
    // The fine history is still exact at its own resolution.
    EXPECT_EQ(s.window(hours(1), kStart + days(10)).requests, 3600u);
}

TEST(SloTracker, RecordsMoreOftenThanTheResolutionKeepTheLatestTotals) {
    SloTracker s(target(0.999));
    feed(s, Duration{0}, minutes(1), seconds(1), 3);
    EXPECT_LE(s.memory_bytes(), 8 * 144u); // one sample per 10 s, plus the latest
    WindowStats all = s.window(minutes(5), kStart + minutes(1));
    EXPECT_EQ(all.requests, 180u);
    EXPECT_EQ(all.covered, minutes(1));
    // A sample earlier than the latest is ignored.
    s.record(steady(seconds(30), 1000), kStart + seconds(30));
    EXPECT_EQ(s.window(minutes(5), kStart + minutes(1)).requests, 180u);
}

TEST(SlaTable, NinetyNinePointNine) {
    std::string text = sla_table(99.9);
    EXPECT_NE(text.find("Availability 99.9%"), std::string::npos) << text;
    EXPECT_NE(text.find("43m 12s"), std::string::npos) << text; // per 30 days
    EXPECT_NE(text.find("8h 45m 36s"), std::string::npos) << text; // per year
    EXPECT_NE(text.find("1m 26.4s"), std::string::npos) << text;   // per day
}

TEST(SlaTable, NinetyNinePointNineFive) {
    std::string text = sla_table(99.95);
    EXPECT_EQ(text, "Availability 99.95%\n"
                    "Allowed downtime:\n"
                    "  per year (365 days)   4h 22m 48s\n"
                    "  per month (30 days)   21m 36s\n"
                    "  per week              5m 2.4s\n"
                    "  per day               43.2s\n");
}

TEST(SlaTable, OtherTargets) {
    EXPECT_NE(sla_table(99).find("3d 15h 36m\n"), std::string::npos) << sla_table(99);
    EXPECT_NE(sla_table(99.999).find("864ms"), std::string::npos) << sla_table(99.999);
    EXPECT_NE(sla_table(100).find("per day               0s"), std::string::npos)
        << sla_table(100);
    EXPECT_NE(sla_table(50).find("per day               12h\n"), std::string::npos)
        << sla_table(50);
}

TEST(SlaTable, InvalidTargets) {
    for (double bad : {0.0, -1.0, 100.5, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
        SCOPED_TRACE(bad);
        std::string text = sla_table(bad);
        EXPECT_EQ(text.rfind("invalid availability target", 0), 0u) << text;
        EXPECT_EQ(text.find("Allowed downtime"), std::string::npos);
    }
}

} // namespace
} // namespace haven::slo
