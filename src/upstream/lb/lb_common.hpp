// Small helpers shared by the load-balancing algorithms in src/upstream/lb. Internal to this
// folder: other code uses load_balancer.hpp only.
#pragma once

#include "upstream/host.hpp"
#include "upstream/lb/load_balancer.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace haven::upstream::lb_detail {

// A linear search is the fastest choice here: `exclude` holds the hosts already tried for one
// request, which the retry policy bounds to a handful.
inline bool is_excluded(std::span<const HostIndex> exclude, HostIndex host) {
    return std::find(exclude.begin(), exclude.end(), host) != exclude.end();
}

// The caller (the host set) filters weight-0 (drained) servers before set_hosts(); dropping any
// that slip through keeps every algorithm free of divisions by zero and of hosts that must not
// take traffic.
inline std::vector<LbEntry> usable_entries(std::span<const LbEntry> hosts) {
    std::vector<LbEntry> out;
    out.reserve(hosts.size());
    for (const auto& e : hosts) {
        if (e.weight > 0) out.push_back(e);
    }
    return out;
}

// `active` is indexed by HostIndex and maintained by the caller; a host past its end has nothing
// recorded in flight (e.g. a server added by a reload before the counters were resized).
inline std::uint64_t active_of(const ActiveCounts& active, HostIndex host) {
    return host < active.size() ? active[host] : 0;
}

// True when (load_a / weight_a) < (load_b / weight_b), by cross-multiplication so no floating
// point is needed. load <= 2^32 and weight < 2^32, so each product fits in 64 bits.
inline bool lighter(std::uint64_t load_a, std::uint32_t weight_a, std::uint64_t load_b,
                    std::uint32_t weight_b) {
    return load_a * weight_b < load_b * weight_a;
}

} // namespace haven::upstream::lb_detail
