// The supervisor as a subsystem: it runs and heals the configuration's `services:`
// (supervisor::Supervisor), turns each replica's readiness into its servers' admin state in the
// pools that take their servers from its service (a TrafficGate over the control plane), shows
// services and replicas on the admin side (/api/services, `haven ctl services`, /metrics, the
// dashboard's Subsystems panel) and serves POST /api/services/NAME/restart (a rolling restart).
// It also speaks to systemd for haven itself (supervisor::SystemdNotifier): READY=1 when haven
// serves and after each reload, RELOADING=1 when one begins, STOPPING=1 at begin_drain(); the
// watchdog pings run on the control thread from start() on.
#pragma once

#include "runtime/subsystem.hpp"
#include "supervisor/supervisor.hpp"
#include "supervisor/systemd_notify.hpp"
#include "upstream/control_plane.hpp"

#include <asio/io_context.hpp>

#include <memory>
#include <string>

namespace haven::runtime {

class SupervisorSubsystem final : public Subsystem {
public:
    SupervisorSubsystem(asio::io_context& control, Scheduler& scheduler, EventLog& events,
                        upstream::ControlPlane& plane, const config::Config& config);
    ~SupervisorSubsystem() override;

    // Subsystem
    void commit(const std::shared_ptr<const config::Config>& next) override;
    void start() override;
    // haven's start waits (at most warm_up_limit()) until every replica is past its start.
    bool warming() const override { return !supervisor_->settled(); }
    Duration warm_up_limit() const override { return supervisor_->warm_up_limit(); }
    void serving() override { notifier_.ready("serving"); }                         // READY=1
    void reload_begins() override { notifier_.reloading(scheduler_.now()); }       // RELOADING=1
    void reload_ends() override { notifier_.ready("serving"); }                    // READY=1
    void begin_drain() override;
    void stop() override;

    // admin::Section
    std::string name() const override { return "services"; }
    void metrics(admin::metrics::Exposition& out) override;
    void status(nlohmann::json& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;
    bool ready() const override;
    bool handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) override;

private:
    class PoolGate;
    void ping_watchdog();

    Scheduler& scheduler_;
    std::unique_ptr<supervisor::Launcher> launcher_;
    std::unique_ptr<PoolGate> gate_;
    std::unique_ptr<supervisor::Supervisor> supervisor_;
    supervisor::SystemdNotifier notifier_;
    std::unique_ptr<Timer> watchdog_;
    bool started_ = false;
    bool stopped_ = false;
    mutable bool settled_once_ = false;
};

} // namespace haven::runtime
