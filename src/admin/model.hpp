// What the admin listener needs from the running process: reload, the event history and
// configuration it shows, readiness, and the registered Sections (section.hpp) that show and act
// on everything else (pools and their servers, listeners and SLOs, policies, services, DNS).
// Implemented by runtime::Runtime; everything here is called on the control thread.
#pragma once

#include "admin/section.hpp"
#include "config/schema.hpp"
#include "core/event_log.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::admin {

class AdminModel {
public:
    virtual ~AdminModel() = default;
    virtual EventLog& events() = 0;
    virtual std::shared_ptr<const config::Config> config() const = 0;
    // Reloads the configuration file; empty on success, else every reason it was refused.
    virtual std::vector<std::string> reload() = 0;
    // Serving has started and every section is ready (listeners bound, first checks done, ...).
    virtual bool ready() = 0;
    virtual double uptime_seconds() = 0;
    // Every subsystem's section, in the order they were registered.
    virtual const std::vector<Section*>& sections() = 0;
};

} // namespace haven::admin
