// The JSON documents of the admin API: status (what the dashboard shows), pools, events, SLOs.
#include "admin/api.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ctime>

namespace haven::admin {
namespace {

using nlohmann::json;

std::string iso_time(std::int64_t us) {
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, (us % 1'000'000) / 1000);
}

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

json server_json(const upstream::ServerStatus& s, const upstream::HostInfo& h, bool backup) {
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
            {"requests", t.requests},
            {"failures", t.failures},
            {"ejections", s.ejections},
            {"refusals", s.refusals_total},
            {"checks", s.checks},
            {"check_failures", s.check_failures},
            {"last_check", s.last_check},
            {"last_check_ms", s.last_check_ms},
            {"last_check_time", s.last_check_time_us ? iso_time(s.last_check_time_us) : ""}};
}

json pool_json(const upstream::PoolState& p, const config::Pool* cfg) {
    const auto set = p.current();
    json servers = json::array();
    std::size_t healthy = 0;
    const auto status = p.status();
    for (std::size_t i = 0; i < status.size(); ++i) {
        const bool backup = cfg && i < cfg->servers.size() && cfg->servers[i].backup;
        servers.push_back(server_json(status[i], set->hosts[i], backup));
        if (status[i].health == upstream::HealthStatus::Up && !status[i].ejected && !status[i].refused &&
            !status[i].region_down) {
            ++healthy;
        }
    }
    json breaker = nullptr;
    if (const auto* b = p.breaker()) breaker = {{"state", upstream::breaker_state_name(b->state())}, {"trips", b->trips()}};
    return {{"name", p.name()},
            {"breaker", breaker},
            {"tier", set->tier},
            {"mode", mode_name(set->mode)},
            {"healthy", healthy},
            {"serving", set->eligible.size()},
            {"total", status.size()},
            {"failovers", p.failovers()},
            {"servers", servers}};
}

json window_json(const WindowStats& w) {
    return {{"availability", w.availability * 100}, {"error_rate", w.error_rate * 100}, {"p50_ms", w.p50_seconds * 1000},
            {"p99_ms", w.p99_seconds * 1000},       {"requests", w.requests},           {"errors", w.errors},
            {"covered_seconds", to_seconds(w.covered)}};
}

json slo_report_json(const SloReport& r) {
    return {{"target",
             {{"availability", r.target.availability * 100},
              {"latency_p99_ms", to_ms(r.target.latency_p99)},
              {"error_rate", r.target.error_rate * 100},
              {"window_days", to_seconds(r.target.window) / 86400}}},
            {"windows", {{"5m", window_json(r.last_5m)}, {"1h", window_json(r.last_1h)}, {"slo", window_json(r.slo_window)}}},
            {"allowed_downtime_seconds", r.allowed_downtime_seconds},
            {"error_budget_remaining", r.error_budget_remaining},
            {"burn_rate_5m", r.burn_rate_5m},
            {"burn_rate_1h", r.burn_rate_1h},
            {"met", {{"availability", r.availability_met}, {"latency", r.latency_met}, {"error_rate", r.error_rate_met}}}};
}

json listeners_json(AdminModel& m) {
    json out = json::array();
    for (const auto& l : m.listeners()) {
        out.push_back({{"name", l.name},
                       {"address", l.address},
                       {"mode", l.mode},
                       {"rps", l.rps},
                       {"error_rate", l.error_rate},
                       {"p50_ms", l.p50_ms},
                       {"p99_ms", l.p99_ms},
                       {"slo", slo_report_json(l.slo)}});
    }
    return out;
}

json events_array(AdminModel& m, std::uint64_t since, std::size_t max) {
    json out = json::array();
    for (const auto& e : m.events().since(since, max)) {
        out.push_back({{"seq", e.seq},
                       {"time", iso_time(e.time_us)},
                       {"kind", e.kind},
                       {"pool", e.pool},
                       {"server", e.server},
                       {"detail", e.detail}});
    }
    return out;
}

json all_pools(AdminModel& m) {
    json out = json::array();
    const auto cfg = m.config();
    for (const auto& p : m.control_plane().pools()) out.push_back(pool_json(*p, cfg->find_pool(p->name())));
    return out;
}

} // namespace

std::vector<HealthCheckResult> deep_health(AdminModel& m) {
    std::vector<HealthCheckResult> out;
    for (auto* s : m.sections()) s->health(out);
    return out;
}

// The dashboard knows listeners, pools and events by name; every section also gets a generic
// entry under "subsystems" (its summary and its deep-health checks), so that a subsystem a later
// issue adds shows up without an edit to the dashboard.
std::string status_json(AdminModel& m) {
    json j = {{"version", HAVEN_VERSION},
              {"now", iso_time(wall_time_us())},
              {"uptime_seconds", m.uptime_seconds()},
              {"ready", m.ready()},
              {"listeners", listeners_json(m)},
              {"pools", all_pools(m)},
              {"events", events_array(m, 0, 100)}};
    json subsystems = json::array();
    for (auto* s : m.sections()) {
        s->status(j);
        json summary = json::object();
        s->summary(summary);
        std::vector<HealthCheckResult> checks;
        s->health(checks);
        json cj = json::array();
        bool ok = true;
        for (const auto& c : checks) {
            cj.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
            ok = ok && c.ok;
        }
        subsystems.push_back({{"name", s->name()}, {"ok", ok}, {"ready", s->ready()}, {"summary", summary}, {"checks", cj}});
    }
    j["subsystems"] = std::move(subsystems);
    return j.dump() + "\n";
}

std::string pools_json(AdminModel& m, const std::string& only_pool, bool& found) {
    found = true;
    if (only_pool.empty()) return json{{"pools", all_pools(m)}}.dump(2) + "\n";
    auto* p = m.control_plane().pool(only_pool);
    if (!p) {
        found = false;
        return {};
    }
    return pool_json(*p, m.config()->find_pool(only_pool)).dump(2) + "\n";
}

std::string events_json(AdminModel& m, std::uint64_t since) {
    return json{{"events", events_array(m, since, SIZE_MAX)}, {"last_seq", m.events().last_seq()}}.dump(2) + "\n";
}

std::string slo_json(AdminModel& m) {
    json out = json::array();
    for (const auto& l : m.listeners()) out.push_back({{"listener", l.name}, {"slo", slo_report_json(l.slo)}});
    return json{{"listeners", out}}.dump(2) + "\n";
}

} // namespace haven::admin
