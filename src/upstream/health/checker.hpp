// HealthChecker: runs one server's probes forever on the control thread — waits the interval
// HealthState asks for (with jitter), runs the Probe, feeds the result in, and reports every
// result and every status change.
#pragma once

#include "core/random.hpp"
#include "core/scheduler.hpp"
#include "upstream/health/health_state.hpp"
#include "upstream/health/probe.hpp"

#include <functional>
#include <memory>

namespace haven::upstream {

struct HealthReport {
    ProbeResult result;
    HealthTransition transition = HealthTransition::Unchanged;
    HealthStatus status = HealthStatus::Down; // after this result
    TimePoint at{};
};

class HealthChecker {
public:
    using Listener = std::function<void(const HealthReport&)>;

    // When the first probe runs: Spread — after a random delay in [0, interval), so that many
    // servers are not all probed at the same instant; Now — at once (a server whose state is not
    // known yet, or a refusal to confirm).
    enum class FirstProbe : std::uint8_t { Spread, Now };

    // `first_result_decides`: see HealthState.
    HealthChecker(Scheduler& scheduler, Random& random, std::unique_ptr<Probe> probe, HealthParams params,
                  HealthStatus initial, Listener on_report, bool first_result_decides = false);
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    // Judges each result before it counts (a pool's role rule, role.hpp); may change ok, reason
    // and definitive.
    using Judge = std::function<void(ProbeResult&)>;
    void set_judge(Judge judge) { judge_ = std::move(judge); }

    void start(FirstProbe first = FirstProbe::Spread);
    void stop();
    // Runs a probe now (admin "check now", or after an outlier ejection ends), then continues
    // the normal schedule.
    void check_now();

    const HealthState& state() const { return state_; }
    HealthState& state() { return state_; }
    // Probes started so far (tests).
    std::uint64_t probes_started() const { return started_; }

private:
    void schedule(Duration after);
    void run_probe();
    void on_result(ProbeResult r);

    Scheduler& scheduler_;
    Random& random_;
    std::unique_ptr<Probe> probe_;
    HealthState state_;
    Listener on_report_;
    Judge judge_;
    std::unique_ptr<Timer> timer_;
    bool running_ = false;
    bool in_flight_ = false;
    bool again_ = false; // check_now() while a probe was in flight
    std::uint64_t started_ = 0;
    // Shared with each probe's `done`: stop() and the destructor clear it, so a result that
    // arrives late (Asio may still deliver it) is dropped instead of touching a stopped or freed
    // checker. Each start() gets a fresh token.
    std::shared_ptr<bool> session_ = std::make_shared<bool>(false);
};

} // namespace haven::upstream
