#include "proxy/server.hpp"

#include "config/yaml_loader.hpp"
#include "net/address.hpp"
#include "net/listener.hpp"
#include "net/socket_options.hpp"
#include "proxy/access_log.hpp"
#include "proxy/http_session.hpp"
#include "proxy/tcp_session.hpp"
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

void log_coroutine_exception(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("connection handler failed: {}", ex.what());
    }
}

// Accepts connections for one listener on one worker. At max_connections the longest-idle
// keep-alive (or header-waiting) connection of this worker is closed to make room; when none is
// idle the new connection is refused (closed at once) rather than left to starve.
net::awaitable<void> accept_loop(WorkerContext& w, asio::ip::tcp::acceptor& acceptor, std::uint32_t listener) {
    const config::ListenerMode mode = w.config().listeners[listener].mode;
    for (;;) {
        auto [ec, sock] = co_await acceptor.async_accept(net::use_nothrow);
        if (ec) {
            if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
            // Out of file descriptors or memory: back off instead of spinning.
            asio::steady_timer pause(w.io, std::chrono::milliseconds(100));
            co_await pause.async_wait(net::use_nothrow);
            continue;
        }
        const std::uint32_t open = w.shared.connections.fetch_add(1, std::memory_order_relaxed) + 1;
        if (open > w.config().limits.max_connections && !w.evict_idle_session()) {
            w.shared.connections.fetch_sub(1, std::memory_order_relaxed);
            w.stats.connections_rejected.inc();
            asio::error_code ignored;
            sock.close(ignored);
            continue;
        }
        w.stats.connections_accepted.inc();
        net::set_stream_options(sock);
        if (mode == config::ListenerMode::Http) {
            HttpSession::start(w, std::move(sock), listener);
        } else {
            asio::co_spawn(w.io, TcpSession::serve(w, std::move(sock), listener), log_coroutine_exception);
        }
    }
}

bool same_listeners(const config::Config& a, const config::Config& b) {
    if (a.listeners.size() != b.listeners.size()) return false;
    for (std::size_t i = 0; i < a.listeners.size(); ++i) {
        const auto& x = a.listeners[i];
        const auto& y = b.listeners[i];
        if (x.name != y.name || x.listen.text != y.listen.text || x.mode != y.mode) return false;
    }
    return a.threads == b.threads;
}

} // namespace

struct Server::Impl {
    struct Worker {
        std::unique_ptr<WorkerContext> ctx;
        std::vector<asio::ip::tcp::acceptor> acceptors;
        std::thread thread;
    };

    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const Snapshot> snapshot;
    asio::io_context control;
    EventLog events;
    upstream::ControlPlane control_plane;
    WorkerShared shared;
    std::unique_ptr<AccessLogWriter> access_log;
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> bound;

    explicit Impl(std::shared_ptr<const config::Config> cfg);
    void publish(std::shared_ptr<const upstream::HostSet> set);
    void bind_listeners();
    void start_workers();
    void reload();
    net::awaitable<void> drain();
    void stop_workers();
    std::uint64_t open_connections() const;
};

Server::Impl::Impl(std::shared_ptr<const config::Config> cfg)
    : config(std::move(cfg)), control_plane(control, events, [this](auto set) { publish(std::move(set)); }) {
    control_plane.configure(*config);
    snapshot = Snapshot::build(config, control_plane.snapshots());
    unsigned n = config->threads ? config->threads : std::max(1u, std::thread::hardware_concurrency());
    if (config->access_log.enabled) access_log = std::make_unique<AccessLogWriter>(config->access_log.path, n);
    for (unsigned i = 0; i < n; ++i) {
        auto w = std::make_unique<Worker>();
        w->ctx = std::make_unique<WorkerContext>(i, snapshot, shared, access_log ? &access_log->ring(i) : nullptr);
        workers.push_back(std::move(w));
    }
    bind_listeners();
}

