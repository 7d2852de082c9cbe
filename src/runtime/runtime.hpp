// Runtime: the composition root — `haven run` is Runtime{config}.run(). It builds the subsystems
// from the configuration and wires them (who owns whom, with a diagram: docs/architecture.md,
// "Assembly"):
//
//   Runtime ── control io_context (the control thread), EventLog, PolicyStore
//     ├─ UpstreamSubsystem ─── upstream::ControlPlane (pool states, checks) ──publish──┐
//     ├─ SupervisorSubsystem ─ supervisor::Supervisor (services, replicas), systemd    │
//     ├─ DnsSubsystem ──────── dns::Server, regions                                    │
//     ├─ ProxySubsystem ────── proxy::DataPlane (workers, listeners, access log) <─────┘
//     ├─ SloSubsystem ──────── SLO trackers, reading the data plane's counters
//     ├─ PolicySubsystem ───── the PolicyStore's sweeps, counters and faults API
//     ├─ ProcessSection ────── event counts, process stats, config health
//     └─ the admin listener (admin::Api + HttpServer), which shows every Section
//
// and drives every registered subsystem through the same steps (subsystem.hpp), in a defined
// order: start (start, warm-up, serve), reload (every subsystem prepares; then all commit in
// order, or all abort), and shutdown (drain, then stop in reverse order).
#pragma once

#include "admin/api.hpp"
#include "admin/http_server.hpp"
#include "admin/model.hpp"
#include "config/schema.hpp"
#include "core/event_log.hpp"
#include "net/io.hpp"
#include "runtime/dns_subsystem.hpp"
#include "runtime/policy_subsystem.hpp"
#include "runtime/process_section.hpp"
#include "runtime/proxy_subsystem.hpp"
#include "runtime/shared_subsystem.hpp"
#include "runtime/slo_subsystem.hpp"
#include "runtime/supervisor_subsystem.hpp"
#include "runtime/upstream_subsystem.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haven::runtime {

class Runtime final : public admin::AdminModel {
public:
    // Builds every subsystem and binds every listener; throws std::runtime_error with a readable
    // message (e.g. "listener web: cannot listen on 127.0.0.1:80: Permission denied").
    explicit Runtime(std::shared_ptr<const config::Config> config);
    ~Runtime() override;
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // Serves until SIGTERM or SIGINT (graceful drain) and returns the exit code (0). SIGHUP
    // reloads the configuration file.
    int run();

    // The address each listener is bound to (port resolved when the config says 0).
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> listening() const;
    // The admin listener's address, if there is one.
    std::optional<asio::ip::tcp::endpoint> admin_listening() const;

    // admin::AdminModel
    EventLog& events() override { return events_; }
    std::shared_ptr<const config::Config> config() const override { return cfg_; }
    std::vector<std::string> reload() override;
    bool ready() override;
    double uptime_seconds() override;
    const std::vector<admin::Section*>& sections() override { return sections_; }

    // Called once, on the control thread, when haven is ready (after "haven ready"): `haven demo`
    // prints its instructions then, with the pids of the replicas it supervises.
    std::function<void()> on_ready;

private:
    void start_admin();
    void warm_up();
    net::awaitable<void> drain();

    std::shared_ptr<const config::Config> cfg_;
    asio::io_context control_;
    EventLog events_;
    std::unique_ptr<policy::PolicyStore> policies_;
    std::unique_ptr<UpstreamSubsystem> upstream_;
    std::unique_ptr<SharedSubsystem> shared_; // after upstream_, before proxy_: outlives the workers that write to it
    std::unique_ptr<ProxySubsystem> proxy_;
    std::unique_ptr<SloSubsystem> slo_;
    std::unique_ptr<PolicySubsystem> policy_;
    std::unique_ptr<ProcessSection> process_;
    std::unique_ptr<SupervisorSubsystem> supervisor_;
    std::unique_ptr<DnsSubsystem> dns_;
    std::vector<Subsystem*> subsystems_;      // start, reload and stop order
    std::vector<admin::Section*> sections_;   // what the admin side shows, in order
    std::unique_ptr<admin::Api> api_;
    std::unique_ptr<admin::HttpServer> admin_http_;
    asio::ip::tcp::endpoint admin_endpoint_;
    TimePoint started_at_{};
    bool serving_ = false;
};

} // namespace haven::runtime
