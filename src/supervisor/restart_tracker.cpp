#include "supervisor/restart_tracker.hpp"

#include <algorithm>

namespace haven::supervisor {

RestartDecision RestartTracker::on_exit(TimePoint now) {
    while (!restarts_.empty() && now - restarts_.front() >= p_.crash_window) restarts_.pop_front();
    restarts_.push_back(now);
    ++attempts_;
    RestartDecision d;
    d.attempt = attempts_;
    d.in_window = restarts_.size();
    // Doubling stops at the cap; the shift is bounded so that it cannot overflow.
    Duration delay = p_.delay;
    for (std::uint32_t i = 1; i < attempts_ && delay < p_.max_delay; ++i) delay *= 2;
    delay = std::min(delay, p_.max_delay);
    if (!crashloop_ && restarts_.size() >= p_.crash_restarts) {
        crashloop_ = true;
        d.entered_crashloop = true;
    }
    if (crashloop_) delay = std::max(delay, p_.crash_delay);
    d.crashloop = crashloop_;
    d.delay = delay;
    return d;
}

bool RestartTracker::on_healthy() {
    const bool was = crashloop_;
    attempts_ = 0;
    crashloop_ = false;
    restarts_.clear();
    return was;
}

} // namespace haven::supervisor
