// RoutePolicies: one route's policies compiled for the request path — its JWT check
// (jwt/authenticator.hpp), its rate-limit tables (the
// listener's defaults and its own, enforced together), its circuit breaker's gate, its fault
// injection and its fallback reply. Shared by every worker; whatever changes at run time (the
// breaker's state, faults switched on through the admin API) is in atomics the request path reads
// with relaxed loads.
//
// PolicyStore (policy_store.hpp) builds them and keeps them across reloads while a route's policy
// is unchanged, so limit counters and breaker state survive a reload.
#pragma once

#include "config/schema.hpp"
#include "core/counters.hpp"
#include "policy/bulkhead.hpp"
#include "policy/jwt/authenticator.hpp"
#include "policy/rate_limit.hpp"
#include "policy/stale_cache.hpp"
#include "upstream/circuit/breaker.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace haven::policy {

// One rate-limit table and how a request's key is found.
struct RateLimiter {
    std::string id; // "<listener>:<route position>:listener|route" (the listener's default or the route's own)
    config::LimitKey key;
    std::vector<std::string> trusted_proxies; // as written; parsed into `trusted`
    struct Net {
        unsigned char bytes[16];
        unsigned prefix; // bits
        bool v4;
    };
    std::vector<Net> trusted;
    std::vector<config::RateSpec> specs;
    std::unique_ptr<LimitTable> table;
    std::size_t claim = SIZE_MAX; // key claim:NAME: the claim's index in the route's JWT check
};

// A fault in force: written by the control thread (config, admin API), read per request.
struct FaultState {
    std::atomic<std::uint32_t> abort_permyriad{0}; // out of 10000
    std::atomic<std::uint32_t> abort_status{503};
    std::atomic<std::uint32_t> delay_permyriad{0};
    std::atomic<std::uint32_t> delay_ms{0};
    std::atomic<std::uint32_t> max_active{1000};
    std::atomic<std::uint32_t> active{0}; // requests held by a delay now
    bool any() const {
        return abort_permyriad.load(std::memory_order_relaxed) != 0 || delay_permyriad.load(std::memory_order_relaxed) != 0;
    }
};

// What the route counts (per worker slots, summed at scrape time).
struct PolicyCounters {
    Counter rate_limited;   // answered 429
    Counter rate_delayed;   // held, then served
    Counter breaker_rejected;
    Counter faults_aborted;
    Counter faults_delayed;
    Counter degraded;       // answered by the fallback
    Counter bulkhead_rejected; // the bulkhead was full (queue full, or the queue timeout passed)
    Counter bulkhead_queued;   // waited for a slot
    Counter stale_served;      // answered with a stale copy (stale_if_error)
};

struct RoutePolicies {
    RoutePolicies(std::string listener, std::string route, std::size_t workers)
        : listener_name(std::move(listener)), route_name(std::move(route)), counters(workers) {}

    std::string listener_name;
    std::string route_name;  // position in the listener's routes, as in the route metrics
    std::unique_ptr<jwt::Authenticator> jwt; // null: none
    std::vector<RateLimiter> limiters;
    std::unique_ptr<Bulkhead> bulkhead; // null: none
    Duration queue_timeout{0};
    // The route's breaker (null: none) and what counts as a failure for it.
    std::shared_ptr<upstream::BreakerGate> breaker;
    std::uint32_t breaker_probes = 1;
    std::uint32_t breaker_failure_on = 0; // config::RetryOn bits
    Duration breaker_slow_call{0};
    FaultState fault;
    std::shared_ptr<const config::FallbackPolicy> fallback; // null: none
    // fallback.stale_if_error: one cache per worker thread, indexed by the worker (empty: none).
    std::vector<std::unique_ptr<StaleCache>> stale;
    PerWorker<PolicyCounters> counters;
    // One counter summed over the workers (for metrics and the control thread's episodes).
    std::uint64_t total(Counter PolicyCounters::*field) const {
        std::uint64_t n = 0;
        for (std::size_t w = 0; w < counters.size(); ++w) n += (counters.at(w).*field).get();
        return n;
    }
    // Whether the request path has anything to do here (checked first, so an unconfigured route
    // costs one load). Set by the control thread when a policy or a runtime fault applies.
    std::atomic<bool> active{false};
    bool header_faults = false; // the route lets requests ask for faults (x-haven-fault-*)
};

} // namespace haven::policy
