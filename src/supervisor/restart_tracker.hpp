// RestartTracker: when a replica that ended is started again. Pure (time is passed in), so the
// backoff and the crash-loop window are unit-tested without a clock.
//
//   delay(n)  = min(restart_delay x 2^(n-1), max_restart_delay)   n = restarts since the replica
//                                                                    was last healthy (1, 2, ...)
//   CRASHLOOP = at least crash_loop.restarts restarts within the last crash_loop.window; while in
//               it, the delay is max(delay(n), crash_loop.delay)
//   healthy   = ready (or running, without a readiness probe) for reset_after: n and the crash
//               loop start over.
#pragma once

#include "core/clock.hpp"

#include <cstdint>
#include <deque>

namespace haven::supervisor {

struct RestartParams {
    Duration delay{std::chrono::seconds(10)};
    Duration max_delay{std::chrono::minutes(2)};
    std::uint32_t crash_restarts = 5;
    Duration crash_window{std::chrono::minutes(10)};
    Duration crash_delay{std::chrono::minutes(5)};
};

// What to do about one exit.
struct RestartDecision {
    Duration delay{};                 // wait this long, then start again
    std::uint32_t attempt = 0;        // n in the formula above
    std::size_t in_window = 0;        // restarts within the crash-loop window, this one included
    bool crashloop = false;           // in CRASHLOOP now
    bool entered_crashloop = false;   // ... because of this exit
};

class RestartTracker {
public:
    explicit RestartTracker(RestartParams p) : p_(p) {}
    void set_params(RestartParams p) { p_ = p; }

    // The replica ended at `now` and is to be started again.
    RestartDecision on_exit(TimePoint now);
    // It was healthy for reset_after. True when that ended a crash loop.
    bool on_healthy();

    bool crashloop() const { return crashloop_; }
    std::uint32_t attempts() const { return attempts_; }

private:
    RestartParams p_;
    std::deque<TimePoint> restarts_; // within the window
    std::uint32_t attempts_ = 0;
    bool crashloop_ = false;
};

} // namespace haven::supervisor
