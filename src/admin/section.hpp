// What one subsystem shows on the admin side. Each subsystem (the data plane, the control plane,
// SLO tracking, and the ones later issues add) has a Section, registered by src/runtime/; the
// admin API asks every registered section, in order, so a new subsystem appears in /metrics,
// /api/status, /health?deep=1, /ready and the dashboard without an edit here.
// Everything is called on the control thread.
#pragma once

#include "admin/http_server.hpp"
#include "admin/metrics/exposition.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace haven::admin {

// One line of /health?deep=1 (and of the dashboard's checks).
struct HealthCheckResult {
    std::string name;
    bool ok = true;
    std::string detail;
};

class Section {
public:
    virtual ~Section() = default;
    // Its name on the dashboard and in /api/status "subsystems".
    virtual std::string name() const = 0;
    // Its series for /metrics.
    virtual void metrics(metrics::Exposition& out) = 0;
    // Keys it adds to /api/status (e.g. "pools"); the dashboard knows some of them by name.
    virtual void status(nlohmann::json& out) { (void)out; }
    // A few words and numbers for the dashboard's generic subsystem panel: {"key": value, ...}.
    virtual void summary(nlohmann::json& out) { (void)out; }
    // Its deep-health checks.
    virtual void health(std::vector<HealthCheckResult>& out) { (void)out; }
    // /ready is 200 only when every section is ready.
    virtual bool ready() const { return true; }
    // Requests under /api/{name}/... (`path`: the parts after it), after the API checked the
    // token for writes. True when handled, with `out` set.
    virtual bool handle(const Request& r, const std::vector<std::string>& path, Response& out) {
        (void)r;
        (void)path;
        (void)out;
        return false;
    }
};

} // namespace haven::admin
