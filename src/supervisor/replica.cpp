#include "supervisor/replica.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <signal.h>

#include <algorithm>

namespace haven::supervisor {
namespace {

// After a replica leaves rotation, workers may still pick it until they adopt the new pool
// snapshot (their doorbell rings at once; their 100 ms tick is the bound): wait this long before
// trusting an in-flight count of zero.
constexpr Duration kMinDrain = std::chrono::milliseconds(200);
constexpr Duration kDrainPoll = std::chrono::milliseconds(50);

ProbeParams params_of(const config::ServiceProbe& p) {
    return {p.initial_delay, p.period, p.timeout, p.failure_threshold, p.success_threshold};
}

std::string text_of(Duration d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{}ms", ms);
}

} // namespace

const char* replica_state_name(ReplicaState s, bool crashloop) {
    if (crashloop && s != ReplicaState::Ready && s != ReplicaState::Stopped) return "crashloop";
    switch (s) {
    case ReplicaState::Stopped: return "stopped";
    case ReplicaState::Starting: return "starting";
    case ReplicaState::Ready: return "ready";
    case ReplicaState::NotReady: return "not_ready";
    case ReplicaState::Draining: return "draining";
    case ReplicaState::Stopping: return "stopping";
    case ReplicaState::Backoff: return "backoff";
    }
    return "?";
}

std::optional<config::ServiceProbe> effective_readiness(const config::Service& s) {
    if (s.readiness) return s.readiness;
    if (s.ports.empty()) return std::nullopt;
    config::ServiceProbe tcp;
    tcp.kind = config::ServiceProbe::Kind::Tcp;
    tcp.period = std::chrono::seconds(1);
    return tcp;
}

std::vector<std::string> replica_environment(const std::vector<std::string>& base, const config::Service& s,
                                             const config::ReplicaVars& vars) {
    std::vector<std::pair<std::string, std::string>> add = {{"HAVEN_SERVICE", vars.service},
                                                            {"HAVEN_REPLICA", vars.name}};
    if (vars.port) add.emplace_back("HAVEN_PORT", std::to_string(*vars.port));
    for (const auto& [k, v] : s.env) {
        std::string error;
        add.emplace_back(k, config::expand_placeholders(v, vars, error).value_or(v));
    }
    std::vector<std::string> out;
    for (const auto& e : base) {
        const auto name = std::string_view(e).substr(0, e.find('='));
        const bool replaced = std::any_of(add.begin(), add.end(), [&](const auto& kv) { return kv.first == name; });
        if (!replaced) out.push_back(e);
    }
    for (std::size_t i = 0; i < add.size(); ++i) {
        const bool later = std::any_of(add.begin() + static_cast<std::ptrdiff_t>(i) + 1, add.end(),
                                       [&](const auto& kv) { return kv.first == add[i].first; });
        if (!later) out.push_back(add[i].first + "=" + add[i].second);
    }
    return out;
}

Replica::Replica(ReplicaEnv& env, std::shared_ptr<const config::Service> spec, std::uint32_t index)
    : env_(env), spec_(std::move(spec)), index_(index), name_(spec_->replica_name(index)), tracker_(restart_params()),
      restart_timer_(env.scheduler.make_timer()), drain_timer_(env.scheduler.make_timer()),
      kill_timer_(env.scheduler.make_timer()), healthy_timer_(env.scheduler.make_timer()),
      ready_timer_(env.scheduler.make_timer()) {}

Replica::~Replica() = default;

RestartParams Replica::restart_params() const {
    const auto& s = *spec_;
    return {s.restart_delay, s.max_restart_delay, s.crash_loop.restarts, s.crash_loop.window, s.crash_loop.delay};
}

void Replica::event(const char* kind, std::string detail) { env_.events.add(kind, spec_->name, name_, std::move(detail)); }

SpawnSpec Replica::spawn_spec() const {
    const auto& s = *spec_;
    const auto vars = config::replica_vars(s, index_);
    SpawnSpec out;
    out.name = name_;
    out.path = s.path;
    out.argv.push_back(s.command);
    for (const auto& a : s.args) {
        std::string error;
        out.argv.push_back(config::expand_placeholders(a, vars, error).value_or(a)); // checked when loaded
    }
    out.env = replica_environment(env_.base_env, s, vars);
    out.cwd = s.cwd;
    if (!s.user.empty()) out.user = std::pair<uid_t, gid_t>(s.uid, s.gid);
    out.max_line = s.log.max_line;
    out.lines_per_second = s.log.lines_per_second;
    return out;
}

void Replica::start() {
    if (process_) return;
    stopping_ = false;
    launch();
}

void Replica::launch() {
    restart_timer_->cancel();
    tracker_.set_params(restart_params());
    std::string error;
    process_ = env_.launcher.spawn(spawn_spec(), [this](ExitStatus st) { on_exit(st); }, error);
    ++starts_;
    started_at_ = env_.scheduler.now();
    start_timed_out_ = false;
    killed_for_liveness_ = false;
    if (!process_) {
        event("replica_start_failed", error);
        after_exit(error, true);
        return;
    }
    state_ = ReplicaState::Starting;
    event("replica_started", fmt::format("pid {}{}", process_->pid(), starts_ > 1 ? fmt::format(" (restart {})", starts_ - 1) : ""));
    start_probes();
}

void Replica::start_probes() {
    const auto vars = config::replica_vars(*spec_, index_);
    if (spec_->liveness) {
        liveness_ = std::make_unique<ProbeRunner>(env_.scheduler, env_.make_probe(*spec_, *spec_->liveness, vars),
                                                  params_of(*spec_->liveness), ProbeState::Passing,
                                                  [this](const ProbeOutcome& o) { on_liveness(o); });
        liveness_->start();
    }
    const auto readiness = effective_readiness(*spec_);
    if (!readiness) {
        became_ready("started (no readiness probe, no port)");
        return;
    }
    readiness_ = std::make_unique<ProbeRunner>(env_.scheduler, env_.make_probe(*spec_, *readiness, vars),
                                               params_of(*readiness), ProbeState::Unknown,
                                               [this](const ProbeOutcome& o) { on_readiness(o); });
    ready_timer_->arm(spec_->ready_timeout, [this] {
        start_timed_out_ = true;
        settle_waiter(false, fmt::format("{} not ready within {}", name_, text_of(spec_->ready_timeout)));
    });
    readiness_->start();
}

void Replica::on_readiness(const ProbeOutcome& o) {
    last_readiness_ = readiness_->status();
    if (!o.changed || stopping_) return;
    if (o.state == ProbeState::Passing) {
        became_ready(o.reason);
        return;
    }
    if (o.state != ProbeState::Failing) return;
    const bool was_ready = state_ == ReplicaState::Ready;
    state_ = ReplicaState::NotReady;
    healthy_timer_->cancel();
    serving(false, "replica not ready: " + o.reason);
    event("replica_not_ready", fmt::format("{} ({} failures in a row){}", o.reason, last_readiness_.consecutive_failures,
                                           was_ready ? "; out of rotation" : ""));
}

void Replica::became_ready(const std::string& why) {
    state_ = ReplicaState::Ready;
    ready_timer_->cancel();
    serving(true, "replica ready");
    event("replica_ready", fmt::format("{} after {:.0f} ms", why, to_ms(env_.scheduler.now() - started_at_)));
    // Ready for reset_after without a break: the backoff and any crash loop start over.
    healthy_timer_->arm(spec_->reset_after, [this] {
        if (tracker_.on_healthy()) event("replica_recovered", "ready for " + text_of(spec_->reset_after) + "; crash loop over");
    });
    settle_waiter(true, "ready");
}

void Replica::on_liveness(const ProbeOutcome& o) {
    last_liveness_ = liveness_->status();
    if (!o.changed || o.state != ProbeState::Failing || stopping_ || !process_) return;
    ++liveness_kills_;
    killed_for_liveness_ = true;
    event("replica_liveness_failed",
          fmt::format("{} ({} failures in a row); restarting", o.reason, last_liveness_.consecutive_failures));
    serving(false, "liveness failed");
    drop_probes(); // allowed from its own listener (probe_runner.hpp)
    send_term(); // no drain: a process that fails its liveness probe is not answering anyway
}

// The runners end with their process; what they counted is kept, so that the replica's probe
// counts (and haven_probe_checks_total) only grow.
void Replica::drop_probes() {
    const auto keep = [](std::unique_ptr<ProbeRunner>& runner, ProbeStatus& last, ProbeTotals& total) {
        if (!runner) return;
        last = runner->status();
        total.checks += last.checks;
        total.failures += last.failures;
        runner.reset();
    };
    keep(liveness_, last_liveness_, liveness_total_);
    keep(readiness_, last_readiness_, readiness_total_);
}

ProbeStatus Replica::probe_status(const ProbeRunner* runner, const ProbeStatus& last, const ProbeTotals& total) {
    ProbeStatus p = runner ? runner->status() : last;
    p.checks = total.checks + (runner ? p.checks : 0);
    p.failures = total.failures + (runner ? p.failures : 0);
    return p;
}

void Replica::on_exit(ExitStatus st) {
    lines_dropped_ += process_ ? process_->lines_dropped() : 0;
    process_.reset();
    drop_probes();
    for (auto* t : {drain_timer_.get(), kill_timer_.get(), healthy_timer_.get(), ready_timer_.get()}) t->cancel();
    last_exit_ = st;
    serving(false, "replica exited: " + st.text());
    if (!stopping_) {
        after_exit(st.text() + (killed_for_liveness_ ? " after its liveness probe failed" : ""),
                   !st.success() || killed_for_liveness_);
        return;
    }
    stopping_ = false;
    state_ = ReplicaState::Stopped;
    event("replica_stopped", st.text());
    auto waiters = std::move(stop_waiters_);
    stop_waiters_.clear();
    if (replacement_) {
        spec_ = std::move(replacement_);
        replacement_.reset();
        launch();
    }
    for (auto& w : waiters) w(); // last: a waiter may destroy this replica
}

// Rules: restart: always restarts whatever the exit; on-failure when it failed (an exit status
// other than 0, a signal, a failed liveness probe, a start that failed); never does not.
void Replica::after_exit(const std::string& what, bool failure) {
    const auto mode = spec_->restart;
    if (mode == config::RestartMode::Never || (mode == config::RestartMode::OnFailure && !failure)) {
        state_ = ReplicaState::Stopped;
        event("replica_exited", what + "; not restarted (restart: " + std::string(config::name_of(mode)) + ")");
        settle_waiter(false, name_ + " exited: " + what);
        return;
    }
    const auto now = env_.scheduler.now();
    const auto d = tracker_.on_exit(now);
    state_ = ReplicaState::Backoff;
    next_start_at_ = now + d.delay;
    event("replica_exited", fmt::format("{}; restart in {} (attempt {})", what, text_of(d.delay), d.attempt));
    if (d.entered_crashloop) {
        ++crashloops_;
        event("replica_crashloop", fmt::format("{} restarts within {}; restarting every {} until it stays ready for {}",
                                               d.in_window, text_of(spec_->crash_loop.window), text_of(d.delay),
                                               text_of(spec_->reset_after)));
    }
    restart_timer_->arm(d.delay, [this] { launch(); });
    settle_waiter(false, name_ + " exited: " + what);
}

void Replica::stop(Done done) {
    replacement_.reset();
    restart_timer_->cancel();
    settle_waiter(false, name_ + " stopped");
    if (!process_) {
        state_ = ReplicaState::Stopped;
        if (done) done();
        return;
    }
    if (done) stop_waiters_.push_back(std::move(done));
    request_stop();
}

void Replica::replace(std::shared_ptr<const config::Service> spec, ReadyDone done) {
    ready_waiter_ = std::move(done);
    if (!process_) {
        // Not running (backoff, stopped): start the new definition at once.
        spec_ = std::move(spec);
        launch();
        return;
    }
    replacement_ = std::move(spec);
    request_stop();
}

void Replica::request_stop() {
    if (stopping_) return; // already on its way
    stopping_ = true;
    ready_timer_->cancel();
    healthy_timer_->cancel();
    if (!serving_) {
        send_term();
        return;
    }
    state_ = ReplicaState::Draining;
    serving(false, "draining before stop");
    drain_since_ = env_.scheduler.now();
    drain_timer_->arm(kDrainPoll, [this] { poll_drain(); });
}

// Rules: stop once nothing is in flight (but not before kMinDrain), or at drain_timeout.
void Replica::poll_drain() {
    const auto waited = env_.scheduler.now() - drain_since_;
    const auto in_flight = env_.gate.in_flight(spec_->name, name_);
    if ((waited >= kMinDrain && in_flight == 0) || waited >= spec_->drain_timeout) {
        if (in_flight > 0) spdlog::warn("{}: drain_timeout: stopping with {} request(s) in flight", name_, in_flight);
        send_term();
        return;
    }
    drain_timer_->arm(kDrainPoll, [this] { poll_drain(); });
}

void Replica::send_term() {
    state_ = ReplicaState::Stopping;
    drop_probes();
    process_->signal(SIGTERM);
    kill_timer_->arm(spec_->stop_grace, [this] {
        if (!process_) return;
        event("replica_killed", "still running " + text_of(spec_->stop_grace) + " after SIGTERM; SIGKILL");
        process_->signal(SIGKILL);
    });
}

void Replica::serving(bool on, std::string_view why) {
    if (serving_ == on) return;
    serving_ = on;
    env_.gate.set_serving(spec_->name, name_, on, why);
}

void Replica::settle_waiter(bool ok, const std::string& why) {
    if (!ready_waiter_) return;
    auto w = std::move(ready_waiter_);
    ready_waiter_ = nullptr;
    w(ok, why);
}

void Replica::terminate() {
    stopping_ = true;
    replacement_.reset();
    for (auto* t : {restart_timer_.get(), drain_timer_.get(), kill_timer_.get(), healthy_timer_.get(), ready_timer_.get()}) {
        t->cancel();
    }
    drop_probes();
    serving(false, "haven is stopping");
    if (!process_) {
        state_ = ReplicaState::Stopped;
        return;
    }
    state_ = ReplicaState::Stopping;
    process_->signal(SIGTERM);
}

void Replica::wait_gone(TimePoint deadline) {
    if (!process_) return;
    ExitStatus st;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - env_.scheduler.now());
    if (!process_->wait_blocking(std::max(left, std::chrono::milliseconds(0)), st)) {
        spdlog::warn("{}: still running after SIGTERM; SIGKILL", name_);
        process_->signal(SIGKILL);
        process_->wait_blocking(std::chrono::seconds(5), st);
    }
    spdlog::info("{}: stopped ({})", name_, st.text());
    last_exit_ = st;
    process_.reset();
    state_ = ReplicaState::Stopped;
}

