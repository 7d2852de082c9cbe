// The supervisor's section: services and replicas in /metrics (docs/metrics.md), /api/services,
// the dashboard's summary and checks; and the bridge from replica readiness to pool admin state.
#include "runtime/supervisor_subsystem.hpp"

#include "supervisor/posix_launcher.hpp"
#include "supervisor/probes.hpp"
#include "supervisor/status_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstring>

extern char** environ;

namespace haven::runtime {
namespace {

using admin::metrics::Exposition;
using admin::metrics::Labels;
using nlohmann::json;

// The summary shows one line per replica up to this many; beyond, only the counts.
constexpr std::size_t kSummaryReplicas = 24;

// haven's environment without what systemd meant for haven alone.
std::vector<std::string> base_environment() {
    static constexpr std::string_view kDrop[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
                                                 "LISTEN_FDS=",    "LISTEN_PID=",    "LISTEN_FDNAMES="};
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view v(*e);
        bool drop = false;
        for (const auto d : kDrop) drop = drop || v.starts_with(d);
        if (!drop) out.emplace_back(v);
    }
    return out;
}

void probe_metrics(Exposition& e, const std::string& service, const std::string& replica, const char* probe,
                   const std::optional<supervisor::ProbeStatus>& p) {
    if (!p) return;
    const char* help = "Liveness and readiness probes run, by result.";
    e.counter("haven_probe_checks_total", help, {{"service", service}, {"replica", replica}, {"probe", probe}, {"result", "ok"}},
              static_cast<double>(p->checks - p->failures));
    e.counter("haven_probe_checks_total", help,
              {{"service", service}, {"replica", replica}, {"probe", probe}, {"result", "failed"}},
              static_cast<double>(p->failures));
}

void replica_metrics(Exposition& e, const std::string& service, const supervisor::ReplicaStatus& r) {
    const Labels l{{"service", service}, {"replica", r.name}};
    const std::string current = supervisor::replica_state_name(r.state, r.crashloop);
    for (const char* s : {"starting", "ready", "not_ready", "draining", "stopping", "backoff", "crashloop", "stopped"}) {
        e.gauge("haven_replica_state", "The replica's state, one series per state (1 = current).",
                {{"service", service}, {"replica", r.name}, {"state", s}}, current == s ? 1 : 0);
    }
    e.gauge("haven_replica_up", "1 while the replica's process runs.", l, r.pid != 0 ? 1 : 0);
    e.gauge("haven_replica_ready", "1 while the replica is ready (takes traffic).", l,
            r.state == supervisor::ReplicaState::Ready ? 1 : 0);
    e.counter("haven_replica_restarts_total", "Times the replica was started again (after an exit, a failed liveness "
              "probe, or a rolling restart).", l, static_cast<double>(r.restarts));
    e.counter("haven_replica_crashloops_total", "Times the replica entered CRASHLOOP.", l, static_cast<double>(r.crashloops));
    e.counter("haven_replica_liveness_restarts_total", "Restarts because the liveness probe failed.", l,
              static_cast<double>(r.liveness_kills));
    e.counter("haven_replica_log_lines_dropped_total", "Output lines not logged (more than log.lines_per_second).", l,
              static_cast<double>(r.lines_dropped));
    e.gauge("haven_replica_uptime_seconds", "How long the replica's current process has run (0: not running).", l, r.uptime_s);
    if (r.last_exit) {
        e.gauge("haven_replica_last_exit_code", "Exit status of the replica's last process (-1: killed by a signal).", l,
                r.last_exit->signal ? -1 : r.last_exit->code);
        e.gauge("haven_replica_last_exit_signal", "Signal that killed the replica's last process (0: none).", l,
                r.last_exit->signal);
    }
    probe_metrics(e, service, r.name, "liveness", r.liveness);
    probe_metrics(e, service, r.name, "readiness", r.readiness);
}

} // namespace

// Readiness becomes the replica's admin state (ready / drain) in every pool with servers_from
// its service; requests in flight are read from the pools' per-worker counters.
class SupervisorSubsystem::PoolGate final : public supervisor::TrafficGate {
public:
    explicit PoolGate(upstream::ControlPlane& plane) : plane_(plane) {}
    void bind(const config::Supervisor& s) { bindings_ = s.servers_from; }

    void set_serving(const std::string& service, const std::string& replica, bool serving, std::string_view why) override {
        for (const auto& b : bindings_) {
            if (b.service != service) continue;
            if (auto* p = plane_.pool(b.pool)) {
                p->set_admin(replica, serving ? upstream::AdminState::Ready : upstream::AdminState::Drain, why);
                // A replica killed under load was ejected for the resets its death caused; ready
                // again (often a new process), it returns now, not after base_ejection.
                if (serving) p->probe_passed(replica, "replica ready");
            }
        }
    }

    std::uint64_t in_flight(const std::string& service, const std::string& replica) override {
        std::uint64_t n = 0;
        for (const auto& b : bindings_) {
            const auto* p = b.service == service ? plane_.pool(b.pool) : nullptr;
            if (!p) continue;
            const auto set = p->current();
            for (const auto& h : set->hosts) {
                if (h.name != replica || !h.metrics) continue;
                for (std::size_t w = 0; w < h.metrics->size(); ++w) n += h.metrics->at(w).active.get();
            }
        }
        return n;
    }

private:
    upstream::ControlPlane& plane_;
    std::vector<config::ServersFrom> bindings_;
};

