// Episode: a policy acting on traffic is shown as an episode with a start and an end, not as an
// event per request: a route that starts answering 429 (or shedding at its bulkhead, or answering
// from its fallback) gets one event, and one more once it has done so for none of its requests
// for `quiet`. The control thread feeds it a counter's total every tick (PolicyStore::tick).
#pragma once

#include "core/clock.hpp"

#include <cstdint>

namespace haven::policy {

class Episode {
public:
    enum class Change : std::uint8_t { None, Started, Ended };

    // `total`: the counter's value now (monotonic, from 0 when the episode object was made: a
    // route's counters and its episodes are made together). Started: it moved while no episode
    // was on; Ended: it has not moved for `quiet` during one.
    Change observe(std::uint64_t total, TimePoint now, Duration quiet) {
        if (total != last_) {
            const bool starts = !active_;
            if (starts) before_ = last_;
            last_ = total;
            last_move_ = now;
            if (starts) {
                active_ = true;
                started_ = now;
                return Change::Started;
            }
            return Change::None;
        }
        if (active_ && now - last_move_ >= quiet) {
            active_ = false;
            return Change::Ended;
        }
        return Change::None;
    }
    bool active() const { return active_; }
    // What the current (or last) episode counted, and when it started.
    std::uint64_t counted() const { return last_ - before_; }
    TimePoint started() const { return started_; }
    TimePoint last_move() const { return last_move_; }

private:
    bool active_ = false;
    std::uint64_t last_ = 0;
    std::uint64_t before_ = 0; // the total before the episode's first count
    TimePoint last_move_{};
    TimePoint started_{};
};

} // namespace haven::policy
