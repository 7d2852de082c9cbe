// The admin API: every route of the admin listener, and who may call it.
//
//   GET  /                      the dashboard (and /dom.js, /app.js, /style.css)
//   GET  /metrics               Prometheus text format 0.0.4
//   GET  /health[?deep=1]       shallow: 200 "ok"; deep: JSON checks, 200 or 503
//   GET  /ready                 200 once listeners are bound and the first checks are in, else 503
//   GET  /api/status            everything the dashboard shows (each section adds its keys)
//   GET  /api/events[?since=N]  the event history
//   GET  /api/config            the effective configuration (secrets redacted)
//   POST /api/reload
//   *    /api/{section}/...     handled by the section of that name (Section::handle), e.g.
//        GET  /api/pools[/{pool}], POST /api/pools/{pool}/servers/{server}/{drain|enable|maint|weight}
//        (runtime/pools_api.cpp), GET /api/slo (runtime/slo_subsystem.cpp), /api/policies/...,
//        /api/services/..., /api/dns/...
//
// Reads are open to loopback clients; from elsewhere, and for every write, the bearer token is
// required when one is configured (compared in constant time). Errors are JSON {"error": "..."}.
#pragma once

#include "admin/http_server.hpp"
#include "admin/model.hpp"

#include <string>

namespace haven::admin {

class Api {
public:
    Api(AdminModel& model, std::string token) : model_(model), token_(std::move(token)) {}
    Response handle(const Request& r);
    void set_token(std::string token) { token_ = std::move(token); }

private:
    Response route_api(const Request& r, const std::vector<std::string>& parts);
    bool token_ok(const Request& r) const;

    AdminModel& model_;
    std::string token_;
};

// The JSON documents (status_json.cpp).
std::string status_json(AdminModel& m);
std::string events_json(AdminModel& m, std::uint64_t since);
std::string config_json(const config::Config& c); // config_json.cpp
// "2026-12-06T17:36:47.123Z" for microseconds since the epoch.
std::string iso_time(std::int64_t us);
// Every section's deep-health checks, in order.
std::vector<HealthCheckResult> deep_health(AdminModel& m);

} // namespace haven::admin
