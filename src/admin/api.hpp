// The admin API: every route of the admin listener, and who may call it.
//
//   GET  /                      the dashboard (and /dom.js, /app.js, /style.css)
//   GET  /metrics               Prometheus text format 0.0.4
//   GET  /health[?deep=1]       shallow: 200 "ok"; deep: JSON checks, 200 or 503
//   GET  /ready                 200 once listeners are bound and the first checks are in, else 503
//   GET  /api/status            everything the dashboard shows
//   GET  /api/pools[/{pool}]    pools and servers with state, weight, active requests, last check
//   GET  /api/events[?since=N]  the event history
//   GET  /api/config            the effective configuration (secrets redacted)
//   GET  /api/slo               SLO reports per listener
//   POST /api/pools/{pool}/servers/{server}/{drain|enable|maint}
//   POST /api/pools/{pool}/servers/{server}/weight   body {"weight": N} or ?value=N
//   POST /api/reload
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
    Response server_action(const Request& r, const std::string& pool, const std::string& server,
                           const std::string& action);
    bool token_ok(const Request& r) const;

    AdminModel& model_;
    std::string token_;
};

// The JSON documents (status_json.cpp).
std::string status_json(AdminModel& m);
std::string pools_json(AdminModel& m, const std::string& only_pool, bool& found);
std::string events_json(AdminModel& m, std::uint64_t since);
std::string slo_json(AdminModel& m);
std::string config_json(const config::Config& c); // config_json.cpp
// Every section's deep-health checks, in order.
std::vector<HealthCheckResult> deep_health(AdminModel& m);

} // namespace haven::admin
