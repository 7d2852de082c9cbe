#include "supervisor/status_json.hpp"

#include <fmt/format.h>

namespace haven::supervisor {
namespace {

using nlohmann::json;

json probe_json(const std::optional<ProbeStatus>& p) {
    if (!p) return nullptr;
    return {{"state", probe_state_name(p->state)}, {"last", p->last},         {"last_ms", p->last_ms},
            {"checks", p->checks},                 {"failures", p->failures}, {"consecutive_failures", p->consecutive_failures}};
}

} // namespace

json to_json(const ReplicaStatus& r) {
    return {{"name", r.name},
            {"port", r.port == 0 ? json(nullptr) : json(r.port)},
            {"pid", r.pid == 0 ? json(nullptr) : json(r.pid)},
            {"state", replica_state_name(r.state, r.crashloop)},
            {"crashloop", r.crashloop},
            {"starts", r.starts},
            {"restarts", r.restarts},
            {"crashloops", r.crashloops},
            {"liveness_restarts", r.liveness_kills},
            {"last_exit", r.last_exit ? json(r.last_exit->text()) : json(nullptr)},
            {"last_exit_code", r.last_exit && r.last_exit->signal == 0 ? json(r.last_exit->code) : json(nullptr)},
            {"last_exit_signal", r.last_exit && r.last_exit->signal != 0 ? json(r.last_exit->signal) : json(nullptr)},
            {"uptime_s", r.uptime_s},
            {"next_start_in_s", r.next_start_in_s},
            {"log_lines_dropped", r.lines_dropped},
            {"liveness", probe_json(r.liveness)},
            {"readiness", probe_json(r.readiness)}};
}

json to_json(const ServiceStatus& s) {
    json replicas = json::array();
    for (const auto& r : s.replica_status) replicas.push_back(to_json(r));
    return {{"name", s.name},
            {"desired", s.replicas},
            {"ready", s.ready},
            {"restart", s.restart},
            {"rolling_restart", s.rolling ? json{{"at", s.rolling_at + 1}, {"of", s.replicas}} : json(nullptr)},
            {"rolling_restarts", s.rolling_restarts},
            {"replicas", replicas}};
}

std::string one_line(const ReplicaStatus& r) {
    std::string out = replica_state_name(r.state, r.crashloop);
    if (r.pid != 0) out += fmt::format(" · pid {}", r.pid);
    if (r.next_start_in_s > 0) out += fmt::format(" · restart in {:.1f}s", r.next_start_in_s);
    out += fmt::format(" · restarts {}", r.restarts);
    if (r.last_exit) out += " · last exit " + r.last_exit->text();
    if (r.readiness && !r.readiness->last.empty()) out += " · ready probe " + r.readiness->last;
    return out;
}

} // namespace haven::supervisor
