#include "supervisor/probe_runner.hpp"

namespace haven::supervisor {

const char* probe_state_name(ProbeState s) {
    switch (s) {
    case ProbeState::Unknown: return "unknown";
    case ProbeState::Passing: return "passing";
    case ProbeState::Failing: return "failing";
    }
    return "?";
}

ProbeRunner::ProbeRunner(Scheduler& scheduler, std::unique_ptr<upstream::Probe> probe, ProbeParams params,
                         ProbeState initial, Listener listener)
    : scheduler_(scheduler), probe_(std::move(probe)), params_(params), listener_(std::move(listener)),
      next_(scheduler.make_timer()), deadline_(scheduler.make_timer()) {
    status_.state = initial;
}

ProbeRunner::~ProbeRunner() {
    if (session_) *session_ = false;
}

void ProbeRunner::start() {
    next_->arm(params_.initial_delay, [this] { run(); });
}

void ProbeRunner::run() {
    // The next check is due one period after this one starts, whatever this one does.
    next_->arm(params_.period, [this] { run(); });
    if (session_) *session_ = false; // a check still out (it cannot be: timeout <= period) is given up
    session_ = std::make_shared<bool>(true);
    started_ = scheduler_.now();
    deadline_->arm(params_.timeout, [this] {
        *session_ = false;
        on_result(false, "timeout", params_.timeout);
    });
    probe_->start([this, session = session_](upstream::ProbeResult r) {
        if (!*session) return;
        *session = false;
        deadline_->cancel();
        on_result(r.ok, std::move(r.reason), scheduler_.now() - started_);
    });
}

void ProbeRunner::on_result(bool ok, std::string reason, Duration took) {
    ++status_.checks;
    status_.last = reason;
    status_.last_ms = to_ms(took);
    const ProbeState before = status_.state;
    if (ok) {
        status_.consecutive_failures = 0;
        if (++successes_ >= params_.success_threshold) status_.state = ProbeState::Passing;
    } else {
        ++status_.failures;
        successes_ = 0;
        if (++status_.consecutive_failures >= params_.failure_threshold) status_.state = ProbeState::Failing;
    }
    const ProbeOutcome outcome{ok, std::move(reason), took, status_.state, status_.state != before};
    listener_(outcome); // last: it may destroy this runner
}

} // namespace haven::supervisor
