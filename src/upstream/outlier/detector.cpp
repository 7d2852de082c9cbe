// OutlierDetector: the ejection state machine. Time is always a parameter; nothing here reads a
// clock, so the control thread decides when to sweep and tests drive time by hand.
#include "upstream/outlier/detector.hpp"

#include <algorithm>

namespace haven::upstream {
namespace {

// base × count, capped at max. The product is checked before it is formed: nanosecond counts
// are 64-bit and a long base times a large count would wrap.
Duration ejection_length(Duration base, Duration max, std::uint32_t count) {
    if (base <= Duration::zero()) return Duration::zero();
    if (count > static_cast<std::uint64_t>(max.count() / base.count())) return max;
    return std::min(base * count, max);
}

// Whether one more host may be ejected from a pool of `pool` hosts with `ejected` already out.
// The percentage alone would forbid any ejection in small pools (50% of 2 hosts is one, but 10%
// of 4 is less than one), so a pool of two or more may always have its first host ejected: one
// server misbehaving in a pair should still leave. A pool of one never ejects by that exception —
// ejecting its only server would leave nothing to serve — unless the percentage itself allows it
// (max_ejected_percent 100).
bool within_cap(std::size_t pool, std::size_t ejected, std::uint32_t max_percent) {
    if (pool >= 2 && ejected == 0) return true;
    return (static_cast<std::uint64_t>(ejected) + 1) * 100 <= static_cast<std::uint64_t>(max_percent) * pool;
}

} // namespace

OutlierDetector::OutlierDetector(const OutlierParams& params, std::size_t hosts)
    : params_(params), hosts_(hosts) {}

EjectDecision OutlierDetector::on_failures(HostIndex h, TimePoint now) {
    // Rules, in order:
    // - an index outside the pool (a report that raced a reload) changes nothing;
    // - consecutive_failures 0 means detection is off;
    // - an ejected host is not ejected again (its count must not grow while it is out);
    // - the max_ejected_percent cap, counted over hosts ejected right now.
    if (h >= hosts_.size()) return EjectDecision::None;
    if (params_.consecutive_failures == 0) return EjectDecision::None;
    State& s = hosts_[h];
    if (s.ejected) return EjectDecision::None;
    if (!within_cap(hosts_.size(), ejected_total(), params_.max_ejected_percent)) {
        return EjectDecision::CapReached;
    }
    s.ejected = true;
    ++s.count;
    s.until = now + ejection_length(params_.base_ejection, params_.max_ejection, s.count);
    s.last_change = now;
    return EjectDecision::Ejected;
}

std::vector<HostIndex> OutlierDetector::sweep(TimePoint now) {
    std::vector<HostIndex> returned;
    const Duration base = params_.base_ejection;
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
        State& s = hosts_[i];
        if (s.ejected) {
            // `until` itself is the first instant the host is back, not the tick after.
            if (s.until <= now) {
                s.ejected = false;
                s.last_change = now;
                returned.push_back(static_cast<HostIndex>(i));
            }
            continue;
        }
        // Decay: one ejection forgiven per full base_ejection in service. last_change moves by
        // whole periods only, so the remainder keeps counting toward the next one. With a zero
        // base there is no period to measure and the count stays (it scales nothing anyway).
        if (s.count == 0 || base <= Duration::zero() || now <= s.last_change) continue;
        const auto periods = static_cast<std::uint64_t>((now - s.last_change) / base);
        if (periods == 0) continue;
        s.count -= static_cast<std::uint32_t>(std::min<std::uint64_t>(periods, s.count));
        s.last_change += base * static_cast<Duration::rep>(periods);
    }
    return returned;
}

bool OutlierDetector::on_check_success(HostIndex h, TimePoint now) {
    // Only an ejected host has anything to undo; the count is kept so that a host that fails
    // again soon is ejected for longer, as if it had served its time.
    if (h >= hosts_.size() || !hosts_[h].ejected) return false;
    State& s = hosts_[h];
    s.ejected = false;
    s.until = now; // the ejection ended now, not at its planned end
    s.last_change = now;
    return true;
}

std::size_t OutlierDetector::ejected_total() const {
    return static_cast<std::size_t>(
        std::count_if(hosts_.begin(), hosts_.end(), [](const State& s) { return s.ejected; }));
}

void OutlierDetector::resize(std::size_t hosts) { hosts_.resize(hosts); }

} // namespace haven::upstream
