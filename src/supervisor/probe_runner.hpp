// ProbeRunner: one liveness or readiness probe of one replica, on the Kubernetes schedule — the
// first check initial_delay after the replica started, then one every period (counted from the
// start of the previous one); a check without an answer within timeout has failed (and is
// abandoned: the Probe contract says a new start gives up the one in flight, and an exec probe
// kills its process); failure_threshold failures in a row make the probe Failing,
// success_threshold successes in a row make it Passing. Runs on a Scheduler, so it is unit-tested
// on the fake clock.
#pragma once

#include "core/scheduler.hpp"
#include "upstream/health/probe.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace haven::supervisor {

struct ProbeParams {
    Duration initial_delay{};
    Duration period{std::chrono::seconds(10)};
    Duration timeout{std::chrono::seconds(1)};
    std::uint32_t failure_threshold = 3;
    std::uint32_t success_threshold = 1;
};

enum class ProbeState { Unknown, Passing, Failing };
const char* probe_state_name(ProbeState s);

// One result, and whether it changed the probe's state.
struct ProbeOutcome {
    bool ok = false;
    std::string reason;
    Duration took{};
    ProbeState state = ProbeState::Unknown;
    bool changed = false;
};

// What the admin side shows about a probe.
struct ProbeStatus {
    ProbeState state = ProbeState::Unknown;
    std::string last;      // "ok", "timeout", "status 503", ... ("" before the first result)
    double last_ms = 0;
    std::uint64_t checks = 0;
    std::uint64_t failures = 0;
    std::uint32_t consecutive_failures = 0;
};

class ProbeRunner {
public:
    using Listener = std::function<void(const ProbeOutcome&)>;

    // `initial`: Unknown for readiness (not ready until it passes), Passing for liveness (alive
    // until it fails). The listener may destroy the runner.
    ProbeRunner(Scheduler& scheduler, std::unique_ptr<upstream::Probe> probe, ProbeParams params, ProbeState initial,
                Listener listener);
    ~ProbeRunner();
    ProbeRunner(const ProbeRunner&) = delete;
    ProbeRunner& operator=(const ProbeRunner&) = delete;

    void start();
    const ProbeStatus& status() const { return status_; }

private:
    void run();
    void on_result(bool ok, std::string reason, Duration took);

    Scheduler& scheduler_;
    std::unique_ptr<upstream::Probe> probe_;
    ProbeParams params_;
    Listener listener_;
    ProbeStatus status_;
    std::uint32_t successes_ = 0;
    std::unique_ptr<Timer> next_;
    std::unique_ptr<Timer> deadline_;
    TimePoint started_{};
    // Cleared by the destructor and by each new check: a result that arrives late is dropped.
    std::shared_ptr<bool> session_;
};

} // namespace haven::supervisor
