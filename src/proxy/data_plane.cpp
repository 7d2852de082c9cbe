#include "proxy/data_plane.hpp"

#include "core/log_exception.hpp"
#include "net/address.hpp"
#include "net/listener.hpp"

#include <asio/executor_work_guard.hpp>
#include <spdlog/spdlog.h>

namespace haven::proxy {
namespace {

bool same_listener(const config::Listener& a, const config::Listener& b) {
    return a.listen.text == b.listen.text && a.mode == b.mode;
}

} // namespace

DataPlane::DataPlane(std::shared_ptr<const config::Config> config, PoolSets pools, policy::PolicyStore& policies)
    : cfg_(std::move(config)), policies_(policies), threads_(thread_count(*cfg_)), metrics_(threads_) {
    for (const auto& l : cfg_->listeners) slots_.emplace(l.name, static_cast<std::uint32_t>(slots_.size()));
    snapshot_ = Snapshot::build(cfg_, std::move(pools), slots_, metrics_, policies_);
    if (cfg_->access_log.enabled) access_log_ = std::make_unique<AccessLogWriter>(cfg_->access_log.path, threads_);
    for (unsigned i = 0; i < threads_; ++i) {
        auto w = std::make_unique<Worker>();
        w->ctx = std::make_unique<WorkerContext>(i, snapshot_, shared_, access_log_ ? &access_log_->ring(i) : nullptr);
        workers_.push_back(std::move(w));
    }
    for (const auto& l : cfg_->listeners) {
        auto b = bind(l);
        hand_to_workers(b); // workers are not running yet: adopting the sockets here is safe
        bound_.emplace(l.name, std::move(b));
    }
}

DataPlane::~DataPlane() { stop(); }

void DataPlane::publish(std::shared_ptr<const upstream::HostSet> set) {
    for (auto& w : workers_) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx, set] { ctx->apply_pool(set); });
    }
}

BoundListener DataPlane::bind(const config::Listener& l) {
    std::string error;
    auto ep = net::resolve(l.listen, error);
    if (!ep) throw std::runtime_error("listener " + l.name + ": " + error);
    BoundListener b{l.name, l, *ep, {}};
    // A reload may move a listener to a name or mode on an address this process already holds.
    bool ours = false;
    for (const auto& [name, held] : bound_) ours = ours || (b.endpoint.port() != 0 && held.endpoint == b.endpoint);
    try {
        b.fds = net::open_listen_fds(b.endpoint, threads_, 4096, ours);
    } catch (const std::system_error& e) {
        throw std::runtime_error("listener " + l.name + ": " + e.what());
    }
    return b;
}

void DataPlane::hand_to_workers(const BoundListener& b) {
    const std::uint32_t slot = slots_.at(b.name);
    const bool v6 = b.endpoint.address().is_v6();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        WorkerContext* ctx = workers_[i]->ctx.get();
        const int fd = b.fds[i];
        if (started_) {
            ctx->run_soon([ctx, slot, fd, v6] { ctx->add_listener(slot, fd, v6); });
        } else {
            ctx->add_listener(slot, fd, v6);
        }
    }
}

void DataPlane::prepare(const config::Config& next, std::vector<std::string>& errors) {
    abort(); // a prepare that was never committed
    if (thread_count(next) != threads_) errors.push_back("threads changed; restart haven to apply that");
    // Listeners to add (new name, or an existing name on a new address or mode) and to remove.
    for (const auto& [name, b] : bound_) {
        bool kept = false;
        for (const auto& l : next.listeners) kept = kept || (l.name == name && same_listener(l, b.config));
        if (!kept) removed_.push_back(name);
    }
    for (const auto& l : next.listeners) {
        const auto it = bound_.find(l.name);
        if (it != bound_.end() && same_listener(l, it->second.config)) continue;
        try {
            added_.push_back(bind(l));
        } catch (const std::exception& e) {
            errors.push_back(e.what()); // go on: every listener that cannot bind is reported
        }
    }
}

void DataPlane::abort() {
    for (auto& b : added_) net::close_fds(b.fds);
    added_.clear();
    removed_.clear();
}

void DataPlane::commit(std::shared_ptr<const config::Config> next, PoolSets pools) {
    for (const auto& b : added_) slots_.emplace(b.name, static_cast<std::uint32_t>(slots_.size()));
    auto snap = Snapshot::build(next, std::move(pools), slots_, metrics_, policies_);
    cfg_ = std::move(next);
    snapshot_ = snap;
    for (auto& w : workers_) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx, snap] { ctx->apply(snap); });
    }
    for (const auto& name : removed_) {
        const std::uint32_t slot = slots_.at(name);
        for (auto& w : workers_) {
            WorkerContext* ctx = w->ctx.get();
            ctx->run_soon([ctx, slot] { ctx->remove_listener(slot); });
        }
        spdlog::info("stopped listening: {}", name);
        bound_.erase(name);
    }
    for (auto& b : added_) {
        hand_to_workers(b);
        spdlog::info("listening: {} on {}", b.name, net::endpoint_text(b.endpoint));
        bound_.erase(b.name);
        bound_.emplace(b.name, std::move(b));
    }
    added_.clear();
    removed_.clear();
}

void DataPlane::start() {
    for (auto& wp : workers_) {
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
    started_ = true;
}

void DataPlane::begin_drain() {
    for (auto& w : workers_) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx] { ctx->begin_drain(); });
    }
}

std::uint64_t DataPlane::open_connections() const {
    std::uint64_t n = 0;
    for (const auto& w : workers_) n += w->ctx->stats.connections_active.get();
    return n;
}

void DataPlane::stop() {
    for (auto& w : workers_) {
        WorkerContext* ctx = w->ctx.get();
        ctx->run_soon([ctx] { ctx->shut_down(); });
    }
    for (auto& w : workers_) {
        if (w->thread.joinable()) w->thread.join();
    }
}

std::vector<const WorkerContext*> DataPlane::workers() const {
    std::vector<const WorkerContext*> out;
    for (const auto& w : workers_) out.push_back(w->ctx.get());
    return out;
}

std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> DataPlane::listening() const {
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> out;
    for (const auto& l : cfg_->listeners) out.emplace_back(l.name, bound_.at(l.name).endpoint);
    return out;
}

} // namespace haven::proxy
