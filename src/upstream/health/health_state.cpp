#include "upstream/health/health_state.hpp"

#include <algorithm>
#include <cmath>

namespace haven::upstream {

HealthTransition HealthState::observe(bool success, TimePoint now, bool definitive) {
    if (first_decides_) {
        first_decides_ = false;
        if (success) return HealthTransition::Unchanged;
        status_ = HealthStatus::Down;
        streak_ = 0;
        last_change_ = now;
        return HealthTransition::Changed;
    }
    const bool agrees = success == (status_ == HealthStatus::Up);
    // A single agreeing result breaks the run: hysteresis counts consecutive results only, so a
    // flapping server never changes state.
    if (agrees) {
        streak_ = 0;
        return HealthTransition::Unchanged;
    }
    ++streak_;
    // rise/fall of 0 would mean "flip before any evidence"; treat it as 1.
    const std::uint32_t needed =
        definitive ? 1 : std::max<std::uint32_t>(1, status_ == HealthStatus::Up ? params_.fall : params_.rise);
    if (streak_ < needed) return HealthTransition::Pending;
    status_ = status_ == HealthStatus::Up ? HealthStatus::Down : HealthStatus::Up;
    streak_ = 0;
    last_change_ = now;
    return HealthTransition::Changed;
}

Duration HealthState::next_interval() const {
    // Confirming a suspected change quickly shortens detection without probing stable servers
    // more often.
    if (pending()) return params_.fast_interval;
    if (status_ == HealthStatus::Up) return params_.interval;
    return refused_ ? std::min(params_.fast_interval, params_.down_interval) : params_.down_interval;
}

void HealthState::force(HealthStatus s, TimePoint now) {
    streak_ = 0;
    if (s == status_) return;
    status_ = s;
    last_change_ = now;
}

Duration apply_jitter(Duration d, double jitter, Random& random) {
    if (d <= Duration::zero()) return Duration::zero();
    // No draw at zero jitter: tests with jitter 0 keep their random sequence for other uses.
    if (!(jitter > 0.0)) return d;
    const double factor = 1.0 + jitter * (2.0 * random.uniform01() - 1.0);
    const double ns = std::max(0.0, static_cast<double>(d.count()) * factor);
    return Duration(static_cast<Duration::rep>(std::llround(ns)));
}

} // namespace haven::upstream
