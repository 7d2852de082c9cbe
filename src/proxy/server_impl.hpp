// Server::Impl: the running server's state, shared by server.cpp (lifecycle, reload, shutdown),
// server_admin.cpp (what the admin listener shows and does) and server_metrics.cpp (/metrics).
// Everything here is used on the control thread, except what workers reach through their
// WorkerContext.
#pragma once

#include "admin/api.hpp"
#include "admin/http_server.hpp"
#include "admin/model.hpp"
#include "admin/slo.hpp"
#include "net/io.hpp"
#include "proxy/access_log.hpp"
#include "proxy/server.hpp"
#include "proxy/snapshot.hpp"
#include "proxy/worker_context.hpp"
#include "upstream/control_plane.hpp"

#include <asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace haven::proxy {

// A listener's sockets, one per worker, bound on the control thread.
struct BoundListener {
    std::string name;
    config::Listener config;
    asio::ip::tcp::endpoint endpoint; // the real one (port resolved when the config says 0)
    std::vector<int> fds;             // handed to the workers, which own them from then on
};

struct Server::Impl final : admin::AdminModel {
    struct Worker {
        std::unique_ptr<WorkerContext> ctx;
        std::thread thread;
    };

    std::shared_ptr<const config::Config> cfg;
    std::shared_ptr<const Snapshot> snapshot;
    asio::io_context control;
    EventLog event_log;
    unsigned threads;
    MetricsStore metrics;
    upstream::ControlPlane plane;
    WorkerShared shared;
    std::unique_ptr<AccessLogWriter> access_log;
    std::vector<std::unique_ptr<Worker>> workers;
    std::map<std::string, std::uint32_t> slots; // listener name -> slot, for the process's life
    std::map<std::string, BoundListener> bound; // by listener name
    bool started = false;

    explicit Impl(std::shared_ptr<const config::Config> c);
    static unsigned thread_count(const config::Config& c) {
        return c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
    }
    void publish(std::shared_ptr<const upstream::HostSet> set);
    BoundListener bind(const config::Listener& l);
    void hand_to_workers(const BoundListener& b);
    void start_workers();
    // Runs the control thread until every server has had its first check (bounded).
    void warm_up();
    std::vector<std::string> reload() override;
    net::awaitable<void> drain();
    void stop_workers();
    std::uint64_t open_connections() const;

    // --- admin (server_admin.cpp)
    struct ListenerSlo {
        std::unique_ptr<admin::SloTracker> tracker;
        admin::TrafficTotals last;
        TimePoint last_at{};
        double rps = 0;
        double error_rate = 0;
    };
    TimePoint started_at{};
    std::unique_ptr<admin::Api> api;
    std::unique_ptr<admin::HttpServer> admin_http;
    asio::ip::tcp::endpoint admin_endpoint;
    std::map<std::string, ListenerSlo> slos; // by listener name
    std::unique_ptr<asio::steady_timer> sampler;

    void start_admin();
    void update_slo_targets();
    void sample_traffic();
    admin::TrafficTotals listener_totals(const ListenerMetrics& m) const;

    upstream::ControlPlane& control_plane() override { return plane; }
    EventLog& events() override { return event_log; }
    std::shared_ptr<const config::Config> config() const override { return cfg; }
    void collect(admin::metrics::Exposition& out) override; // server_metrics.cpp
    void slo_metrics(admin::metrics::Exposition& out);
    std::vector<admin::ListenerStatus> listeners() override;
    bool ready() override;
    std::vector<admin::HealthCheckResult> deep_health() override;
    double uptime_seconds() override;
};


} // namespace haven::proxy
