// Load balancers choose one server for a request among the eligible ones.
//
// One instance lives in each worker thread per pool, so pick() needs no locks. set_hosts() is
// called off the request path whenever the eligible set or weights change (health, drain, slow
// start); pick() is the hot path: O(1) or O(log n), no allocation.
// One algorithm per file: round_robin.cpp, least_conn.cpp, p2c.cpp, hash.cpp (Maglev).
#pragma once

#include "config/schema.hpp"
#include "core/random.hpp"
#include "upstream/host.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace haven::upstream {

// Requests in flight per host (indexed by HostIndex) in this worker, maintained by the caller;
// least-connections and power-of-two-choices read it.
using ActiveCounts = std::vector<std::uint32_t>;

class LoadBalancer {
public:
    virtual ~LoadBalancer() = default;
    // Replace the eligible hosts. Entries have weight > 0 and distinct host indices.
    virtual void set_hosts(std::span<const LbEntry> hosts) = 0;
    // The chosen host, or kNoHost when no eligible host remains after `exclude`.
    virtual HostIndex pick(const PickRequest& request) = 0;
};

// `active` and `random` must outlive the balancer.
std::unique_ptr<LoadBalancer> make_load_balancer(config::Balance algorithm, const ActiveCounts& active,
                                                 Random& random);

std::unique_ptr<LoadBalancer> make_round_robin();
std::unique_ptr<LoadBalancer> make_least_conn(const ActiveCounts& active);
std::unique_ptr<LoadBalancer> make_p2c(const ActiveCounts& active, Random& random);
std::unique_ptr<LoadBalancer> make_maglev();

// 64-bit hash of a key (source address, header value, cookie value, path) for PickRequest::hash.
std::uint64_t hash_key(std::string_view key);

} // namespace haven::upstream
