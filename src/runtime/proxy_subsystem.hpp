// The data plane as a subsystem: the workers, listeners and access log (proxy::DataPlane). The
// admin side shows what it counts — requests by listener, route and status, latency, client
// connections, retry decisions — and whether every worker's event loop is alive.
#pragma once

#include "proxy/data_plane.hpp"
#include "runtime/subsystem.hpp"
#include "upstream/control_plane.hpp"

#include <chrono>
#include <functional>

namespace haven::runtime {

class ProxySubsystem final : public Subsystem {
public:
    // `plane`: where the pools' snapshots come from (at start and at every reload).
    ProxySubsystem(std::shared_ptr<const config::Config> config, upstream::ControlPlane& plane,
                   policy::PolicyStore& policies);

    proxy::DataPlane& data() { return data_; }

    // Subsystem
    void prepare(const config::Config& next, std::vector<std::string>& errors) override { data_.prepare(next, errors); }
    void commit(const std::shared_ptr<const config::Config>& next) override;
    void abort() override { data_.abort(); }
    void serve() override { data_.start(); }
    void begin_drain() override { data_.begin_drain(); }
    void stop() override { data_.stop(); }

    // admin::Section
    std::string name() const override { return "proxy"; }
    void metrics(admin::metrics::Exposition& out) override;
    void summary(nlohmann::json& out) override;
    void health(std::vector<admin::HealthCheckResult>& out) override;
    bool ready() const override { return data_.started(); }

private:
    upstream::ControlPlane& plane_;
    proxy::DataPlane data_;
};

} // namespace haven::runtime
