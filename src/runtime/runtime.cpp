#include "runtime/runtime.hpp"

#include "config/yaml_loader.hpp"
#include "core/log_exception.hpp"
#include "net/address.hpp"

#include <asio/co_spawn.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ranges>

namespace haven::runtime {

Runtime::Runtime(std::shared_ptr<const config::Config> config) : cfg_(std::move(config)) {
    const auto threads = proxy::DataPlane::thread_count(*cfg_);
    // The control plane publishes each pool's new state to the data plane's workers. States it
    // publishes while the data plane does not exist yet are in its snapshots, which build it.
    auto publish = [this](std::shared_ptr<const upstream::HostSet> set) {
        if (proxy_) proxy_->data().publish(std::move(set));
    };
    policies_ = std::make_unique<policy::PolicyStore>(threads, cfg_->shared_state.has_value());
    upstream_ = std::make_unique<UpstreamSubsystem>(control_, events_, std::move(publish), cfg_, threads);
    proxy_ = std::make_unique<ProxySubsystem>(cfg_, upstream_->plane(), *policies_);
    slo_ = std::make_unique<SloSubsystem>(control_, upstream_->plane().scheduler(), proxy_->data());
    policy_ = std::make_unique<PolicySubsystem>(upstream_->plane().scheduler(), events_, *policies_);
    process_ = std::make_unique<ProcessSection>(events_, [this] { return cfg_; });
    supervisor_ = std::make_unique<SupervisorSubsystem>(control_, upstream_->plane().scheduler(), events_,
                                                        upstream_->plane(), *cfg_);
    dns_ = std::make_unique<DnsSubsystem>(control_, events_, upstream_->plane(), *cfg_);
    shared_ = std::make_unique<SharedSubsystem>(control_, events_, upstream_->plane(), *policies_, *cfg_);
    // A new subsystem is constructed above and added to these two lists. The order is the order
    // of every step (start, warm-up, serve, reload's commit) and, reversed, of shutdown: the
    // control plane before the workers it feeds, the workers before what reads their counters.
    subsystems_ = {upstream_.get(), shared_.get(), supervisor_.get(), dns_.get(), proxy_.get(), slo_.get(), policy_.get()};
    sections_ = {proxy_.get(), upstream_.get(), slo_.get(), policy_.get(), supervisor_.get(), dns_.get(),
                 shared_.get(), process_.get()};
    start_admin();
}

Runtime::~Runtime() {
    if (proxy_) proxy_->stop();
}

void Runtime::start_admin() {
    if (!cfg_->admin) return;
    api_ = std::make_unique<admin::Api>(*this, cfg_->admin->token);
    admin_http_ = std::make_unique<admin::HttpServer>(control_, [this](const admin::Request& r) { return api_->handle(r); });
    std::string error;
    const auto ep = net::resolve(cfg_->admin->listen, error);
    if (!ep) throw std::runtime_error("admin: " + error);
    admin_endpoint_ = admin_http_->listen(*ep);
}

bool Runtime::ready() {
    if (!serving_) return false;
    for (const auto* s : sections_) {
        if (!s->ready()) return false;
    }
    return true;
}

double Runtime::uptime_seconds() { return to_seconds(upstream_->plane().scheduler().now() - started_at_); }

std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> Runtime::listening() const {
    return proxy_->data().listening();
}

std::optional<asio::ip::tcp::endpoint> Runtime::admin_listening() const {
    if (!admin_http_) return std::nullopt;
    return admin_endpoint_;
}

// Reloads the file. Nothing changes unless everything can: the new config must load, and every
// subsystem must be able to take it (listeners bind, servers resolve). Returns every reason it
// was refused (empty on success).
std::vector<std::string> Runtime::reload() {
    for (auto* s : subsystems_) s->reload_begins();
    struct Ends {
        const std::vector<Subsystem*>& all;
        ~Ends() {
            for (auto* s : all) s->reload_ends();
        }
    } ends{subsystems_};
    spdlog::info("reload: reading {}", cfg_->source);
    auto result = config::load_file(cfg_->source);
    std::vector<std::string> errors;
    const auto refuse = [&](std::vector<std::string> why) {
        for (const auto& e : why) spdlog::error("reload refused: {}", e);
        events_.add("reload_failed", "", "",
                    why.size() == 1 ? why.front() : fmt::format("{} (and {} more)", why.front(), why.size() - 1));
        return why;
    };
    if (!result.config) {
        for (const auto& e : result.errors) errors.push_back(e.to_string());
        if (errors.empty()) errors.push_back("invalid configuration");
        return refuse(std::move(errors));
    }
    auto next = std::make_shared<const config::Config>(std::move(*result.config));
    if (!cfg_->admin != !next->admin || (cfg_->admin && next->admin->listen.text != cfg_->admin->listen.text)) {
        errors.push_back("admin listener added, removed or moved; restart haven to apply that");
    }
    for (auto* s : subsystems_) s->prepare(*next, errors);
    if (!errors.empty()) {
        for (auto* s : subsystems_) s->abort();
        return refuse(std::move(errors));
    }
    cfg_ = next;
    for (auto* s : subsystems_) s->commit(next);
    if (api_) api_->set_token(cfg_->admin->token);
    spdlog::info("reload: configuration applied");
    events_.add("reload", "", "", "configuration applied");
    return {};
}

// Envoy warms clusters before its listeners serve; haven lets every subsystem warm up (the first
// round of health checks, supervised replicas starting) before its workers accept a connection,
// so the first requests do not go to a server that is down. The listening sockets are bound
// already: a client that connects meanwhile waits in the accept queue, it is not refused. Bounded
// by the longest warm_up_limit() (the control plane's: the longest check timeout + 500 ms), so a
// check that hangs cannot hold up the start; /ready answers 503 until the round is done.
void Runtime::warm_up() {
    const auto& clock = SystemClock::instance();
    const auto begin = clock.now();
    Duration limit = Duration::zero();
    for (const auto* s : subsystems_) limit = std::max(limit, s->warm_up_limit());
    const auto warming = [this] {
        return std::any_of(subsystems_.begin(), subsystems_.end(), [](const Subsystem* s) { return s->warming(); });
    };
    while (warming() && !control_.stopped() && clock.now() < begin + limit) {
        control_.run_one_for(std::chrono::milliseconds(10));
    }
    if (control_.stopped()) return;
    const auto took = clock.now() - begin;
    for (auto* s : subsystems_) {
        if (s->warm_up_limit() > Duration::zero()) s->warmed_up(took, !s->warming());
    }
}

// Stops accepting, lets in-flight requests finish (keep-alive connections close after their
// current response), gives up after timeouts.drain, then stops every subsystem, last one first.
net::awaitable<void> Runtime::drain() {
    auto& data = proxy_->data();
    const auto limit = cfg_->timeouts.drain;
    spdlog::info("shutting down: draining {} connection(s) for up to {} ms", data.open_connections(), limit.count());
    for (auto* s : subsystems_ | std::views::reverse) s->begin_drain();
    asio::steady_timer tick(control_);
    const auto give_up = SystemClock::instance().now() + limit;
    while (data.open_connections() > 0 && SystemClock::instance().now() < give_up) {
        tick.expires_after(std::chrono::milliseconds(20));
        co_await tick.async_wait(net::use_nothrow);
    }
    if (const auto left = data.open_connections()) spdlog::warn("drain timeout: closing {} connection(s)", left);
    if (admin_http_) admin_http_->stop();
    for (auto* s : subsystems_ | std::views::reverse) s->stop();
    control_.stop();
}

int Runtime::run() {
    for (const auto& [name, ep] : listening()) spdlog::info("listening: {} on {}", name, net::endpoint_text(ep));
    if (admin_http_) spdlog::info("listening: admin on {}", net::endpoint_text(admin_endpoint_));
    started_at_ = upstream_->plane().scheduler().now();
    // Signal handlers first: a SIGTERM the instant haven says it is ready must drain, not kill.
    asio::signal_set signals(control_, SIGINT, SIGTERM, SIGHUP);
    bool stopping = false;
    std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            reload();
        } else if (!stopping) {
            stopping = true;
            spdlog::info("received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            asio::co_spawn(control_, drain(), [](std::exception_ptr e) { log_exception(e, "shutdown"); });
        }
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    // Start (subsystem.hpp): every subsystem starts, warms up, then serves, in registration order.
    for (auto* s : subsystems_) s->start();
    warm_up();
    if (!control_.stopped()) {
        for (auto* s : subsystems_) s->serve();
        serving_ = true;
        spdlog::info("haven ready: {} worker thread(s)", proxy_->data().workers().size());
        for (auto* s : subsystems_) s->serving();
        if (on_ready) on_ready();
    }
    control_.run();
    spdlog::info("stopped");
    return 0;
}

} // namespace haven::runtime
