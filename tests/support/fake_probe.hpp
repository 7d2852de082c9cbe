// A Probe whose results the test supplies. The test keeps a FakeProbeControl (shared with the
// probe, which the HealthChecker owns) and either completes each check by hand — complete(),
// whenever it likes, even after the checker stopped or the probe was destroyed — or lets checks
// complete by themselves `latency` after they start, on a (manual) Scheduler, taking results from
// `script` (then `fallback`).
#pragma once

#include "core/scheduler.hpp"
#include "upstream/health/probe.hpp"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace haven::test {

inline upstream::ProbeResult probe_ok() { return {true, "ok", {}, 200}; }
inline upstream::ProbeResult probe_fail(std::string reason = "connection refused") {
    return {false, std::move(reason), {}, 0};
}

struct FakeProbeControl {
    std::deque<upstream::ProbeResult> script; // next results for automatic completion
    upstream::ProbeResult fallback = probe_ok();
    std::optional<Duration> latency; // set: checks complete by themselves; unset: by complete()
    std::vector<TimePoint> start_times; // when each check started (needs the scheduler)
    std::function<void(upstream::ProbeResult)> pending; // `done` of the check in flight
    std::size_t started = 0;
    std::uint64_t abandoned = 0; // checks replaced by a new start() before completing
    bool destroyed = false;

    bool in_flight() const { return static_cast<bool>(pending); }

    // Completes the check in flight with `r`. Deliberately ignores `destroyed`: a real probe
    // never calls back once destroyed, but a checker must survive one that does.
    bool complete(upstream::ProbeResult r) {
        if (!pending) return false;
        auto done = std::move(pending);
        pending = nullptr;
        done(std::move(r));
        return true;
    }
    bool complete_ok() { return complete(probe_ok()); }
    bool complete_fail(std::string reason = "connection refused") { return complete(probe_fail(std::move(reason))); }

    upstream::ProbeResult next_result() {
        if (script.empty()) return fallback;
        auto r = std::move(script.front());
        script.pop_front();
        return r;
    }
};

class FakeProbe final : public upstream::Probe {
public:
    explicit FakeProbe(std::shared_ptr<FakeProbeControl> control, Scheduler* scheduler = nullptr)
        : control_(std::move(control)), scheduler_(scheduler), timer_(scheduler ? scheduler->make_timer() : nullptr) {}
    ~FakeProbe() override { control_->destroyed = true; }

    void start(std::function<void(upstream::ProbeResult)> done) override {
        // Per the Probe contract, a new start abandons the check in flight.
        if (control_->pending) ++control_->abandoned;
        control_->pending = std::move(done);
        ++control_->started;
        if (scheduler_) control_->start_times.push_back(scheduler_->now());
        if (!control_->latency || !timer_) return;
        // The timer is ours: destroying the probe cancels an automatic completion, as a real
        // probe's destructor does.
        timer_->arm(*control_->latency, [c = control_] { c->complete(c->next_result()); });
    }

private:
    std::shared_ptr<FakeProbeControl> control_;
    Scheduler* scheduler_;
    std::unique_ptr<Timer> timer_;
};

} // namespace haven::test
