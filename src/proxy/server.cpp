#include "proxy/server.hpp"

#include "config/yaml_loader.hpp"
#include "net/address.hpp"
#include "net/io.hpp"
#include "net/listener.hpp"
#include "proxy/access_log.hpp"
#include "proxy/worker_context.hpp"
#include "upstream/control_plane.hpp"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <thread>

namespace haven::proxy {
namespace {

void log_exception(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("control task failed: {}", ex.what());
    }
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

bool same_listener(const config::Listener& a, const config::Listener& b) {
    return a.listen.text == b.listen.text && a.mode == b.mode;
}

} // namespace

// A listener's sockets, one per worker, bound on the control thread.
struct BoundListener {
    std::string name;
    config::Listener config;
    asio::ip::tcp::endpoint endpoint; // the real one (port resolved when the config says 0)
    std::vector<int> fds;             // handed to the workers, which own them from then on
};

struct Server::Impl {
    struct Worker {
        std::unique_ptr<WorkerContext> ctx;
        std::thread thread;
    };

    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const Snapshot> snapshot;
    asio::io_context control;
    EventLog events;
    unsigned threads;
    MetricsStore metrics;
    upstream::ControlPlane control_plane;
    WorkerShared shared;
    std::unique_ptr<AccessLogWriter> access_log;
    std::vector<std::unique_ptr<Worker>> workers;
    std::map<std::string, std::uint32_t> slots; // listener name -> slot, for the process's life
    std::map<std::string, BoundListener> bound; // by listener name
    bool started = false;

    explicit Impl(std::shared_ptr<const config::Config> cfg);
    static unsigned thread_count(const config::Config& c) {
        return c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
    }
    void publish(std::shared_ptr<const upstream::HostSet> set);
    BoundListener bind(const config::Listener& l);
    void hand_to_workers(const BoundListener& b);
    void start_workers();
    std::string reload();
    net::awaitable<void> drain();
    void stop_workers();
    std::uint64_t open_connections() const;
};

Server::Impl::Impl(std::shared_ptr<const config::Config> cfg)
    : config(std::move(cfg)), threads(thread_count(*config)), metrics(threads),
      control_plane(control, events, [this](auto set) { publish(std::move(set)); }, threads) {
    control_plane.configure(*config);
    for (const auto& l : config->listeners) slots.emplace(l.name, static_cast<std::uint32_t>(slots.size()));
    snapshot = Snapshot::build(config, control_plane.snapshots(), slots, metrics);
    if (config->access_log.enabled) access_log = std::make_unique<AccessLogWriter>(config->access_log.path, threads);
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<Worker>();
        w->ctx = std::make_unique<WorkerContext>(i, snapshot, shared, access_log ? &access_log->ring(i) : nullptr);
        workers.push_back(std::move(w));
    }
    for (const auto& l : config->listeners) {
        auto b = bind(l);
        hand_to_workers(b); // workers are not running yet: adopting the sockets here is safe
        bound.emplace(l.name, std::move(b));
    }
}

// A pool's new state goes to every worker (on its own thread, at its next tick).
void Server::Impl::publish(std::shared_ptr<const upstream::HostSet> set) {
    for (auto& w : workers) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx, set] { ctx->apply_pool(set); });
    }
}

BoundListener Server::Impl::bind(const config::Listener& l) {
    std::string error;
    auto ep = net::resolve(l.listen, error);
    if (!ep) throw std::runtime_error("listener " + l.name + ": " + error);
    BoundListener b{l.name, l, *ep, {}};
    try {
        b.fds = net::open_listen_fds(b.endpoint, threads);
    } catch (const std::system_error& e) {
        throw std::runtime_error("listener " + l.name + ": " + e.what());
    }
    return b;
}

void Server::Impl::hand_to_workers(const BoundListener& b) {
    const std::uint32_t slot = slots.at(b.name);
    const bool v6 = b.endpoint.address().is_v6();
    for (std::size_t i = 0; i < workers.size(); ++i) {
        WorkerContext* ctx = workers[i]->ctx.get();
        const int fd = b.fds[i];
        if (started) {
            ctx->run_soon([ctx, slot, fd, v6] { ctx->add_listener(slot, fd, v6); });
        } else {
            ctx->add_listener(slot, fd, v6);
        }
    }
}

void Server::Impl::start_workers() {
    for (auto& wp : workers) {
        WorkerContext& ctx = *wp->ctx;
        ctx.deadlines.start([&ctx](TimePoint) {
            ctx.date.refresh(wall_time_us());
            ctx.run_mailbox();
        });
        wp->thread = std::thread([&ctx] {
            auto guard = asio::make_work_guard(ctx.io);
            try {
                ctx.io.run();
            } catch (const std::exception& e) {
                spdlog::critical("worker {} failed: {}", ctx.index, e.what());
                std::abort();
            }
        });
    }
    started = true;
}

