// SLOs: what a listener's traffic looks like against its targets over rolling windows — the last
// 5 minutes, the last hour, and the SLO window (30 days by default) — with the error budget and
// how fast it burns. Fed with monotonic totals sampled periodically by the control thread; time
// is a parameter, so tests need no clock.
//
// Definitions (docs/slo.md):
//   availability = 1 - errors / requests, where errors are responses with a 5xx status (haven's
//                  own 502/503/504 included) and connections that got no response;
//   error rate   = errors / requests (the same measure, against its own target);
//   p99 latency  = the 99th percentile of request durations, interpolated within histogram buckets;
//   allowed downtime = (1 - availability target) × window (99.9% over 30 days = 43.2 minutes);
//   error budget remaining = 1 - errors / ((1 - availability target) × requests), over the SLO window;
//   burn rate    = error rate in a window / (1 - availability target) (1 = spending exactly on pace).
#pragma once

#include "core/clock.hpp"
#include "core/counters.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <string>

namespace haven::slo {

struct SloTarget {
    double availability = 0.9995; // fraction
    Duration latency_p99 = std::chrono::milliseconds(500);
    double error_rate = 0.001;    // fraction
    Duration window = std::chrono::hours(24 * 30);
};

// Monotonic totals at one moment (counters since start).
struct TrafficTotals {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::array<std::uint64_t, kLatencyBuckets> latency{}; // non-cumulative bucket counts
};

struct WindowStats {
    Duration window{};       // asked for
    Duration covered{};      // how much history the figures actually rest on (<= window)
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    double availability = 1; // 1 when there were no requests
    double error_rate = 0;
    double p99_seconds = 0;  // 0 when there were no requests
    double p50_seconds = 0;
};

struct SloReport {
    SloTarget target;
    WindowStats last_5m;
    WindowStats last_1h;
    WindowStats slo_window;
    double allowed_downtime_seconds = 0; // for the target over the SLO window
    double error_budget_remaining = 1;   // fraction of the budget left; negative when overspent
    double burn_rate_5m = 0;
    double burn_rate_1h = 0;
    bool availability_met = true;
    bool latency_met = true;
    bool error_rate_met = true;
};

class SloTracker {
public:
    explicit SloTracker(SloTarget target);

    // Records the totals at `now` (call at least every few seconds; times must not go backwards).
    void record(const TrafficTotals& totals, TimePoint now);
    WindowStats window(Duration w, TimePoint now) const;
    SloReport report(TimePoint now) const;
    const SloTarget& target() const { return target_; }
    // Bytes held by the history (bounded; see slo.cpp for the resolution kept).
    std::size_t memory_bytes() const;

private:
    struct Sample {
        TimePoint at;
        TrafficTotals totals;
    };
    SloTarget target_;
    std::deque<Sample> fine_;   // recent history at fine resolution
    std::deque<Sample> coarse_; // older history at coarse resolution
};

// p-quantile (0..1) of non-cumulative histogram counts over kLatencyBounds, linearly
// interpolated within the bucket (the +Inf bucket reports its lower bound).
double histogram_quantile(const std::array<std::uint64_t, kLatencyBuckets>& counts, double q);

// `haven sla 99.95`: allowed downtime per year, 30-day month, week and day, as a table.
std::string sla_table(double target_percent);

} // namespace haven::slo
