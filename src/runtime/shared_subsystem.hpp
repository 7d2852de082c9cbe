// Shared state as a subsystem (docs/sessions.md#shared-state): with `shared_state:` it runs a
// shared::StickSharing on the control thread and attaches it to every pool whose stick table is
// shared (again after each reload, whose new pools come with new tables), and a
// shared::LimitSharing over the same connection for the routes' shared rate limits. Without it, it does
// nothing and shows nothing. A reload that adds, removes or changes `shared_state:` is refused:
// the connection to Redis is the process's, and changing it means a restart.
#pragma once

#include "policy/policy_store.hpp"
#include "runtime/subsystem.hpp"
#include "shared/limit_sharing.hpp"
#include "shared/stick_sharing.hpp"
#include "upstream/control_plane.hpp"

#include <memory>
#include <optional>

namespace haven::runtime {

class SharedSubsystem final : public Subsystem {
public:
    // Throws std::runtime_error when a Redis or sentinel address does not resolve.
    SharedSubsystem(asio::io_context& control, EventLog& events, upstream::ControlPlane& plane,
                    policy::PolicyStore& policies, const config::Config& config);
    ~SharedSubsystem() override;

    // Subsystem
    void prepare(const config::Config& next, std::vector<std::string>& errors) override;
    void commit(const std::shared_ptr<const config::Config>& next) override;
    void start() override;
    void stop() override;

    // admin::Section
    std::string name() const override { return "shared_state"; }
    void metrics(admin::metrics::Exposition& out) override;
    void status(nlohmann::json& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;

private:
    void attach();
    std::vector<std::string> shared_pools() const;
    std::vector<shared::LimitSharing::Source> shared_limits() const;
    void limit_metrics(admin::metrics::Exposition& out);

    upstream::ControlPlane& plane_;
    policy::PolicyStore& policies_;
    std::optional<config::SharedState> config_;
    std::unique_ptr<shared::StickSharing> sharing_;
    std::unique_ptr<shared::LimitSharing> limits_; // declared after sharing_, whose connection it uses
};

} // namespace haven::runtime