std::uint64_t Server::Impl::open_connections() const {
    std::uint64_t n = 0;
    for (const auto& w : workers) n += w->ctx->stats.connections_active.get();
    return n;
}

// Reloads the file. Nothing changes unless everything can: the new config must load, every new
// listener must bind, every server address must resolve. Returns "" on success, else the reason.
std::string Server::Impl::reload() {
    spdlog::info("reload: reading {}", config->source);
    auto result = config::load_file(config->source);
    if (!result.config) {
        std::string why = result.errors.empty() ? "invalid configuration" : result.errors.front().to_string();
        for (const auto& e : result.errors) spdlog::error("reload refused: {}", e.to_string());
        events.add("reload_failed", "", "", why);
        return why;
    }
    auto next = std::make_shared<const config::Config>(std::move(*result.config));
    const auto refuse = [&](const std::string& why) {
        spdlog::error("reload refused: {}", why);
        events.add("reload_failed", "", "", why);
        return why;
    };
    if (thread_count(*next) != threads) return refuse("threads changed; restart haven to apply that");
    // Listeners to add (new name, or an existing name on a new address or mode) and to remove.
    std::vector<BoundListener> added;
    std::vector<std::string> removed;
    for (const auto& [name, b] : bound) {
        const auto* keep = [&]() -> const config::Listener* {
            for (const auto& l : next->listeners) {
                if (l.name == name && same_listener(l, b.config)) return &l;
            }
            return nullptr;
        }();
        if (!keep) removed.push_back(name);
    }
    try {
        for (const auto& l : next->listeners) {
            const auto it = bound.find(l.name);
            if (it == bound.end() || !same_listener(l, it->second.config)) added.push_back(bind(l));
        }
        control_plane.configure(*next);
    } catch (const std::exception& e) {
        for (auto& b : added) net::close_fds(b.fds);
        return refuse(e.what());
    }
    for (const auto& b : added) slots.emplace(b.name, static_cast<std::uint32_t>(slots.size()));
    auto snap = Snapshot::build(next, control_plane.snapshots(), slots, metrics);
    config = next;
    snapshot = snap;
    for (auto& w : workers) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx, snap] { ctx->apply(snap); });
    }
    for (const auto& name : removed) {
        const std::uint32_t slot = slots.at(name);
        for (auto& w : workers) {
            WorkerContext* ctx = w->ctx.get();
            ctx->run_soon([ctx, slot] { ctx->remove_listener(slot); });
        }
        spdlog::info("stopped listening: {}", name);
        bound.erase(name);
    }
    for (auto& b : added) {
        hand_to_workers(b);
        spdlog::info("listening: {} on {}", b.name, endpoint_text(b.endpoint));
        bound.erase(b.name);
        bound.emplace(b.name, std::move(b));
    }
    spdlog::info("reload: configuration applied");
    events.add("reload", "", "", "configuration applied");
    return "";
}

// Stops accepting, lets in-flight requests finish (keep-alive connections close after their
// current response), and gives up after timeouts.drain.
net::awaitable<void> Server::Impl::drain() {
    const auto limit = config->timeouts.drain;
    spdlog::info("shutting down: draining {} connection(s) for up to {} ms", open_connections(), limit.count());
    for (auto& w : workers) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx] { ctx->begin_drain(); });
    }
    asio::steady_timer tick(control);
    const auto give_up = SystemClock::instance().now() + limit;
    while (open_connections() > 0 && SystemClock::instance().now() < give_up) {
        tick.expires_after(std::chrono::milliseconds(20));
        co_await tick.async_wait(net::use_nothrow);
    }
    if (const auto left = open_connections()) spdlog::warn("drain timeout: closing {} connection(s)", left);
    control_plane.stop();
    stop_workers();
    control.stop();
}

void Server::Impl::stop_workers() {
    for (auto& w : workers) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx] { ctx->shut_down(); });
    }
    for (auto& w : workers) {
        if (w->thread.joinable()) w->thread.join();
    }
}

Server::Server(std::shared_ptr<const config::Config> config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() {
    if (impl_) impl_->stop_workers();
}

std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> Server::listening() const {
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> out;
    for (const auto& l : impl_->config->listeners) out.emplace_back(l.name, impl_->bound.at(l.name).endpoint);
    return out;
}

int Server::run() {
    auto& im = *impl_;
    for (const auto& [name, ep] : listening()) spdlog::info("listening: {} on {}", name, endpoint_text(ep));
    // Signal handlers first: a SIGTERM the instant haven says it is ready must drain, not kill.
    asio::signal_set signals(im.control, SIGINT, SIGTERM, SIGHUP);
    bool stopping = false;
    std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            im.reload();
        } else if (!stopping) {
            stopping = true;
            spdlog::info("received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            asio::co_spawn(im.control, im.drain(), log_exception);
        }
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    im.start_workers();
    im.control_plane.start();
    spdlog::info("haven ready: {} worker thread(s)", im.workers.size());
    im.control.run();
    spdlog::info("stopped");
    return 0;
}

} // namespace haven::proxy
