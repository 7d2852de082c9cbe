#include "proxy/server.hpp"

#include "proxy/server_impl.hpp"

#include "config/yaml_loader.hpp"
#include "core/log_exception.hpp"
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

bool same_listener(const config::Listener& a, const config::Listener& b) {
    return a.listen.text == b.listen.text && a.mode == b.mode;
}

} // namespace

Server::Impl::Impl(std::shared_ptr<const config::Config> c)
    : cfg(std::move(c)), threads(thread_count(*cfg)), metrics(threads),
      plane(control, event_log, [this](auto set) { publish(std::move(set)); }, threads) {
    plane.configure(*cfg);
    for (const auto& l : cfg->listeners) slots.emplace(l.name, static_cast<std::uint32_t>(slots.size()));
    snapshot = Snapshot::build(cfg, plane.snapshots(), slots, metrics);
    if (cfg->access_log.enabled) access_log = std::make_unique<AccessLogWriter>(cfg->access_log.path, threads);
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<Worker>();
        w->ctx = std::make_unique<WorkerContext>(i, snapshot, shared, access_log ? &access_log->ring(i) : nullptr);
        workers.push_back(std::move(w));
    }
    for (const auto& l : cfg->listeners) {
        auto b = bind(l);
        hand_to_workers(b); // workers are not running yet: adopting the sockets here is safe
        bound.emplace(l.name, std::move(b));
    }
    update_slo_targets();
    start_admin();
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
    // A reload may move a listener to a name or mode on an address this process already holds.
    bool ours = false;
    for (const auto& [name, held] : bound) ours = ours || (b.endpoint.port() != 0 && held.endpoint == b.endpoint);
    try {
        b.fds = net::open_listen_fds(b.endpoint, threads, 4096, ours);
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
        ctx.heartbeat_us.store(wall_time_us(), std::memory_order_relaxed);
        ctx.deadlines.start([&ctx](TimePoint) {
            const auto now = wall_time_us();
            ctx.heartbeat_us.store(now, std::memory_order_relaxed);
            ctx.date.refresh(now);
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

// Envoy warms clusters before its listeners serve; haven checks every server once before its
// workers accept a connection, so the first requests do not go to a server that is down. The
// listening sockets are bound already: a client that connects meanwhile waits in the accept
// queue, it is not refused. Bounded by the longest check timeout (+ 500 ms), so a check that
// hangs cannot hold up the start; /ready answers 503 until the round is done.
void Server::Impl::warm_up() {
    const auto& clock = SystemClock::instance();
    const auto begin = clock.now();
    const auto until = begin + plane.longest_check_timeout() + std::chrono::milliseconds(500);
    while (!plane.first_round_done() && !control.stopped() && clock.now() < until) {
        control.run_one_for(std::chrono::milliseconds(10));
    }
    const auto took = to_ms(clock.now() - begin);
    if (plane.first_round_done()) {
        spdlog::info("health: first round of checks done in {:.0f} ms", took);
    } else if (!control.stopped()) {
        spdlog::warn("health: some first checks had no result after {:.0f} ms; starting with what is known", took);
    }
}

std::uint64_t Server::Impl::open_connections() const {
    std::uint64_t n = 0;
    for (const auto& w : workers) n += w->ctx->stats.connections_active.get();
    return n;
}

// Reloads the file. Nothing changes unless everything can: the new config must load, every new
// listener must bind, every server address must resolve. Returns every reason it was refused
// (empty on success).
std::vector<std::string> Server::Impl::reload() {
    spdlog::info("reload: reading {}", cfg->source);
    auto result = config::load_file(cfg->source);
    std::vector<std::string> errors;
    const auto refuse = [&](std::vector<std::string> why) {
        for (const auto& e : why) spdlog::error("reload refused: {}", e);
        event_log.add("reload_failed", "", "",
                      why.size() == 1 ? why.front() : fmt::format("{} (and {} more)", why.front(), why.size() - 1));
        return why;
    };
    if (!result.config) {
        for (const auto& e : result.errors) errors.push_back(e.to_string());
        if (errors.empty()) errors.push_back("invalid configuration");
        return refuse(std::move(errors));
    }
    auto next = std::make_shared<const config::Config>(std::move(*result.config));
    if (thread_count(*next) != threads) errors.push_back("threads changed; restart haven to apply that");
    if (!cfg->admin != !next->admin || (cfg->admin && next->admin->listen.text != cfg->admin->listen.text)) {
        errors.push_back("admin listener added, removed or moved; restart haven to apply that");
    }
    if (!errors.empty()) return refuse(std::move(errors));
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
    for (const auto& l : next->listeners) {
        const auto it = bound.find(l.name);
        if (it != bound.end() && same_listener(l, it->second.config)) continue;
        try {
            added.push_back(bind(l));
        } catch (const std::exception& e) {
            errors.push_back(e.what()); // go on: every listener that cannot bind is reported
        }
    }
    if (errors.empty()) {
        try {
            plane.configure(*next);
        } catch (const std::exception& e) {
            errors.push_back(e.what());
        }
    }
    if (!errors.empty()) {
        for (auto& b : added) net::close_fds(b.fds);
        return refuse(std::move(errors));
    }
    for (const auto& b : added) slots.emplace(b.name, static_cast<std::uint32_t>(slots.size()));
    auto snap = Snapshot::build(next, plane.snapshots(), slots, metrics);
    cfg = next;
    snapshot = snap;
    update_slo_targets();
    if (api) api->set_token(cfg->admin->token);
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
        spdlog::info("listening: {} on {}", b.name, net::endpoint_text(b.endpoint));
        bound.erase(b.name);
        bound.emplace(b.name, std::move(b));
    }
    spdlog::info("reload: configuration applied");
    event_log.add("reload", "", "", "configuration applied");
    return {};
}

// Stops accepting, lets in-flight requests finish (keep-alive connections close after their
// current response), and gives up after timeouts.drain.
net::awaitable<void> Server::Impl::drain() {
    const auto limit = cfg->timeouts.drain;
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
    if (admin_http) admin_http->stop();
    if (sampler) sampler->cancel();
    plane.stop();
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
    for (const auto& l : impl_->cfg->listeners) out.emplace_back(l.name, impl_->bound.at(l.name).endpoint);
    return out;
}

std::optional<asio::ip::tcp::endpoint> Server::admin_listening() const {
    if (!impl_->admin_http) return std::nullopt;
    return impl_->admin_endpoint;
}

int Server::run() {
    auto& im = *impl_;
    for (const auto& [name, ep] : listening()) spdlog::info("listening: {} on {}", name, net::endpoint_text(ep));
    if (im.admin_http) spdlog::info("listening: admin on {}", net::endpoint_text(im.admin_endpoint));
    im.started_at = im.plane.scheduler().now();
    im.sampler = std::make_unique<asio::steady_timer>(im.control);
    im.sample_traffic();
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
            asio::co_spawn(im.control, im.drain(), [](std::exception_ptr e) { log_exception(e, "shutdown"); });
        }
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    im.plane.start();
    im.warm_up();
    if (!im.control.stopped()) {
        im.start_workers();
        spdlog::info("haven ready: {} worker thread(s)", im.workers.size());
    }
    im.control.run();
    spdlog::info("stopped");
    return 0;
}

} // namespace haven::proxy
