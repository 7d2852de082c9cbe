// ResourceLimits: Envoy-style caps on what one pool may use at once, for the whole process —
// requests in flight, upstream connections open, retries in flight (`pools[].resource_limits`).
// Over a cap a request is answered 503 at once (flag "overflow") or by the route's fallback;
// nothing queues here (a route's bulkhead is the cap that queues). Not to be confused with the
// CircuitBreaker (failure-driven) or outlier detection (per server).
//
// The counters are atomics shared by every worker: one add and one subtract per configured cap
// on the request path; a pool without caps has no ResourceLimits at all.
#pragma once

#include <atomic>
#include <cstdint>

namespace haven::upstream {

struct ResourceCaps {
    std::uint32_t max_requests = 0;    // 0: no cap
    std::uint32_t max_connections = 0; // upstream connections open (idle ones included)
    std::uint32_t max_retries = 0;     // retries in flight
    bool operator==(const ResourceCaps&) const = default;
};

class ResourceLimits {
public:
    explicit ResourceLimits(const ResourceCaps& caps) : caps_(caps) {}

    bool acquire_request() { return acquire(requests_, caps_.max_requests, overflow_requests_); }
    void release_request() { release(requests_, caps_.max_requests); }
    bool acquire_connection() { return acquire(connections_, caps_.max_connections, overflow_connections_); }
    void release_connection() { release(connections_, caps_.max_connections); }
    bool acquire_retry() { return acquire(retries_, caps_.max_retries, overflow_retries_); }
    void release_retry() { release(retries_, caps_.max_retries); }

    const ResourceCaps& caps() const { return caps_; }
    std::uint32_t requests() const { return requests_.load(std::memory_order_relaxed); }
    std::uint32_t connections() const { return connections_.load(std::memory_order_relaxed); }
    std::uint32_t retries() const { return retries_.load(std::memory_order_relaxed); }
    std::uint64_t overflow_requests() const { return overflow_requests_.load(std::memory_order_relaxed); }
    std::uint64_t overflow_connections() const { return overflow_connections_.load(std::memory_order_relaxed); }
    std::uint64_t overflow_retries() const { return overflow_retries_.load(std::memory_order_relaxed); }

private:
    // Rules: no cap (0) always succeeds and counts nothing; otherwise a slot is taken only while
    // fewer than `cap` are held, and a refusal is counted.
    static bool acquire(std::atomic<std::uint32_t>& n, std::uint32_t cap, std::atomic<std::uint64_t>& overflow) {
        if (cap == 0) return true;
        if (n.fetch_add(1, std::memory_order_acq_rel) < cap) return true;
        n.fetch_sub(1, std::memory_order_acq_rel);
        overflow.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    static void release(std::atomic<std::uint32_t>& n, std::uint32_t cap) {
        if (cap != 0) n.fetch_sub(1, std::memory_order_acq_rel);
    }

    ResourceCaps caps_;
    std::atomic<std::uint32_t> requests_{0};
    std::atomic<std::uint32_t> connections_{0};
    std::atomic<std::uint32_t> retries_{0};
    std::atomic<std::uint64_t> overflow_requests_{0};
    std::atomic<std::uint64_t> overflow_connections_{0};
    std::atomic<std::uint64_t> overflow_retries_{0};
};

} // namespace haven::upstream
