#include "upstream/health/checker.hpp"

#include <utility>

namespace haven::upstream {

HealthChecker::HealthChecker(Scheduler& scheduler, Random& random, std::unique_ptr<Probe> probe, HealthParams params,
                             HealthStatus initial, Listener on_report, bool first_result_decides)
    : scheduler_(scheduler),
      random_(random),
      probe_(std::move(probe)),
      state_(params, initial, first_result_decides),
      on_report_(std::move(on_report)),
      timer_(scheduler.make_timer()) {}

HealthChecker::~HealthChecker() {
    // The probe is destroyed with us and then never calls back; the token covers a late delivery
    // anyway, which costs one flag check.
    *session_ = false;
}

void HealthChecker::start(FirstProbe first) {
    if (running_) return;
    running_ = true;
    session_ = std::make_shared<bool>(true);
    if (first == FirstProbe::Now) {
        run_probe();
        return;
    }
    // Spread the first probes of many servers over one interval instead of a burst at startup.
    const auto spread = state_.params().interval.count();
    schedule(Duration(static_cast<Duration::rep>(spread > 0 ? random_.below(static_cast<std::uint64_t>(spread)) : 0)));
}

void HealthChecker::stop() {
    running_ = false;
    in_flight_ = false;
    again_ = false;
    timer_->cancel();
    *session_ = false;
}

void HealthChecker::check_now() {
    // Rules: nothing while stopped (an admin poke must not restart a disabled checker); never two
    // probes at once, so a request during a probe runs right after it; otherwise now, and the
    // regular schedule resumes from that probe's result.
    if (!running_) return;
    if (in_flight_) {
        again_ = true;
        return;
    }
    timer_->cancel();
    run_probe();
}

void HealthChecker::schedule(Duration after) {
    // The timer belongs to us and never fires after cancel() or destruction, so `this` is safe.
    timer_->arm(after, [this] { run_probe(); });
}

void HealthChecker::run_probe() {
    in_flight_ = true;
    ++started_;
    probe_->start([this, session = session_](ProbeResult r) {
        if (!*session) return;
        on_result(std::move(r));
    });
}

void HealthChecker::on_result(ProbeResult r) {
    in_flight_ = false;
    const TimePoint now = scheduler_.now();
    if (judge_) judge_(r);
    const HealthTransition transition = state_.observe(r.ok, now, r.definitive);
    // Every probe words a refused connect the same way ("connection refused", prefixed with
    // the step's name in a sequence: "service port: connection refused").
    state_.note_refused(!r.ok && r.reason.ends_with("connection refused"));
    HealthReport report{std::move(r), transition, state_.status(), now};

    // The next probe is arranged before the listener runs: the interval counts from this result
    // (probes never overlap), and the listener may stop or even destroy this checker, after which
    // no member may be touched.
    if (again_) {
        again_ = false;
        run_probe();
    } else {
        schedule(apply_jitter(state_.next_interval(), state_.params().jitter, random_));
    }
    const Listener listener = on_report_; // outlives *this if the listener destroys it
    if (listener) listener(report);
}

} // namespace haven::upstream