SupervisorSubsystem::SupervisorSubsystem(asio::io_context& control, Scheduler& scheduler, EventLog& events,
                                         upstream::ControlPlane& plane, const config::Config& config)
    : scheduler_(scheduler), launcher_(supervisor::make_posix_launcher(control, scheduler)),
      gate_(std::make_unique<PoolGate>(plane)), watchdog_(scheduler.make_timer()) {
    auto env = base_environment();
    supervisor::ReplicaEnv renv{scheduler, *launcher_, events, *gate_,
                                supervisor::make_probe_factory(control, scheduler, *launcher_, env), env};
    supervisor_ = std::make_unique<supervisor::Supervisor>(std::move(renv));
    gate_->bind(config.supervisor);
    supervisor_->configure(config.supervisor);
}

SupervisorSubsystem::~SupervisorSubsystem() = default;

void SupervisorSubsystem::commit(const std::shared_ptr<const config::Config>& next) {
    gate_->bind(next->supervisor);
    supervisor_->configure(next->supervisor);
    // A pool that starts taking servers from a running service learns which replicas are ready.
    supervisor_->reapply_serving();
}

void SupervisorSubsystem::start() {
    started_ = true;
    supervisor_->start();
    ping_watchdog();
}

void SupervisorSubsystem::ping_watchdog() {
    const auto period = notifier_.watchdog_period();
    if (!period || stopped_) return;
    notifier_.watchdog();
    watchdog_->arm(*period, [this] { ping_watchdog(); });
}

void SupervisorSubsystem::begin_drain() { notifier_.stopping(); }

void SupervisorSubsystem::stop() {
    stopped_ = true;
    watchdog_->cancel();
    supervisor_->shutdown();
}

void SupervisorSubsystem::metrics(Exposition& out) {
    for (const auto& s : supervisor_->status()) {
        const Labels l{{"service", s.name}};
        out.gauge("haven_service_replicas", "Replicas the service is configured with.", l, s.replicas);
        out.gauge("haven_service_replicas_ready", "Replicas of the service that are ready.", l, static_cast<double>(s.ready));
        out.counter("haven_service_rolling_restarts_total", "Rolling restarts of the service (requested or by a reload).", l,
                    static_cast<double>(s.rolling_restarts));
        for (const auto& r : s.replica_status) replica_metrics(out, s.name, r);
    }
}

void SupervisorSubsystem::status(json& out) {
    json services = json::array();
    for (const auto& s : supervisor_->status()) services.push_back(supervisor::to_json(s));
    out["services"] = std::move(services);
}

void SupervisorSubsystem::summary(json& out) {
    std::size_t replicas = 0, ready = 0, crashloop = 0, shown = 0;
    const auto all = supervisor_->status();
    for (const auto& s : all) {
        for (const auto& r : s.replica_status) {
            ++replicas;
            ready += r.state == supervisor::ReplicaState::Ready ? 1 : 0;
            crashloop += r.crashloop ? 1 : 0;
        }
    }
    out["services"] = all.size();
    out["replicas"] = replicas;
    out["ready"] = ready;
    out["crashlooping"] = crashloop;
    out["systemd"] = notifier_.enabled() ? (notifier_.watchdog_period() ? "notify + watchdog" : "notify") : "no";
    for (const auto& s : all) {
        for (const auto& r : s.replica_status) {
            if (shown++ < kSummaryReplicas) out[r.name] = supervisor::one_line(r);
        }
    }
}

void SupervisorSubsystem::health(std::vector<admin::HealthCheckResult>& out) {
    for (const auto& s : supervisor_->status()) {
        std::string trouble;
        for (const auto& r : s.replica_status) {
            if (r.state == supervisor::ReplicaState::Ready) continue;
            trouble += fmt::format("{}{} {}", trouble.empty() ? "; " : ", ", r.name, supervisor::replica_state_name(r.state, r.crashloop));
        }
        const bool crashloop = std::any_of(s.replica_status.begin(), s.replica_status.end(), [](const auto& r) { return r.crashloop; });
        out.push_back({"service:" + s.name, s.ready > 0 && !crashloop,
                       fmt::format("{} of {} ready{}", s.ready, s.replicas, trouble)});
    }
}

bool SupervisorSubsystem::ready() const {
    settled_once_ = settled_once_ || (started_ && supervisor_->settled());
    return settled_once_;
}

// GET /api/services, GET /api/services/NAME, POST /api/services/NAME/restart (a rolling restart:
// 202 at once; its progress shows in the service's "rolling_restart" and in the events).
bool SupervisorSubsystem::handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) {
    if (path.size() > 2 || (path.size() == 2 && path[1] != "restart")) return false;
    if (path.size() == 2) {
        if (r.method != "POST") {
            out = admin::Response::error(405, "use POST /api/services/" + path[0] + "/restart");
            return true;
        }
        std::string error;
        bool not_found = false;
        if (!supervisor_->restart(path[0], error, not_found)) {
            out = admin::Response::error(not_found ? 404 : 409, error);
            return true;
        }
        out = admin::Response::json(202, json{{"restarting", path[0]}}.dump() + "\n");
        return true;
    }
    if (r.method != "GET") {
        out = admin::Response::error(405, "use GET for " + r.path);
        return true;
    }
    json services = json::array();
    for (const auto& s : supervisor_->status()) {
        if (path.empty() || s.name == path[0]) services.push_back(supervisor::to_json(s));
    }
    if (!path.empty() && services.empty()) {
        out = admin::Response::error(404, "no service named \"" + path[0] + "\"");
        return true;
    }
    out = admin::Response::json(200, (path.empty() ? json{{"services", services}} : services.front()).dump(2) + "\n");
    return true;
}

} // namespace haven::runtime
