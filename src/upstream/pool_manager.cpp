#include "upstream/pool_manager.hpp"

#include <algorithm>

namespace haven::upstream {

PoolRuntime::PoolRuntime(std::shared_ptr<const HostSet> set, DeadlineList& deadlines, Random& random, std::size_t worker)
    : set_(std::move(set)), deadlines_(deadlines), random_(random), worker_(worker) {
    active_.assign(set_->hosts.size(), 0);
    for (HostIndex i = 0; i < set_->hosts.size(); ++i) {
        auto* r = new HostRuntime(make_conn_pool());
        r->index = i;
        r->info = &set_->hosts[i];
        r->metrics = r->info->metrics;
        hosts_.push_back(r);
    }
    lb_ = make_load_balancer(set_->balance, active_, random_);
    lb_->set_hosts(set_->eligible);
    budget_.set(set_->budget);
}

PoolRuntime::~PoolRuntime() {
    for (auto* r : hosts_) retire(r);
}

std::unique_ptr<ConnPool> PoolRuntime::make_conn_pool() const {
    return std::make_unique<ConnPool>(deadlines_, set_->keepalive.max_idle,
                                      std::chrono::duration_cast<Duration>(set_->keepalive.idle_timeout));
}

void PoolRuntime::retire(HostRuntime* r) {
    r->index = kNoHost;
    r->info = nullptr;
    r->conns->clear();
    if (r->leases == 0) delete r;
}

void PoolRuntime::update(std::shared_ptr<const HostSet> set) {
    const auto old = std::move(set_);
    set_ = std::move(set);
    std::vector<HostRuntime*> next(set_->hosts.size(), nullptr);
    ActiveCounts active(set_->hosts.size(), 0);
    for (HostIndex i = 0; i < set_->hosts.size(); ++i) {
        const auto& h = set_->hosts[i];
        for (auto*& r : hosts_) {
            if (r && r->info->name == h.name && r->info->endpoint == h.endpoint) {
                next[i] = r;
                r = nullptr;
                break;
            }
        }
        if (!next[i]) next[i] = new HostRuntime(make_conn_pool());
        next[i]->index = i;
        next[i]->info = &h;
        next[i]->metrics = h.metrics;
        // Idle connections made under other TLS settings (or none) are not reused.
        if (old->tls != set_->tls) next[i]->conns->clear();
        next[i]->conns->set_limits(set_->keepalive.max_idle,
                                   std::chrono::duration_cast<Duration>(set_->keepalive.idle_timeout));
        active[i] = next[i]->active;
    }
    for (auto* r : hosts_) {
        if (r) retire(r); // servers that left the pool
    }
    hosts_ = std::move(next);
    active_ = std::move(active);
    if (old->balance != set_->balance) lb_ = make_load_balancer(set_->balance, active_, random_);
    // A refusal stays in force until a check answered it (the control thread counts it in
    // refusals_cleared), whatever else this snapshot changed.
    refused_count_ = 0;
    for (HostIndex i = 0; i < hosts_.size(); ++i) {
        auto& r = *hosts_[i];
        if (r.refused_seq != 0 && r.refused_seq <= set_->hosts[i].refusals_cleared) r.refused_seq = 0;
        if (r.refused_seq != 0) ++refused_count_;
    }
    rebuild_balancer();
    budget_.set(set_->budget);
}

void PoolRuntime::rebuild_balancer() {
    refused_eligible_ = 0;
    if (refused_count_ == 0) {
        lb_->set_hosts(set_->eligible);
        return;
    }
    std::vector<LbEntry> usable;
    usable.reserve(set_->eligible.size());
    for (const auto& e : set_->eligible) {
        if (hosts_[e.host]->refused_seq == 0) usable.push_back(e);
    }
    refused_eligible_ = set_->eligible.size() - usable.size();
    lb_->set_hosts(usable);
}

void PoolRuntime::on_refused(HostRuntime* rt) {
    // A server that left the pool meanwhile (reload) is no longer picked anyway.
    if (rt->index == kNoHost) return;
    auto& r = *rt;
    const std::uint64_t seq = r.info->signals->on_refused();
    if (r.counters) r.counters->refused_marks.inc();
    const bool newly = r.refused_seq == 0;
    r.refused_seq = seq;
    if (!newly) return; // requests already on their way there: the balancer already skips it
    ++refused_count_;
    rebuild_balancer();
}

HostIndex PoolRuntime::fallback(std::span<const HostIndex> exclude) const {
    for (const HostIndex h : set_->fallback) {
        if (hosts_[h]->refused_seq != 0) continue;
        if (std::find(exclude.begin(), exclude.end(), h) == exclude.end()) return h;
    }
    return kNoHost;
}

} // namespace haven::upstream
