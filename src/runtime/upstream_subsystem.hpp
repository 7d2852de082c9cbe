// The control plane as a subsystem: every pool's health checks, outlier detection, refusals and
// tiers (upstream::ControlPlane). It publishes each pool's new state through `publish` (the
// runtime hands it to the data plane); the admin side shows its pools and servers.
#pragma once

#include "runtime/subsystem.hpp"
#include "upstream/control_plane.hpp"

namespace haven::runtime {

class UpstreamSubsystem final : public Subsystem {
public:
    UpstreamSubsystem(asio::io_context& control, EventLog& events, upstream::ControlPlane::Publish publish,
                      const config::Config& config, std::size_t workers);

    upstream::ControlPlane& plane() { return plane_; }

    // Subsystem
    void prepare(const config::Config& next, std::vector<std::string>& errors) override;
    void commit(const std::shared_ptr<const config::Config>& next) override;
    void start() override { plane_.start(); }
    void stop() override { plane_.stop(); }

    // admin::Section
    std::string name() const override { return "pools"; }
    void metrics(admin::metrics::Exposition& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;
    bool ready() const override { return plane_.first_round_done(); }

private:
    upstream::ControlPlane plane_;
};

} // namespace haven::runtime
