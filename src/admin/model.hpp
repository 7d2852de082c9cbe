// What the admin listener needs from the running process: the things it acts on (pools and
// their servers, reload), the event history and configuration it shows, and the registered
// Sections (section.hpp) that show everything else. Implemented by runtime::Runtime; everything
// here is called on the control thread.
#pragma once

#include "admin/section.hpp"
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

class AdminModel {
public:
    virtual ~AdminModel() = default;
    virtual upstream::ControlPlane& control_plane() = 0;
    virtual EventLog& events() = 0;
    virtual std::shared_ptr<const config::Config> config() const = 0;
    // Reloads the configuration file; empty on success, else every reason it was refused.
    virtual std::vector<std::string> reload() = 0;
    // Listeners with their traffic and SLO reports (/api/status, /api/slo).
    virtual std::vector<ListenerStatus> listeners() = 0;
    // Serving has started and every section is ready (listeners bound, first checks done, ...).
    virtual bool ready() = 0;
    virtual double uptime_seconds() = 0;
    // Every subsystem's section, in the order they were registered.
    virtual const std::vector<Section*>& sections() = 0;
};

} // namespace haven::admin
