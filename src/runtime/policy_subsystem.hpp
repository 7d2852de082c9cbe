// The routes' policies as a subsystem: it drives the route circuit breakers and ends runtime
// faults every 100 ms (policy::PolicyStore::tick), shows rate limits, breakers and faults on the
// admin side, and serves /api/policies (faults switched on and off at run time).
#pragma once

#include "core/event_log.hpp"
#include "core/random.hpp"
#include "core/scheduler.hpp"
#include "policy/policy_store.hpp"
#include "runtime/subsystem.hpp"

namespace haven::runtime {

class PolicySubsystem final : public Subsystem {
public:
    PolicySubsystem(Scheduler& scheduler, EventLog& events, policy::PolicyStore& store);

    // Subsystem
    void serve() override;
    void stop() override;

    // admin::Section
    std::string name() const override { return "policies"; }
    void metrics(admin::metrics::Exposition& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;
    bool handle(const admin::Request& r, const std::vector<std::string>& path, admin::Response& out) override;

private:
    void arm();
    admin::Response set_fault(const admin::Request& r);

    Scheduler& scheduler_;
    EventLog& events_;
    policy::PolicyStore& store_;
    FastRandom random_;
    std::unique_ptr<Timer> tick_;
};

} // namespace haven::runtime
