// One worker's live view of every pool: the current HostSet snapshot, the load balancer built
// from it, requests in flight per server, and idle connections per server. Owned and used by one
// worker thread only; snapshots arrive by post() from the control thread.
#pragma once

#include "core/deadlines.hpp"
#include "core/random.hpp"
#include "upstream/conn_pool.hpp"
#include "upstream/host_set.hpp"
#include "upstream/lb/load_balancer.hpp"
#include "upstream/retry/budget.hpp"

#include <memory>
#include <span>
#include <vector>

namespace haven::upstream {

// Per-worker state of one server. It outlives snapshot changes while requests still use it: a
// request holds a lease (acquire/release) so its in-flight count lands on the right server even if
// the pool was reconfigured meanwhile.
struct HostRuntime {
    explicit HostRuntime(std::unique_ptr<ConnPool> c) : conns(std::move(c)) {}
    HostIndex index = kNoHost; // position in the current snapshot; kNoHost once retired
    std::uint32_t active = 0;  // requests in flight
    std::uint32_t leases = 0;  // requests holding a pointer to this object
    std::unique_ptr<ConnPool> conns;
    const HostInfo* info = nullptr; // valid while not retired (points into the current snapshot)
    HostCounters* counters = nullptr; // this worker's slot of the server's metrics
    std::shared_ptr<HostMetrics> metrics; // keeps `counters` valid after the server left the pool
    // Nonzero while this worker does not pick the server because a connect to it was refused:
    // the refusal's sequence number (HostSignals::on_refused), until a snapshot whose
    // HostInfo::refusals_cleared reaches it.
    std::uint64_t refused_seq = 0;
};

class PoolRuntime {
public:
    PoolRuntime(std::shared_ptr<const HostSet> set, DeadlineList& deadlines, Random& random, std::size_t worker);
    ~PoolRuntime();
    PoolRuntime(const PoolRuntime&) = delete;
    PoolRuntime& operator=(const PoolRuntime&) = delete;

    // Adopts a new snapshot of the same pool. Servers keep their idle connections and in-flight
    // counts when their name and address are unchanged; others start fresh.
    void update(std::shared_ptr<const HostSet> set);

    HostIndex pick(const PickRequest& r) { return lb_->pick(r); }
    // Where a retry goes when pick() found nothing: the best usable server outside the serving
    // tier that this request has not tried and this worker has not seen refuse (HostSet::fallback).
    HostIndex fallback(std::span<const HostIndex> exclude) const;

    // A connect to h was refused (nothing listens there): a definitive failure, so this worker
    // stops picking h now, without waiting for the control thread; the control thread learns it
    // from HostSignals::refusals, takes h out for every worker and checks it. No lock: the
    // balancer is rebuilt without h, as on any snapshot change (off the common path: once per
    // refusal, and a refused server is not picked again).
    void on_refused(HostRuntime* r);
    // Servers this worker does not pick because of a refusal not yet answered by a check.
    std::uint32_t refused_count() const { return refused_count_; }
    // Whether a retry would find a server: one the balancer may pick (possibly one already
    // tried, which the pick stage falls back to), or a fallback not tried.
    bool has_candidate(std::span<const HostIndex> tried) const {
        return set_->eligible.size() > refused_eligible_ || fallback(tried) != kNoHost;
    }
    const HostSet& hosts() const { return *set_; }
    const std::shared_ptr<const HostSet>& snapshot() const { return set_; }
    HostRuntime& host(HostIndex h) { return *hosts_[h]; }

    // A request starts on host h: counts it in flight and leases its runtime.
    HostRuntime* acquire(HostIndex h) {
        HostRuntime* r = hosts_[h];
        ++r->active;
        ++r->leases;
        ++active_[h];
        r->counters = &r->info->metrics->at(worker_);
        r->counters->attempts.inc();
        r->counters->active.inc();
        return r;
    }
    void release(HostRuntime* r) {
        --r->active;
        --r->leases;
        r->counters->active.dec();
        if (r->index != kNoHost) {
            --active_[r->index];
        } else if (r->leases == 0) {
            delete r;
        }
    }
    std::uint32_t active(HostIndex h) const { return active_[h]; }

    // This worker's retry budget for the pool.
    RetryBudget& budget() { return budget_; }
    // Requests (and TCP connections) using this pool: it is kept alive until they end, even if
    // a reload removes it.
    void hold() { ++users_; }
    void drop() { --users_; }
    bool in_use() const { return users_ > 0; }

private:
    std::unique_ptr<ConnPool> make_conn_pool() const;
    void retire(HostRuntime* r);
    // Gives the balancer the snapshot's eligible servers less those this worker saw refuse.
    void rebuild_balancer();

    std::shared_ptr<const HostSet> set_;
    DeadlineList& deadlines_;
    Random& random_;
    ActiveCounts active_; // indexed by HostIndex, read by the load balancer
    std::unique_ptr<LoadBalancer> lb_;
    std::vector<HostRuntime*> hosts_; // owned; retired ones are freed by their last release()
    std::uint32_t refused_count_ = 0;
    std::size_t refused_eligible_ = 0; // of the snapshot's eligible servers
    RetryBudget budget_;
    std::uint32_t users_ = 0;
    std::size_t worker_;
};

} // namespace haven::upstream
