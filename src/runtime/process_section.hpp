// The process's own section: the event history's counts (every HA decision by kind, reloads by
// result), the process's CPU, memory and descriptors, and the deep-health check that the
// configuration is live.
#pragma once

#include "admin/section.hpp"
#include "config/schema.hpp"
#include "core/event_log.hpp"

#include <functional>
#include <memory>

namespace haven::runtime {

class ProcessSection final : public admin::Section {
public:
    using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;
    ProcessSection(EventLog& events, ConfigSource config) : events_(events), config_(std::move(config)) {}

    std::string name() const override { return "process"; }
    void metrics(admin::metrics::Exposition& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;

private:
    EventLog& events_;
    ConfigSource config_;
};

} // namespace haven::runtime
