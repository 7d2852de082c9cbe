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

    std::shared_ptr<const HostSet> set_;
    DeadlineList& deadlines_;
    Random& random_;
    ActiveCounts active_; // indexed by HostIndex, read by the load balancer
    std::unique_ptr<LoadBalancer> lb_;
    std::vector<HostRuntime*> hosts_; // owned; retired ones are freed by their last release()
    RetryBudget budget_;
    std::uint32_t users_ = 0;
    std::size_t worker_;
};

} // namespace haven::upstream
