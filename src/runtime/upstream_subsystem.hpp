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
                      std::shared_ptr<const config::Config> config, std::size_t workers);

    upstream::ControlPlane& plane() { return plane_; }

    // Subsystem
    void prepare(const config::Config& next, std::vector<std::string>& errors) override;
    void commit(const std::shared_ptr<const config::Config>& next) override;
    void start() override { plane_.start(); }
    // haven's start waits for the first round of checks, bounded by the longest check timeout.
    bool warming() const override { return !plane_.first_round_done(); }
    Duration warm_up_limit() const override;
    void warmed_up(Duration took, bool done) override;
    void stop() override { plane_.stop(); }

    // admin::Section
    std::string name() const override { return "pools"; }
    void metrics(admin::metrics::Exposition& out) override;
    void status(nlohmann::json& out) override; // "pools" (pools_api.cpp)
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;
    bool ready() const override { return plane_.first_round_done(); }
    // /api/pools[/{pool}] and the server actions (pools_api.cpp).
    bool handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) override;

private:
    admin::Response server_action(const admin::Request& r, const std::string& pool, const std::string& server,
                                  const std::string& action);

    std::shared_ptr<const config::Config> cfg_; // for what the pools' status shows of their config
    upstream::ControlPlane plane_;
};

} // namespace haven::runtime
