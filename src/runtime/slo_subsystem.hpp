// SLO tracking as a subsystem: once a second each listener's request totals (counted by the data
// plane's workers) go to its SloTracker (admin/slo.hpp); requests/s and the error rate since the
// last sample are kept for the dashboard. A reload keeps the history of a listener whose target
// did not change.
#pragma once

#include "admin/model.hpp"
#include "admin/slo.hpp"
#include "core/scheduler.hpp"
#include "proxy/data_plane.hpp"
#include "runtime/subsystem.hpp"

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <map>
#include <memory>

namespace haven::runtime {

class SloSubsystem final : public Subsystem {
public:
    SloSubsystem(asio::io_context& control, Scheduler& clock, const proxy::DataPlane& data);

    // Each listener with its address, recent traffic and SLO report.
    std::vector<admin::ListenerStatus> listeners();

    // Subsystem
    void commit(const std::shared_ptr<const config::Config>& next) override { update_targets(*next); }
    void start() override { sample(); }
    void stop() override { sampler_.cancel(); }

    // admin::Section
    std::string name() const override { return "slo"; }
    void metrics(admin::metrics::Exposition& out) override;
    void summary(nlohmann::json& out) override;

private:
    struct ListenerSlo {
        std::unique_ptr<admin::SloTracker> tracker;
        admin::TrafficTotals last;
        TimePoint last_at{};
        double rps = 0;
        double error_rate = 0;
    };

    void update_targets(const config::Config& c);
    void sample();

    Scheduler& clock_;
    const proxy::DataPlane& data_;
    asio::steady_timer sampler_;
    std::map<std::string, ListenerSlo> slos_; // by listener name
};

} // namespace haven::runtime
