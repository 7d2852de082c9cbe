// src/upstream/health: active health checks. HealthState (this file) is the pure state machine
// for one server — rise/fall hysteresis and which interval applies next; HealthChecker
// (checker.hpp) schedules probes on the control thread's Scheduler; Probe (probe.hpp) is one check
// over the network (http_probe.cpp, tcp_probe.cpp).
//
// Time is a parameter: observe() takes `now`, so tests drive it without a clock.
#pragma once

#include "core/clock.hpp"
#include "core/random.hpp"

#include <cstdint>

namespace haven::upstream {

enum class HealthStatus : std::uint8_t { Up, Down };

// What one probe result did to the server's status.
enum class HealthTransition : std::uint8_t {
    Unchanged, // the result agrees with the current status (streak reset if it was pending)
    Pending,   // the result disagrees, but not yet `rise`/`fall` times in a row
    Changed,   // the status flipped (Up -> Down after `fall` failures, Down -> Up after `rise` successes)
};

struct HealthParams {
    Duration interval = std::chrono::seconds(5);      // between checks while stable and Up
    Duration fast_interval = std::chrono::seconds(1); // while a transition is pending
    Duration down_interval = std::chrono::seconds(5); // between checks while stable and Down
    Duration timeout = std::chrono::seconds(2);       // one probe's limit
    std::uint32_t rise = 2;  // consecutive successes: Down -> Up
    std::uint32_t fall = 3;  // consecutive failures: Up -> Down
    double jitter = 0.10;    // each interval varies by up to +/- this fraction
};

class HealthState {
public:
    // `first_result_decides`: the status is not known yet (`initial: check`): the server counts
    // as Up until its first result, which then sets the status on its own (a failure takes it
    // Down at once, without waiting for `fall`).
    HealthState(const HealthParams& params, HealthStatus initial, bool first_result_decides = false)
        : params_(params), status_(first_result_decides ? HealthStatus::Up : initial),
          first_decides_(first_result_decides) {}

    // Records one probe result at `now`. A `definitive` result that disagrees with the status
    // flips it at once (a server's own answer about its role, role.hpp), without rise/fall.
    HealthTransition observe(bool success, TimePoint now, bool definitive = false);

    HealthStatus status() const { return status_; }
    bool pending() const { return streak_ > 0; }
    bool awaiting_first_result() const { return first_decides_; }
    std::uint32_t streak() const { return streak_; }      // results in a row disagreeing with status
    TimePoint last_change() const { return last_change_; } // when status last flipped (epoch if never)
    const HealthParams& params() const { return params_; }

    // The interval before the next probe, without jitter: fast_interval while pending,
    // interval when Up, down_interval when Down — or fast_interval when Down and the last check
    // was refused (nothing listens: the process is gone, and a refused connect costs nothing, so
    // a restarted process is found sooner).
    Duration next_interval() const;
    // Whether the last check's connection was refused (see next_interval).
    void note_refused(bool refused) { refused_ = refused; }

    // Forces a status (admin action, outlier return confirmed by a probe, config reload).
    void force(HealthStatus s, TimePoint now);

private:
    HealthParams params_;
    HealthStatus status_;
    std::uint32_t streak_ = 0;
    TimePoint last_change_{};
    bool first_decides_ = false;
    bool refused_ = false;
};

// `d` varied uniformly within +/- jitter*d (jitter in [0, 1)); never negative.
Duration apply_jitter(Duration d, double jitter, Random& random);

} // namespace haven::upstream
