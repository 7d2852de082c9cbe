// The admin API's own JSON documents: status (what the dashboard shows: every section's keys and
// summary) and events. Pools and SLOs are their sections' documents (src/runtime/).
#include "admin/api.hpp"

#include "core/clock.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ctime>

namespace haven::admin {

using nlohmann::json;

std::string iso_time(std::int64_t us) {
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, (us % 1'000'000) / 1000);
}

namespace {

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

} // namespace

std::vector<HealthCheckResult> deep_health(AdminModel& m) {
    std::vector<HealthCheckResult> out;
    for (auto* s : m.sections()) s->health(out);
    return out;
}

// Every section adds its keys (the dashboard knows "listeners", "pools", "services" by name) and
// gets a generic entry under "subsystems" (its summary and its deep-health checks), so that a
// subsystem a later issue adds shows up without an edit to the dashboard.
std::string status_json(AdminModel& m) {
    json j = {{"version", HAVEN_VERSION},
              {"now", iso_time(wall_time_us())},
              {"uptime_seconds", m.uptime_seconds()},
              {"ready", m.ready()},
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

std::string events_json(AdminModel& m, std::uint64_t since) {
    return json{{"events", events_array(m, since, SIZE_MAX)}, {"last_seq", m.events().last_seq()}}.dump(2) + "\n";
}

} // namespace haven::admin