void Replica::reapply_serving() {
    env_.gate.set_serving(spec_->name, name_, serving_, serving_ ? "replica ready" : "replica not ready");
}

bool Replica::settled() const {
    switch (state_) {
    case ReplicaState::Starting: return start_timed_out_;
    case ReplicaState::Draining:
    case ReplicaState::Stopping: return false;
    default: return true;
    }
}

ReplicaStatus Replica::status() const {
    ReplicaStatus s;
    s.name = name_;
    if (index_ < spec_->ports.size()) s.port = spec_->ports[index_];
    s.pid = process_ ? process_->pid() : 0;
    s.state = state_;
    s.crashloop = tracker_.crashloop();
    s.starts = starts_;
    s.restarts = starts_ > 0 ? starts_ - 1 : 0;
    s.crashloops = crashloops_;
    s.liveness_kills = liveness_kills_;
    s.lines_dropped = lines_dropped_ + (process_ ? process_->lines_dropped() : 0);
    s.last_exit = last_exit_;
    const auto now = env_.scheduler.now();
    if (process_) s.uptime_s = to_seconds(now - started_at_);
    if (state_ == ReplicaState::Backoff) s.next_start_in_s = std::max(0.0, to_seconds(next_start_at_ - now));
    if (spec_->liveness) s.liveness = probe_status(liveness_.get(), last_liveness_, liveness_total_);
    if (effective_readiness(*spec_)) s.readiness = probe_status(readiness_.get(), last_readiness_, readiness_total_);
    return s;
}

} // namespace haven::supervisor
