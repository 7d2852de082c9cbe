// The pools' admin documents and actions (the "pools" section): GET /api/pools[/{pool}], the
// "pools" key of /api/status, and POST /api/pools/{pool}/servers/{server}/{drain|enable|maint|
// disable|weight} (docs/admin.md).
#include "runtime/upstream_subsystem.hpp"

#include "admin/api.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace haven::runtime {
namespace {

using nlohmann::json;
using admin::Request;
using admin::Response;

const char* health_name(upstream::HealthStatus h) { return h == upstream::HealthStatus::Up ? "up" : "down"; }

const char* admin_name(upstream::AdminState a) {
    switch (a) {
    case upstream::AdminState::Ready: return "ready";
    case upstream::AdminState::Drain: return "drain";
    case upstream::AdminState::Maint: return "maint";
    }
    return "?";
}

const char* mode_name(upstream::ServingMode m) {
    switch (m) {
    case upstream::ServingMode::Normal: return "normal";
    case upstream::ServingMode::Degraded: return "degraded";
    case upstream::ServingMode::Panic: return "panic";
    case upstream::ServingMode::None: return "none";
    }
    return "?";
}

struct HostTotals {
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
    std::uint64_t active = 0;
};

HostTotals totals(const upstream::HostInfo& h) {
    HostTotals t;
    for (std::size_t w = 0; w < h.metrics->size(); ++w) {
        const auto& c = h.metrics->at(w);
        t.requests += c.attempts.get();
        t.active += c.active.get();
        for (const auto& f : c.failures) t.failures += f.get();
        t.failures += c.responses[5].get();
    }
    return t;
}

json server_json(const upstream::ServerStatus& s, const upstream::HostInfo& h, bool backup, std::uint32_t max_conns) {
    const auto t = totals(h);
    return {{"name", s.name},
            {"address", s.address},
            {"state", upstream::state_name(s)},
            {"health", health_name(s.health)},
            {"admin", admin_name(s.admin)},
            {"ejected", s.ejected},
            {"refused", s.refused},
            {"region_down", s.region_down},
            {"serving", s.serving},
            {"checked", s.checked},
            {"weight", s.weight},
            {"effective_weight", s.effective_weight},
            {"priority", s.priority},
            {"backup", backup},
            {"active", t.active},
            {"max_connections", max_conns},
            {"requests", t.requests},
            {"failures", t.failures},
            {"ejections", s.ejections},
            {"refusals", s.refusals_total},
            {"checks", s.checks},
            {"role", s.role},
            {"lag_seconds", s.lag_seconds},
            {"check_failures", s.check_failures},
            {"last_check", s.last_check},
            {"last_check_ms", s.last_check_ms},
            {"last_check_time", s.last_check_time_us ? admin::iso_time(s.last_check_time_us) : ""}};
}

json pool_json(const upstream::PoolState& p, const config::Pool* cfg) {
    const auto set = p.current();
    json servers = json::array();
    std::size_t healthy = 0;
    const auto status = p.status();
    for (std::size_t i = 0; i < status.size(); ++i) {
        const bool backup = cfg && i < cfg->servers.size() && cfg->servers[i].backup;
        const auto* q = p.slots();
        servers.push_back(server_json(status[i], set->hosts[i], backup, q ? q->cap(static_cast<upstream::HostIndex>(i)) : 0));
        if (status[i].health == upstream::HealthStatus::Up && !status[i].ejected && !status[i].refused &&
            !status[i].region_down) {
            ++healthy;
        }
    }
    json breaker = nullptr;
    if (const auto* b = p.breaker()) breaker = {{"state", upstream::breaker_state_name(b->state())}, {"trips", b->trips()}};
    json queue = nullptr;
    if (const auto* q = p.slots()) queue = {{"length", q->queued()}, {"max", q->max_queue()}, {"timeouts", q->timeout_total()}, {"full", q->full_total()}};
    return {{"name", p.name()},
            {"breaker", breaker},
            {"queue", queue},
            {"tier", set->tier},
            {"mode", mode_name(set->mode)},
            {"healthy", healthy},
            {"serving", set->eligible.size()},
            {"total", status.size()},
            {"failovers", p.failovers()},
            {"primaries", p.primaries()},
            {"split_brains", p.split_brains()},
            {"servers", servers}};
}

std::optional<std::uint32_t> parse_weight(const Request& r) {
    std::string text = r.param("value");
    if (text.empty() && !r.body.empty()) {
        const auto j = nlohmann::json::parse(r.body, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("weight") || !j["weight"].is_number_unsigned()) {
            return std::nullopt;
        }
        const auto w = j["weight"].get<std::uint64_t>();
        return w <= 256 ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(w)) : std::nullopt;
    }
    std::uint32_t w = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), w);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty() || w > 256) return std::nullopt;
    return w;
}

json all_pools(const upstream::ControlPlane& plane, const config::Config& cfg) {
    json out = json::array();
    for (const auto& p : plane.pools()) out.push_back(pool_json(*p, cfg.find_pool(p->name())));
    return out;
}

} // namespace

void UpstreamSubsystem::status(nlohmann::json& out) { out["pools"] = all_pools(plane_, *cfg_); }

// path: what follows /api/pools. Anything else falls through to the API's 404 / 405.
bool UpstreamSubsystem::handle(const Request& r, const std::vector<std::string>& path, Response& out) {
    if (path.size() == 4 && path[1] == "servers") {
        if (r.method != "POST" && r.method != "PUT") {
            out = Response::error(405, "use POST for " + r.path);
        } else {
            out = server_action(r, path[0], path[2], path[3]);
        }
        return true;
    }
    if (r.method != "GET" || path.size() > 1) return false;
    if (path.empty()) {
        out = Response::json(200, json{{"pools", all_pools(plane_, *cfg_)}}.dump(2) + "\n");
    } else if (const auto* p = plane_.pool(path[0])) {
        out = Response::json(200, pool_json(*p, cfg_->find_pool(path[0])).dump(2) + "\n");
    } else {
        out = Response::error(404, "no pool named \"" + path[0] + "\"");
    }
    return true;
}

Response UpstreamSubsystem::server_action(const Request& r, const std::string& pool, const std::string& server,
                                          const std::string& action) {
    auto* p = plane_.pool(pool);
    if (!p) return Response::error(404, "no pool named \"" + pool + "\"");
    bool ok = false;
    const std::string why = "admin api from " + r.peer.to_string();
    if (action == "drain") {
        ok = p->set_admin(server, upstream::AdminState::Drain, why);
    } else if (action == "enable") {
        ok = p->set_admin(server, upstream::AdminState::Ready, why);
    } else if (action == "maint" || action == "disable") {
        ok = p->set_admin(server, upstream::AdminState::Maint, why);
    } else if (action == "weight") {
        const auto w = parse_weight(r);
        if (!w) return Response::error(400, "weight must be an integer from 0 to 256 (?value=N or {\"weight\": N})");
        ok = p->set_weight(server, *w);
    } else {
        return Response::error(404, "no action \"" + action + "\" (use drain, enable, maint or weight)");
    }
    if (!ok) return Response::error(404, "pool \"" + pool + "\" has no server named \"" + server + "\"");
    return Response::json(200, pool_json(*p, cfg_->find_pool(pool)).dump(2) + "\n");
}

} // namespace haven::runtime
