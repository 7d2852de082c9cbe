// SLO tracking as a subsystem: once a second each listener's request totals (counted by the data
// plane's workers) go to its SloTracker (slo/slo.hpp); requests/s and the error rate since the
// last sample are kept for the dashboard. A reload keeps the history of a listener whose target
// did not change.
#pragma once

#include "slo/slo.hpp"
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

    struct ListenerStatus {
        std::string name;
        std::string address;
        std::string mode;
        double rps = 0;        // over the last few seconds
        double error_rate = 0; // over the last few seconds
        double p50_ms = 0;     // over the last 5 minutes
        double p99_ms = 0;
        slo::SloReport slo;
    };
    // Each listener with its address, recent traffic and SLO report.
    std::vector<ListenerStatus> listeners();

    // Subsystem
    void commit(const std::shared_ptr<const config::Config>& next) override { update_targets(*next); }
    void serve() override { sample(); }
    void stop() override { sampler_.cancel(); }

    // admin::Section
    std::string name() const override { return "slo"; }
    void metrics(admin::metrics::Exposition& out) override;
    void status(nlohmann::json& out) override; // "listeners"
    void summary(nlohmann::json& out) override;
    // GET /api/slo: every listener's SLO report.
    bool handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) override;

private:
    struct ListenerSlo {
        std::unique_ptr<slo::SloTracker> tracker;
        slo::TrafficTotals last;
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