// A pool's new state goes to every worker (on its own thread, at its next tick).
void Server::Impl::publish(std::shared_ptr<const upstream::HostSet> set) {
    for (auto& w : workers) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx, set] { ctx->apply_pool(set); });
    }
}

// Every worker gets its own socket per listener. A port of 0 is resolved by the first bind and the
// other workers join that port.
void Server::Impl::bind_listeners() {
    for (const auto& l : config->listeners) {
        std::string error;
        auto ep = net::resolve(l.listen, error);
        if (!ep) throw std::runtime_error("listener " + l.name + ": " + error);
        for (auto& w : workers) {
            try {
                w->acceptors.push_back(net::open_listener(w->ctx->io, *ep));
            } catch (const std::system_error& e) {
                throw std::runtime_error("listener " + l.name + ": " + e.what());
            }
            ep->port(w->acceptors.back().local_endpoint().port());
        }
        bound.emplace_back(l.name, *ep);
    }
}

void Server::Impl::start_workers() {
    for (auto& wp : workers) {
        Worker& w = *wp;
        WorkerContext& ctx = *w.ctx;
        ctx.deadlines.start([&ctx](TimePoint) {
            ctx.date.refresh(wall_time_us());
            ctx.run_mailbox();
        });
        for (std::uint32_t i = 0; i < w.acceptors.size(); ++i) {
            asio::co_spawn(ctx.io, accept_loop(ctx, w.acceptors[i], i), log_coroutine_exception);
        }
        w.thread = std::thread([&ctx] {
            auto guard = asio::make_work_guard(ctx.io);
            try {
                ctx.io.run();
            } catch (const std::exception& e) {
                spdlog::critical("worker {} failed: {}", ctx.index, e.what());
                std::abort();
            }
        });
    }
}

std::uint64_t Server::Impl::open_connections() const {
    std::uint64_t n = 0;
    for (const auto& w : workers) n += w->ctx->stats.connections_active.get();
    return n;
}

void Server::Impl::reload() {
    spdlog::info("reload: reading {}", config->source);
    auto result = config::load_file(config->source);
    if (!result.config) {
        for (const auto& e : result.errors) spdlog::error("reload refused: {}", e.to_string());
        events.add("reload_failed", "", "", result.errors.empty() ? "invalid" : result.errors.front().to_string());
        return;
    }
    auto next = std::make_shared<const config::Config>(std::move(*result.config));
    if (!same_listeners(*config, *next)) {
        spdlog::error("reload refused: listeners or threads changed; restart haven to apply that");
        events.add("reload_failed", "", "", "listeners or threads changed; restart haven to apply that");
        return;
    }
    try {
        control_plane.configure(*next);
    } catch (const std::exception& e) {
        spdlog::error("reload refused: {}", e.what());
        events.add("reload_failed", "", "", e.what());
        return;
    }
    auto snap = Snapshot::build(next, control_plane.snapshots());
    config = next;
    snapshot = snap;
    for (auto& w : workers) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx, snap] { ctx->apply(snap); });
    }
    spdlog::info("reload: configuration applied");
    events.add("reload", "", "", "configuration applied");
}

// Stops accepting, lets in-flight requests finish (keep-alive connections close after their
// current response), and gives up after timeouts.drain.
net::awaitable<void> Server::Impl::drain() {
    const auto limit = config->timeouts.drain;
    spdlog::info("shutting down: draining {} connection(s) for up to {} ms", open_connections(), limit.count());
    for (auto& w : workers) {
        Worker* wp = w.get();
        wp->ctx->run_soon([wp] {
            for (auto& a : wp->acceptors) {
                asio::error_code ignored;
                a.close(ignored);
            }
            wp->ctx->begin_drain();
        });
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

std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> Server::listening() const { return impl_->bound; }

int Server::run() {
    auto& im = *impl_;
    for (const auto& [name, ep] : im.bound) {
        spdlog::info("listening: {} on {}:{}", name, ep.address().to_string(), ep.port());
    }
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
            asio::co_spawn(im.control, im.drain(), log_coroutine_exception);
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
