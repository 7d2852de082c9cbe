// The SLO tracker (see slo.hpp) and the `haven sla` table.
//
// History resolution: samples of the monotonic totals are kept every 10 s for the last 2 hours
// (`fine_`, at most 721 samples) and every 10 minutes beyond that, back to the SLO window plus one
// coarse step (`coarse_`). A sample is 144 bytes, so a 30-day window holds about 5,050 samples
// (~730 KB) and the 90-day maximum about 13,700 (~2 MB). Because the totals are monotonic,
// thinning them loses no requests or errors: a window is the difference of two samples, and only
// where the window starts is rounded — to 10 s for the 5-minute and 1-hour windows, and to at
// most 10 minutes before the start for longer ones (the figures then rest on slightly more
// history than asked, never less).
#include "slo/slo.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace haven::slo {
namespace {

constexpr Duration kFineStep = std::chrono::seconds(10);
constexpr Duration kFineSpan = std::chrono::hours(2);
constexpr Duration kCoarseStep = std::chrono::minutes(10);

// Burn rates divide by the budget, which a 100% target does not have. Budgets below one error
// in a million requests are taken as that: finite, still zero without errors, and far above any
// alerting threshold once errors come.
constexpr double kMinBudget = 1e-6;
// Floating-point slack for "met": 5 errors in 10,000 requests meets 99.95% exactly.
constexpr double kEpsilon = 1e-12;

// Totals only grow while the process lives; should one ever go back (a counter rebuilt), the
// difference is 0 rather than a wrap-around to 2^64.
std::uint64_t minus(std::uint64_t later, std::uint64_t earlier) {
    return later > earlier ? later - earlier : 0;
}

double ratio(std::uint64_t part, std::uint64_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

double budget_of(const SloTarget& t) { return 1.0 - t.availability; }

double burn_rate(const WindowStats& w, const SloTarget& t) {
    if (w.errors == 0) return 0;
    return w.error_rate / std::max(budget_of(t), kMinBudget);
}

// Rules: no requests leave the budget whole; a 100% target has none, so any error overspends it
// by an amount that has no finite measure: reported as -1.
double budget_remaining(const WindowStats& w, const SloTarget& t) {
    if (w.requests == 0 || w.errors == 0) return 1;
    double allowed = budget_of(t) * static_cast<double>(w.requests);
    if (allowed <= 0) return -1;
    return 1.0 - static_cast<double>(w.errors) / allowed;
}

// "99.95" rather than "99.950000".
std::string number_text(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "?";
}

// "4h 22m 48s", "5m 2.4s", "43.2s", "864ms": milliseconds rounded; units after the last non-zero
// one are dropped, inner zeros kept ("1h 0m 5s") so that every line reads the same way.
std::string downtime_text(double seconds) {
    auto ms = static_cast<std::int64_t>(std::llround(seconds * 1000));
    if (ms == 0) return "0s";
    if (ms < 1000) return std::to_string(ms) + "ms";
    struct Part {
        std::int64_t value;
        const char* unit;
    };
    const Part parts[] = {
        {ms / 86'400'000, "d"}, {ms / 3'600'000 % 24, "h"}, {ms / 60'000 % 60, "m"}};
    const std::int64_t sec_ms = ms % 60'000;
    std::size_t first = 0; // the units shown are parts[first, end)
    std::size_t end = 3;
    while (first < end && parts[first].value == 0) ++first;
    while (sec_ms == 0 && end > first && parts[end - 1].value == 0) --end;
    std::string out;
    for (std::size_t i = first; i < end; ++i) {
        out += (out.empty() ? "" : " ") + std::to_string(parts[i].value) + parts[i].unit;
    }
    if (sec_ms == 0) return out;
    std::string sec = std::to_string(sec_ms / 1000);
    if (sec_ms % 1000 != 0) {
        char frac[8];
        std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(sec_ms % 1000));
        sec += frac;
        while (sec.back() == '0') sec.pop_back();
    }
    return out + (out.empty() ? "" : " ") + sec + "s";
}

} // namespace

SloTracker::SloTracker(SloTarget target) : target_(target) {}

// Rules: a sample earlier than the latest is ignored (times must not go backwards); the newest
// sample always holds the latest totals, replacing the previous newest while that one is less
// than kFineStep after its predecessor; fine samples older than kFineSpan move to the coarse
// history if kCoarseStep after its newest, else are dropped; coarse samples are dropped once a
// newer one is itself older than the window plus one coarse step.
void SloTracker::record(const TrafficTotals& totals, TimePoint now) {
    if (!fine_.empty() && now < fine_.back().at) return;
    std::size_t n = fine_.size();
    if (n >= 2 && fine_[n - 1].at - fine_[n - 2].at < kFineStep) {
        fine_.back() = Sample{now, totals};
    } else {
        fine_.push_back(Sample{now, totals});
    }
    while (now - fine_.front().at > kFineSpan) {
        if (coarse_.empty() || fine_.front().at - coarse_.back().at >= kCoarseStep) {
            coarse_.push_back(fine_.front());
        }
        fine_.pop_front();
    }
    TimePoint cutoff = now - target_.window - kCoarseStep;
    while (coarse_.size() >= 2 && coarse_[1].at <= cutoff) coarse_.pop_front();
}

WindowStats SloTracker::window(Duration w, TimePoint now) const {
    WindowStats out;
    out.window = w;
    if (fine_.empty()) return out;
    // The newest sample at or before the start; the oldest of all when history is shorter.
    TimePoint start = now - w;
    auto at_or_before = [start](const Sample& s) { return s.at <= start; };
    const Sample* base = coarse_.empty() ? &fine_.front() : &coarse_.front();
    auto f = std::find_if(fine_.rbegin(), fine_.rend(), at_or_before);
    if (f != fine_.rend()) {
        base = &*f;
    } else if (auto c = std::find_if(coarse_.rbegin(), coarse_.rend(), at_or_before);
               c != coarse_.rend()) {
        base = &*c;
    }
    const TrafficTotals& last = fine_.back().totals;
    out.covered = std::clamp<Duration>(now - base->at, Duration::zero(), w);
    out.requests = minus(last.requests, base->totals.requests);
    out.errors = minus(last.errors, base->totals.errors);
    out.error_rate = ratio(out.errors, out.requests);
    out.availability = out.requests == 0 ? 1.0 : 1.0 - out.error_rate;
    std::array<std::uint64_t, kLatencyBuckets> buckets{};
    for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
        buckets[i] = minus(last.latency[i], base->totals.latency[i]);
    }
    out.p99_seconds = histogram_quantile(buckets, 0.99);
    out.p50_seconds = histogram_quantile(buckets, 0.50);
    return out;
}

SloReport SloTracker::report(TimePoint now) const {
    SloReport r;
    r.target = target_;
    r.last_5m = window(std::chrono::minutes(5), now);
    r.last_1h = window(std::chrono::hours(1), now);
    r.slo_window = window(target_.window, now);
    r.allowed_downtime_seconds = budget_of(target_) * to_seconds(target_.window);
    r.error_budget_remaining = budget_remaining(r.slo_window, target_);
    r.burn_rate_5m = burn_rate(r.last_5m, target_);
    r.burn_rate_1h = burn_rate(r.last_1h, target_);
    r.availability_met = r.slo_window.availability + kEpsilon >= target_.availability;
    r.latency_met = r.slo_window.p99_seconds <= to_seconds(target_.latency_p99) + kEpsilon;
    r.error_rate_met = r.slo_window.error_rate <= target_.error_rate + kEpsilon;
    return r;
}

std::size_t SloTracker::memory_bytes() const {
    return (fine_.size() + coarse_.size()) * sizeof(Sample);
}

// Rules: q outside 0..1 (or NaN) is clamped; the quantile lies in the first non-empty bucket
// whose cumulative count reaches q × total, interpolated from the bucket's lower bound (0 for
// the first) to its upper bound; in the +Inf bucket it is the last finite bound.
double histogram_quantile(const std::array<std::uint64_t, kLatencyBuckets>& counts, double q) {
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    if (total == 0) return 0;
    q = q >= 0 ? std::min(q, 1.0) : 0.0;
    const double rank = q * static_cast<double>(total);
    // Counts below 2^53 add up exactly in doubles and rank <= total, so the loop always stops at
    // a non-empty bucket (the last one at the latest).
    double below = 0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
        if (counts[i] == 0) continue;
        at = i;
        auto in_bucket = static_cast<double>(counts[i]);
        if (below + in_bucket >= rank) break;
        below += in_bucket;
    }
    double lower = at == 0 ? 0.0 : kLatencyBounds[at - 1];
    if (at == kLatencyBounds.size()) return lower;
    double upper = kLatencyBounds[at];
    double within = (rank - below) / static_cast<double>(counts[at]);
    return lower + (upper - lower) * std::clamp(within, 0.0, 1.0);
}

// An out-of-range target returns one line starting "invalid" (the CLI checks its input before).
std::string sla_table(double target_percent) {
    if (!(target_percent > 0 && target_percent <= 100)) {
        return "invalid availability target " + number_text(target_percent) +
               "%: must be more than 0% and at most 100%\n";
    }
    struct Period {
        const char* name;
        double seconds;
    };
    static constexpr Period kPeriods[] = {{"per year (365 days)", 365 * 86400.0},
                                          {"per month (30 days)", 30 * 86400.0},
                                          {"per week", 7 * 86400.0},
                                          {"per day", 86400.0}};
    const double budget = 1.0 - target_percent / 100;
    std::string out = "Availability " + number_text(target_percent) + "%\n";
    out += "Allowed downtime:\n";
    for (const auto& p : kPeriods) {
        char line[96];
        std::snprintf(line, sizeof line, "  %-21s %s\n", p.name,
                      downtime_text(budget * p.seconds).c_str());
        out += line;
    }
    return out;
}

} // namespace haven::slo
