// What the admin listener needs from the running server. Implemented by the Server
// (src/proxy/server_admin.cpp); everything here is called on the control thread.
#pragma once

#include "admin/metrics/exposition.hpp"
#include "admin/slo.hpp"
#include "config/schema.hpp"
#include "core/event_log.hpp"
#include "upstream/control_plane.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::admin {

struct ListenerStatus {
    std::string name;
    std::string address;
    std::string mode;
    double rps = 0;          // over the last few seconds
    double error_rate = 0;   // over the last few seconds
    double p50_ms = 0;       // over the last 5 minutes
    double p99_ms = 0;
    SloReport slo;
};

struct HealthCheckResult {
    std::string name;
    bool ok = true;
    std::string detail;
};

class AdminModel {
public:
    virtual ~AdminModel() = default;
    virtual upstream::ControlPlane& control_plane() = 0;
    virtual EventLog& events() = 0;
    virtual std::shared_ptr<const config::Config> config() const = 0;
    // Reloads the configuration file; empty on success, else every reason it was refused.
    virtual std::vector<std::string> reload() = 0;
    // Every haven metric (requests, upstreams, health, failovers, SLOs, process).
    virtual void collect(metrics::Exposition& out) = 0;
    virtual std::vector<ListenerStatus> listeners() = 0;
    // Listeners bound and the first round of health checks finished.
    virtual bool ready() = 0;
    // Deep health: every pool has a serving server, the config is live, every worker is alive.
    virtual std::vector<HealthCheckResult> deep_health() = 0;
    virtual double uptime_seconds() = 0;
};

} // namespace haven::admin
